"""Run every figure against its baseline in one go, print the table, write BENCHMARKS.md.

Two brokers, one after the other, so the figures do not share a broker's memory:

1. the pipeline: the history topic pre-loaded; the pure fold, replay's fold and the core step in
   memory; a plain read-and-decode and `complaintflow replay` (and its start-up, on an empty
   topic); the aiokafka loop, with and without a changelog; the Faust worker from assignment to
   the last state record; then latency at a steady rate, through the worker and through the loop
   (figures 1, 2, 4);
2. many open complaints: the worker's RSS and idle CPU before and after loading them, breaches
   falling due a little later, and a restart that restores the tables (figures 3, 5, 6).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from benchmarks import alerts, latency, memory, recovery, replay, streams, throughput
from benchmarks.core import messages as backlog_messages
from benchmarks.harness import (
    LOGS,
    Baseline,
    Ends,
    Worker,
    cpu_per_second,
    deployment,
    publish,
    rss_bytes,
    settled,
    tailing,
    wait_committed,
)
from benchmarks.report import Row
from services.broker import EmbeddedBroker, free_port
from services.rules import load_rulebook
from services.settings import Settings


@dataclass(frozen=True)
class Sizes:
    history_complaints: int
    latency_seconds: float
    open_complaints: int
    due_complaints: int
    idle_seconds: float
    cap_seconds: float
    rate: float = 500.0
    due_rate: float = 20.0


FULL = Sizes(history_complaints=20_000, latency_seconds=60, open_complaints=100_000, due_complaints=1_000,
             idle_seconds=30, cap_seconds=1800)  # fmt: skip
QUICK = Sizes(history_complaints=2_000, latency_seconds=6, open_complaints=10_000, due_complaints=100,
              idle_seconds=10, cap_seconds=300)  # fmt: skip


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def pipeline(sizes: Sizes, notes: list[str]) -> list[Row]:
    """Figures 1, 2 and 4 on one broker."""
    rules, now = load_rulebook(Settings()), datetime.now(UTC)
    say(f"simulating {sizes.history_complaints:,} complaints")
    recent = backlog_messages(sizes.history_complaints, now)
    final = streams.final_versions(streams.expected_versions(recent, rules))
    old = streams.encode(streams.history(8, sizes.history_complaints // 10, now))
    old_final = streams.final_versions(streams.expected_versions(old, rules))
    size = sum(len(value) for _, value in recent) / len(recent)
    notes.append(f"History: {len(recent):,} events of {len(final):,} complaints, {size:.0f} bytes on average.")
    say("pure fold, replay's fold and core step, in memory")
    fold, replay_fold = replay.fold_per_second(recent, rules), await replay.history_per_second(recent, rules)
    spared_fold = replay.fold_per_second(recent, rules, as_replay=True)
    (core, _), (_, old_alerts) = throughput.core_steps(recent, rules), throughput.core_steps(old, rules)
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-pipeline.log") as broker:
        main = await deployment(broker.bootstrap_servers, "bench")
        aged = await deployment(broker.bootstrap_servers, "aged")
        empty = await deployment(broker.bootstrap_servers, "empty")
        say(f"pre-loading {len(recent):,} + {len(old):,} events")
        ends, old_ends = await publish(main, recent), await publish(aged, old)
        count, old_count = sum(ends.values()), sum(old_ends.values())
        say("plain read+decode, then complaintflow replay; the same over the weeks-old events")
        read, raw = await replay.read_and_decode_per_second(main)
        if read != count:
            raise RuntimeError(f"read {read:,} of the {count:,} events pre-loaded")
        replayed = replay.replay_seconds(main, empty)
        old_read, old_raw = await replay.read_and_decode_per_second(aged)
        if old_read != old_count:
            raise RuntimeError(f"read {old_read:,} of the {old_count:,} weeks-old events pre-loaded")
        old_replayed, old_failed = replay.replay_once(aged, LOGS / "replay-aged.json")
        say("aiokafka loop, then with a changelog, then over the weeks-old events")
        pid = broker.pid
        plain = await throughput.loop_events_per_second(main, "loop", count, final, broker=pid)
        logged = await throughput.loop_events_per_second(
            main, "loop-changelog", count, final, changelog=True, broker=pid
        )
        old_plain = await throughput.loop_events_per_second(aged, "loop-aged", old_count, old_final, broker=pid)
        say("Faust worker over the pre-loaded topic, then over the weeks-old events")
        faust = await worker_throughput(main, "pipeline", ends, final, sizes.cap_seconds, pid)
        old_faust = await worker_throughput(aged, "aged", old_ends, old_final, sizes.cap_seconds, pid)
        faust_latency, loop_latency = await latencies(broker.bootstrap_servers, sizes)
    return [
        *throughput.rows(faust, plain, logged.rate, core, count, old_faust, old_plain.rate, old_count, old_alerts),
        *latency.rows(faust_latency, loop_latency, sizes.rate),
        *replay.rows(replayed, raw, replay_fold, fold, spared_fold, count),
        replay.aged_row(old_replayed, old_failed, old_raw, old_count),
    ]


async def worker_throughput(
    settings: Settings,
    name: str,
    ends: Ends,
    final: dict[bytes, int],
    cap: float,
    broker: int,
    *,
    module: str = "services.cli",
    environment: Mapping[str, str] | None = None,
) -> throughput.Measured:
    """A worker started as `python -m <module> worker` (see `Worker`) working its backlog to the end."""
    with Worker(settings, LOGS / f"worker-{name}.log", LOGS / f"data-{name}", module, environment) as worker:
        return await throughput.worker_events_per_second(worker, settings, ends, final, cap, broker)


async def latencies(bootstrap: str, sizes: Sizes) -> tuple[latency.Sample, latency.Sample]:
    """The same live stream (events happening as they are sent) through a fresh worker, then
    through the aiokafka loop."""
    rules, events, now = load_rulebook(Settings()), int(sizes.rate * sizes.latency_seconds), datetime.now(UTC)
    live = streams.encode(streams.retimed(streams.history(11, events // 4, now)[:events], now, 1 / sizes.rate))
    expected = streams.expected_versions(live, rules)
    worker_side, loop_side = await deployment(bootstrap, "live"), await deployment(bootstrap, "live-loop")
    with Worker(worker_side, LOGS / "worker-live.log", LOGS / "data-live") as worker:
        worker.start()
        await worker.logged(recovery.READY)
        say(f"latency at {sizes.rate:.0f} events/s through the worker")
        through_worker = await latency.latencies(worker_side, live, expected, sizes.rate)
    async with Baseline(loop_side, loop_side) as loop:
        await loop.line("ready", timeout=120)
        say(f"latency at {sizes.rate:.0f} events/s through the aiokafka loop")
        through_loop = await latency.latencies(loop_side, live, expected, sizes.rate)
    return through_worker, through_loop


async def open_complaints(sizes: Sizes, notes: list[str]) -> list[Row]:
    """Figures 3, 5 and 6 on one broker, one worker, restarted once."""
    rules, n = load_rulebook(Settings()), sizes.open_complaints
    opened = streams.encode(streams.open_complaints(21, n, datetime.now(UTC)))
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-open.log") as broker:
        settings = await deployment(broker.bootstrap_servers, "open")
        with Worker(settings, LOGS / "worker-open.log", LOGS / "data-open") as worker:
            worker.start()
            await worker.logged(recovery.READY)
            await settled(worker)
            rss_empty, cpu_empty = rss_bytes(worker.pid), await cpu_per_second(worker.pid, sizes.idle_seconds)
            say(f"loading {n:,} open complaints")
            started = time.time()
            await wait_committed(settings, settings.app_id, await publish(settings, opened), worker)
            loaded = n / (time.time() - started)
            notes.append(f"Loading {n:,} `received` events into a running worker: {loaded:,.0f} events/s.")
            await settled(worker)
            rss_open = rss_bytes(worker.pid)
            first_in = 5 + sizes.due_complaints * 0.02
            say(f"{sizes.due_complaints:,} deadlines from {first_in:.0f} s on, {sizes.due_rate:g} a second")
            due = streams.due_soon(22, sizes.due_complaints, datetime.now(UTC), first_in, sizes.due_rate)
            async with tailing(settings, settings.topic("complaints.alerts")) as tail:
                await publish(settings, streams.encode(due))
                timeout = first_in + sizes.due_complaints / sizes.due_rate + 60
                delays = await alerts.breach_delays(tail, {key for key, _ in streams.encode(due)}, timeout)
            await settled(worker)
            say("idle CPU with the complaints open")
            cpu_open = await cpu_per_second(worker.pid, sizes.idle_seconds)
            worker.stop()
            say("reading the changelogs, then restarting the worker")
            raw = await recovery.changelog_read(settings)
            probe = streams.open_complaints(23, 1, datetime.now(UTC))[0]
            caught_up, ready = await recovery.restart_until_caught_up(worker, settings, probe)
            watched = await recovery.watched_after(worker)
            await settled(worker)  # the walk and the read model done, as before they ran beside the agents
            rss_restored = rss_bytes(worker.pid)
    stored = memory.stored_bytes(opened, rules)
    interval = Settings().alert_timer_interval_seconds
    return [
        *alerts.rows(delays, len(due), n + len(due), cpu_open, cpu_empty, interval),
        *memory.rows(rss_empty, rss_open, n, stored, rss_restored),
        *recovery.rows(caught_up, ready, watched, raw, n + len(due)),
    ]


async def run(sizes: Sizes) -> tuple[list[Row], list[str], dict[str, object]]:
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):  # each run's logs alone
        old.unlink()
    notes: list[str] = []
    rows = await pipeline(sizes, notes)
    rows += await open_complaints(sizes, notes)
    order = {figure: n for n, figure in enumerate(["1", "2", "3", "4", "5", "6"])}
    rows.sort(key=lambda row: order[row.figure[0]])
    return rows, notes, asdict(sizes)
