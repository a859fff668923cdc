"""Figure 1, pipeline throughput: a pre-loaded complaints.events topic, timed from partition
assignment until the last complaint's state record is published; the Faust worker against the
plain aiokafka loop (benchmarks/baseline.py) over the same topic, and the core alone in memory.

Two backlogs: the last ten minutes' (the main figure), and weeks-old history, where the live worker
judges every event at the wall clock before the complaint's next events have arrived: clocks
long met look breached, and the alerts raised and then retracted dominate the work.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import orjson

from benchmarks.harness import Baseline, Ends, Worker, cpu_seconds, deployment, state_published, wait_committed
from benchmarks.report import Row
from benchmarks.streams import Event, Message, retimed
from events.codec import decode_keyed_event, for_orjson
from projections import case as cases
from projections.case import Case, Rulebook
from services.cases import encode_stored
from services.settings import Settings
from services.shares import PartitionShares

FIGURE = "1 throughput"
ASSIGNED = "Setting newly assigned partitions"
BACKLOG = timedelta(minutes=10)
"""How far back the pre-loaded events happened: short enough that no clock looks breached while
the worker catches up (the weeks-old slice shows what happens when they do)."""


class Spent(NamedTuple):
    """CPU milliseconds per event, from assignment to the last state record: the process under
    test (user + system, all threads) and the broker meanwhile (Tansu shares the cores)."""

    process: float
    broker: float
    collector: float | None = None
    """The worker's: what of `process` went to Python's garbage collector (its /metrics)."""


class Measured(NamedTuple):
    rate: float
    """events/s"""
    note: str
    """what to know about it"""
    spent: Spent | None = None


def backlog(history: list[Event], now: datetime) -> list[Event]:
    """The history's events, same order, spread evenly over the `BACKLOG` before `now`."""
    return retimed(history, now - BACKLOG, BACKLOG.total_seconds() / len(history))


def core_steps(messages: list[Message], rules: Rulebook) -> tuple[float, float]:
    """(events/s, alerts per event) of the agent's per-event work with no Kafka at all: decode,
    accept, assess at the wall clock, the state record, the workload shares counted, the table
    bytes. The ceiling of any pipeline built on this core. The table bytes are made at every event,
    as the worker did until it saved its changed cases once per commit (docs/performance.md,
    "Writing the table once per commit"); kept so for comparison with earlier runs, which puts
    this ceiling ~25 µs an event on the low side for the worker now."""
    held: dict[str, Case] = {}
    shares = PartitionShares()
    alerts = 0
    started = time.perf_counter()
    for key, value in messages:
        event = decode_keyed_event(key, value)
        before = held.get(event.complaint_id)
        after = cases.accept_event(before, event, rules)
        now = datetime.now(UTC)
        assessment = cases.assess(after, rules, now)
        case = held[event.complaint_id] = assessment.settled.case
        alerts += len(assessment.settled.raised) + len(assessment.settled.retracted)
        orjson.dumps(cases.to_record(case, rules, now, assessment.views, instant=for_orjson))
        standing = cases.standing(case, rules, now, assessment.views)
        shares.count(0, before, case, cases.departments_touched(before, case), standing)
        encode_stored(0, case)
    return len(messages) / (time.perf_counter() - started), alerts / len(messages)


async def loop_events_per_second(
    source: Settings, name: str, events: int, final: Mapping[bytes, int], *, changelog: bool = False, broker: int
) -> Measured:
    """The aiokafka loop over `source`'s events, writing to its own deployment `name`; `broker` is
    the broker's pid, whose CPU is counted from the loop's start to the last state record."""
    target = await deployment(source.bootstrap_servers, name)
    broker_before = cpu_seconds(broker)
    async with Baseline(source, target, events=events, changelog=changelog) as baseline:
        result = await baseline.line("consumed", timeout=3600)
    finished = await state_published(target, final)
    spent = Spent(1000 * float(result["cpu_seconds"]) / events, 1000 * (cpu_seconds(broker) - broker_before) / events)
    return Measured(events / (finished - float(result["assigned_at"])), "", spent)


async def worker_events_per_second(
    worker: Worker, settings: Settings, ends: Ends, final: Mapping[bytes, int], cap_seconds: float, broker: int
) -> Measured:
    """Start the worker on the pre-loaded topic; events/s from its assignment to the last state
    record, or, if it has not finished within `cap_seconds`, the rate of what it committed; and
    the CPU the worker and the broker (pid `broker`) spent meanwhile."""
    worker.start()
    assigned_at = await worker.logged(ASSIGNED)
    before = Spent(cpu_seconds(worker.pid), cpu_seconds(broker), await worker.collector_seconds())
    total = sum(ends.values())
    done = await wait_committed(settings, settings.app_id, ends, worker, timeout=cap_seconds)
    if done < total:
        rate = done / (time.time() - assigned_at)
        return Measured(rate, f"unfinished: {done:,} of {total:,} events committed after {cap_seconds / 60:.0f} min")
    finished = await state_published(settings, final)
    worker_cpu, broker_cpu = cpu_seconds(worker.pid) - before.process, cpu_seconds(broker) - before.broker
    collected, collected_before = await worker.collector_seconds(), before.collector
    collector = None if collected is None or collected_before is None else 1000 * (collected - collected_before) / total
    spent = Spent(1000 * worker_cpu / total, 1000 * broker_cpu / total, collector)
    return Measured(total / (finished - assigned_at), "", spent)


def rows(
    faust: Measured, plain: Measured, with_changelog: float, core: float, events: int, old: Measured,
    old_plain: float, old_events: int, old_alerts: float,
) -> list[Row]:  # fmt: skip
    loop, minutes = "aiokafka loop", BACKLOG // timedelta(minutes=1)
    return [
        Row(FIGURE, f"Faust worker, {events:,} events of the last {minutes} min", faust.rate, "events/s", plain.rate,
            loop, "; ".join(filter(None, ["assignment → last state record; the loop: same core, a dict of cases, "
                                          "no changelog, no SLA timer, no workload agent", faust.note]))),
        *cpu_rows(faust.spent, plain.spent),
        Row(FIGURE, "aiokafka loop + changelog", with_changelog, "events/s", plain.rate, loop,
            "the same loop also producing each changed case's table bytes to a changelog topic"),
        Row(FIGURE, "core step alone, in memory", core, "events/s", plain.rate, loop,
            "decode, accept, assess, records, shares counted; no Kafka: the ceiling of this core"),
        Row(FIGURE, f"Faust worker, {old_events:,} weeks-old events", old.rate, "events/s", old_plain,
            "aiokafka loop, same events", "; ".join(filter(None, [
                f"judged at the wall clock: {old_alerts:.1f} alerts raised or retracted per event", old.note]))),
    ]  # fmt: skip


def cpu_rows(worker: Spent | None, loop: Spent | None) -> list[Row]:
    """Where figure 1's time goes: CPU per event of the worker and of the broker, against the loop's run."""
    note = "user + system CPU from assignment to the last state record, all threads, per event"
    return [
        Row(FIGURE, "CPU per event: the Faust worker", worker and worker.process, "ms", loop and loop.process,
            "aiokafka loop", note if worker else "the worker did not finish"),
        Row(FIGURE, "CPU per event: the broker meanwhile", worker and worker.broker, "ms", loop and loop.broker,
            "broker during the loop", "Tansu, on the same 2 cores: what each client's traffic costs it"),
    ]  # fmt: skip
