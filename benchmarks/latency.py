"""Figure 2, latency: live traffic at a steady rate (each event happening as it is sent), from
publishing an event to its state record being visible on complaints.state to a plain consumer,
p50/p95/p99, and the p99 of what the events after the first second caused (the steady state: a
fresh worker's first second, its first sends to each topic and its read model starting, is most of
a short run's tail); a fresh Faust worker against the plain aiokafka loop, same rate, same broker."""

from __future__ import annotations

import asyncio
import math
from typing import NamedTuple

import orjson
from aiokafka import ConsumerRecord

from benchmarks.harness import publish_paced, tailing
from benchmarks.report import Row, percentile
from benchmarks.streams import Message
from services.settings import Settings

FIGURE = "2 latency"
GRACE_SECONDS = 60.0


class Sample(NamedTuple):
    milliseconds: list[float]
    """one per expected record; infinite for a record not seen within the wait"""
    waited: float
    sent: list[int]
    """for each of `milliseconds`, the position of its event in the stream sent"""

    def after(self, events: int) -> list[float]:
        """The latencies of the records caused by the events sent after the first `events`."""
        return [ms for ms, n in zip(self.milliseconds, self.sent, strict=True) if n >= events]


async def latencies(
    settings: Settings, messages: list[Message], expected: list[tuple[bytes, int] | None], rate: float
) -> Sample:
    """Publish `messages` at `rate`; for each expected (key, version), publish → visible in ms.
    Waits until the last is seen or `GRACE_SECONDS` after the last send."""
    wanted = {item: n for n, item in enumerate(expected) if item is not None}
    seen: dict[int, float] = {}

    def arrived(record: ConsumerRecord[bytes, bytes], seen_at: float) -> bool:
        if record.key is not None and record.value is not None:
            n = wanted.get((record.key, orjson.loads(record.value)["version"]))
            if n is not None:
                seen.setdefault(n, seen_at)
        return len(seen) == len(wanted)

    waited = len(messages) / rate + GRACE_SECONDS
    async with tailing(settings, settings.topic("complaints.state")) as tail:
        watching = asyncio.create_task(tail.collect(arrived, timeout=waited))
        try:
            sent_at = await publish_paced(settings, messages, rate)
            await watching
        finally:
            watching.cancel()
    order = list(wanted.values())
    return Sample([(seen[n] - sent_at[n]) * 1000 if n in seen else math.inf for n in order], waited, order)


def rows(faust: Sample, plain: Sample, rate: float) -> list[Row]:
    out = []
    for q in (50, 95, 99):
        value, baseline = percentile(faust.milliseconds, q), percentile(plain.milliseconds, q)
        notes = [f"{rate:.0f} events/s of live traffic; publish → visible on complaints.state"] if q == 50 else []
        for name, sample, shown in (("worker", faust, value), ("loop", plain, baseline)):
            if math.isinf(shown):
                unseen = sum(math.isinf(ms) for ms in sample.milliseconds) / len(sample.milliseconds)
                notes.append(f"{name}: {unseen:.0%} of records not visible within {sample.waited:.0f} s")
        out.append(Row(FIGURE, f"p{q}", _finite(value), "ms", _finite(baseline), "aiokafka loop", "; ".join(notes)))
    first = int(rate)
    steady, steady_plain = percentile(faust.after(first), 99), percentile(plain.after(first), 99)
    note = "the same samples without those of the first second's events (a fresh worker's first sends and reads)"
    out.append(
        Row(FIGURE, "p99 after the first second", _finite(steady), "ms", _finite(steady_plain), "aiokafka loop", note)
    )
    return out


def _finite(milliseconds: float) -> float | None:
    return None if math.isinf(milliseconds) else milliseconds
