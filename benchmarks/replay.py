"""Figure 4, replay: `complaintflow replay` over the pre-loaded topic, against a plain aiokafka
read-and-decode of the same topic; and the pure fold alone over the decoded events in memory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import LOGS, ROOT
from benchmarks.report import Row
from benchmarks.streams import Message
from events.codec import decode_keyed_event
from events.errors import Rejection
from projections.case import Case, Rulebook, accept_event
from services.clients import read_topic
from services.settings import Settings

FIGURE = "4 replay"


async def read_and_decode_per_second(settings: Settings) -> tuple[int, float]:
    """(events, events/s) of reading complaints.events to its end and decoding every message."""
    started, count = time.perf_counter(), 0
    async for record in read_topic(settings, settings.topic("complaints.events"), idle_seconds=2.0):
        if record.value is not None:
            with contextlib.suppress(Rejection):
                decode_keyed_event(record.key, record.value)
        count += 1
    return count, count / (time.perf_counter() - started)


def fold_per_second(messages: list[Message], rules: Rulebook) -> float:
    """Events/s of `accept_event` alone over events decoded beforehand (no Kafka, no decoding)."""
    events = [decode_keyed_event(key, value) for key, value in messages]
    held: dict[str, Case] = {}
    started = time.perf_counter()
    for event in events:
        with contextlib.suppress(Rejection):
            held[event.complaint_id] = accept_event(held.get(event.complaint_id), event, rules)
    return len(events) / (time.perf_counter() - started)


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


def replay_per_second(settings: Settings, events: int) -> tuple[float | None, str]:
    """(events/s, note) of `complaintflow replay --format json`, process start to exit; None with
    the reason when the command is not there yet or fails."""
    if _command(settings, "--help").returncode != 0:
        return None, "not available yet (no `complaintflow replay` in this tree)"
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = _command(settings, "--format", "json", output=LOGS / "replay.json")
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return None, f"failed (exit {done.returncode}): {reason[0][:120]}"
    return events / seconds, "process start to exit, output to a file"


def rows(replay: tuple[float | None, str], raw: float, fold: float, events: int) -> list[Row]:
    raw_what = "aiokafka read+decode"
    return [
        Row(FIGURE, f"complaintflow replay, {events:,} events", replay[0], "events/s", raw, raw_what, replay[1]),
        Row(FIGURE, "pure fold (accept_event) in memory", fold, "events/s", raw, raw_what,
            "decoded beforehand; no Kafka, no clocks evaluated"),
    ]  # fmt: skip
