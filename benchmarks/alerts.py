"""Figure 3, alert timeliness: with many complaints open, the delay between a deadline and its
`breached` alert, and the CPU the SLA timer costs per second while they wait.

The baselines: the timer's own interval (a breach raised within one tick is on time), and the
CPU of the same worker, idle, before any complaint was open.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from aiokafka import ConsumerRecord

from benchmarks.harness import Tail
from benchmarks.report import Row, percentile

FIGURE = "3 alerts"


async def breach_delays(tail: Tail, complaints: set[bytes], timeout: float) -> list[float]:
    """raised_at − deadline (seconds) of the assignment breach of each of `complaints`, as they
    arrive on complaints.alerts (`tail`), until all are in or `timeout` passes."""
    delays: dict[bytes, float] = {}

    def arrived(record: ConsumerRecord[bytes, bytes], seen_at: float) -> bool:
        if record.key in complaints and record.value:
            alert = orjson.loads(record.value)
            if alert["kind"] == "breached" and alert["clock"] == "assignment":
                late = datetime.fromisoformat(alert["raised_at"]) - datetime.fromisoformat(alert["deadline"])
                delays.setdefault(record.key, late.total_seconds())
        return len(delays) == len(complaints)

    await tail.collect(arrived, timeout)
    return list(delays.values())


def rows(
    delays: list[float], expected: int, open_complaints: int, cpu_open: float, cpu_empty: float, interval: float
) -> list[Row]:
    missing = "" if len(delays) == expected else f"; only {len(delays):,} of {expected:,} breaches raised"
    timer = f"{interval:g} s timer interval"
    note = f"{expected:,} deadlines among {open_complaints:,} open complaints{missing}"
    out = [
        Row(FIGURE, f"deadline → breached p{q}", percentile(delays, q) if delays else None, "s", interval, timer, note)
        for q in (50, 99)
    ]
    out.append(
        Row(FIGURE, f"worker CPU, idle, {open_complaints:,} open", cpu_open * 1000, "CPU ms/s", cpu_empty * 1000,
            "same worker, 0 open", "the SLA timer walks a deadline index; this is all the worker costs at rest")
    )  # fmt: skip
    return out
