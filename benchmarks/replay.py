"""Figure 4, replay: `complaintflow replay` over the pre-loaded topic, against a plain aiokafka
read-and-decode of the same topic; and, to show where replay's time goes, its start-up alone,
its rate without the start-up, its fold in memory (no Kafka, no start-up) and the pure fold alone.
Then a replay of figure 1's weeks-old events, against a read-and-decode of theirs: the backlog above
was re-timed into the last ten minutes, where few alerts fall due, and an audit replays weeks.

Replay is a short-lived process: at bench-quick's size its start-up (interpreter, imports, policy
files, consumer start, the end check) is a visible share of the whole, so it has a row of its own,
measured on an empty topic, and the whole run keeps its "process start to exit" row beside it.
`python -m benchmarks.replay_split` splits the same time further, phase by phase.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import LOGS, ROOT
from benchmarks.report import Row
from benchmarks.streams import Message
from events.codec import decode_keyed_event
from events.errors import Rejection
from projections.case import Case, Rulebook, accept_event
from projections.history import History, Horizon, Horizons, LoggedEvent
from services.clients import read_topic
from services.parallel_replay import default_jobs
from services.progress import Progress
from services.render import write_projections
from services.replay import FREEZE_EVERY, fold_log, spared_collector
from services.settings import Settings

FIGURE = "4 replay"
START_UP_RUNS = 3


@dataclass(frozen=True)
class Replayed:
    """`complaintflow replay` as a process: the whole run over the topic, and start-up alone."""

    seconds: float | None
    """Process start to exit over the pre-loaded topic; None when it failed (see `note`)."""
    start_up_seconds: float | None
    """Median of `START_UP_RUNS` replays of an empty topic: everything but the events."""
    note: str


async def read_and_decode_per_second(settings: Settings) -> tuple[int, float]:
    """(events, events/s) of reading complaints.events to its end and decoding every message."""
    started, count = time.perf_counter(), 0
    async for record in read_topic(settings, settings.topic("complaints.events"), idle_seconds=2.0):
        if record.value is not None:
            with contextlib.suppress(Rejection):
                decode_keyed_event(record.key, record.value)
        count += 1
    return count, count / (time.perf_counter() - started)


def fold_per_second(messages: list[Message], rules: Rulebook, *, as_replay: bool = False) -> float:
    """Events/s of `accept_event` alone over events decoded beforehand (no Kafka, no decoding).

    By default with the collector as it comes: its full collections walk the decoded inputs held
    for the run (a list replay never holds) and every case kept. `as_replay`: with the collector
    as replay's fold runs it (`services.replay.spared_collector`): the inputs and what is kept
    frozen before the clock starts, and what is kept frozen again every `FREEZE_EVERY` events."""
    events = [decode_keyed_event(key, value) for key, value in messages]
    held: dict[str, Case] = {}
    with spared_collector() if as_replay else contextlib.nullcontext(_collector_as_it_comes) as keep:
        keep()
        started = time.perf_counter()
        for done, event in enumerate(events, 1):
            with contextlib.suppress(Rejection):
                held[event.complaint_id] = accept_event(held.get(event.complaint_id), event, rules)
            if done % FREEZE_EVERY == 0:
                keep()
        return len(events) / (time.perf_counter() - started)


def _collector_as_it_comes() -> None:
    """Nothing kept out of the collector's sight."""


class _InMemory:
    """Log entries already in hand, as an `EventLog`."""

    def __init__(self, entries: list[LoggedEvent]) -> None:
        self.entries, self.total = entries, len(entries)

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for entry in self.entries:
            yield entry


async def history_per_second(messages: list[Message], rules: Rulebook) -> float:
    """Events/s of what replay does once the records are in hand: `fold_log` into a `History`
    (decode, fold, settle at each event and due instant) over log entries all published now, then
    the final settle at `--as-of` and the JSON output, as `run_replay` does them. No Kafka, no
    start-up: the ceiling of replay on this core."""
    published = int(time.time() * 1000)
    entries = [LoggedEvent(0, offset, published, key, value) for offset, (key, value) in enumerate(messages)]
    as_of = datetime.now(UTC)
    started = time.perf_counter()
    await replay_in_memory(entries, rules, as_of)
    return len(entries) / (time.perf_counter() - started)


async def replay_in_memory(entries: list[LoggedEvent], rules: Rulebook, as_of: datetime) -> None:
    """`complaintflow replay --as-of` over log entries in hand, output to nowhere: `fold_log` into a
    `History`, then the final settle and the JSON output, as `run_replay` does them."""
    log = _InMemory(entries)
    history = History(rules, Horizons(Horizon(as_of, occurred_by=as_of)))
    await fold_log(log, history, Progress(io.StringIO(), "replay", log.total))
    with spared_collector() as keep:
        keep()
        write_projections(io.StringIO(), history, as_of, None, "json")


def _command(settings: Settings, *arguments: str, output: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "COMPLAINTFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "COMPLAINTFLOW_APP_ID": settings.app_id,
    }
    with output.open("wb") if output else open(os.devnull, "wb") as out:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "replay", *arguments],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.PIPE, timeout=3600, check=False,
        )  # fmt: skip


def replay_once(settings: Settings, output: Path) -> tuple[float | None, str]:
    """(seconds, "") of `complaintflow replay --format json` to `output`, or (None, why it failed)."""
    started = time.perf_counter()
    done = _command(settings, "--format", "json", output=output)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return None, f"failed (exit {done.returncode}): {reason[0][:120]}"
    return seconds, ""


def replay_seconds(settings: Settings, empty: Settings) -> Replayed:
    """`complaintflow replay --format json` over `settings`' topic, process start to exit, and
    the median start-up over `empty`'s (topics created, no event)."""
    if _command(settings, "--help").returncode != 0:
        return Replayed(None, None, "not available yet (no `complaintflow replay` in this tree)")
    LOGS.mkdir(parents=True, exist_ok=True)
    start_ups = []
    for _ in range(START_UP_RUNS):
        seconds, failed = replay_once(empty, LOGS / "replay-empty.json")
        if seconds is None:
            return Replayed(None, None, failed)
        start_ups.append(seconds)
    seconds, failed = replay_once(settings, LOGS / "replay.json")
    return Replayed(seconds, statistics.median(start_ups), failed or "process start to exit, output to a file")


def aged_row(seconds: float | None, failed: str, raw: float, events: int) -> Row:
    """Replay of figure 1's weeks-old events (`replay_once`) against a read-and-decode of the same
    topic. The rows above replay the backlog of the last ten minutes, where few alerts fall due; an
    audit replays days and weeks of a log, where most settles raise or retract alerts."""
    rate = None if seconds is None else events / seconds
    note = failed or "process start to exit, output to a file; the log as it happened weeks ago: alerts at most settles"
    return Row(FIGURE, f"complaintflow replay, {events:,} weeks-old events", rate, "events/s", raw,
               "aiokafka read+decode, same events", note)  # fmt: skip


def rows(replayed: Replayed, raw: float, history: float, fold: float, spared: float, events: int) -> list[Row]:
    """Figure 4's rows. `fold` and `spared`: the pure fold with the collector as it comes, and as
    replay runs it (`fold_per_second`'s `as_replay`)."""
    raw_what = "aiokafka read+decode"
    whole, start_up = replayed.seconds, replayed.start_up_seconds
    rate = None if whole is None else events / whole
    without = None if whole is None or start_up is None or whole <= start_up else events / (whole - start_up)
    missing = "" if whole is not None else replayed.note
    jobs = default_jobs(events)
    whole_note = missing or f"{replayed.note}; `--jobs` left to its default: {jobs} process{'es' * (jobs > 1)} here"
    return [
        Row(FIGURE, f"complaintflow replay, {events:,} events", rate, "events/s", raw, raw_what, whole_note),
        Row(FIGURE, "replay start-up (empty topic)", start_up, "s", whole, "the whole replay above",
            missing or f"interpreter, imports, policy files, consumer, end check; median of {START_UP_RUNS}"),
        Row(FIGURE, "replay excluding start-up", without, "events/s", raw, raw_what,
            missing or "events ÷ (whole − start-up): fetch, decode, fold, settle, output"),
        Row(FIGURE, "replay's fold in memory (History)", history, "events/s", raw, raw_what,
            "in one process: decode, fold, settle at each event and due instant, final settle, JSON; no Kafka"),
        Row(FIGURE, "pure fold (accept_event) in memory", fold, "events/s", raw, raw_what,
            "decoded beforehand; no Kafka, no clocks evaluated; the collector as it comes, walking the decoded "
            "history held for the run"),
        Row(FIGURE, "pure fold, collector as replay runs it", spared, "events/s", raw, raw_what,
            "the same fold, with what it holds frozen out of the collector's sight as replay keeps it"),
    ]  # fmt: skip
