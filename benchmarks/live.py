"""`python -m benchmarks.live`: live traffic at a steady rate through one fresh worker, and how
its latency moves second by second: figure 2 on its own, for finding why a worker falls behind.

Prints p50/p95/p99 (publish → visible on complaints.state), the median of each half second of
sends (a steady climb means the worker cannot keep up; a bump, a stall), and the CPU the worker and
the broker used meanwhile, in cores and per event (a worker behind its input with a core to spare
is waiting on something, not computing).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from datetime import UTC, datetime

from benchmarks import latency, streams
from benchmarks.harness import LOGS, Worker, cpu_seconds, deployment
from benchmarks.recovery import READY
from benchmarks.report import percentile
from services.broker import EmbeddedBroker, free_port
from services.rules import load_rulebook
from services.settings import Settings


def medians_by_slice(milliseconds: list[float], per_slice: int) -> list[float]:
    """The median of each consecutive slice of `per_slice` samples (records never seen count as infinite)."""
    return [statistics.median(milliseconds[i : i + per_slice]) for i in range(0, len(milliseconds), per_slice)]


async def run(rate: float, seconds: float) -> str:
    LOGS.mkdir(parents=True, exist_ok=True)
    rules, count, now = load_rulebook(Settings()), int(rate * seconds), datetime.now(UTC)
    live = streams.encode(streams.retimed(streams.history(11, count // 4, now)[:count], now, 1 / rate))
    expected = streams.expected_versions(live, rules)
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-live.log") as broker:
        settings = await deployment(broker.bootstrap_servers, "live")
        with Worker(settings, LOGS / "worker-live.log", LOGS / "data-live") as worker:
            worker.start()
            await worker.logged(READY)
            before, started = (cpu_seconds(worker.pid), cpu_seconds(broker.pid)), time.monotonic()
            sample = await latency.latencies(settings, live, expected, rate)
            elapsed = time.monotonic() - started
            used = (cpu_seconds(worker.pid) - before[0], cpu_seconds(broker.pid) - before[1])
    ms, steady = sample.milliseconds, sample.after(int(rate))
    slices = " ".join("∞" if math.isinf(m) else f"{m:.0f}" for m in medians_by_slice(ms, max(1, int(rate / 2))))
    return (
        f"{rate:.0f} events/s for {seconds:.0f} s: p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms; after the first second p99 {percentile(steady, 99):.0f} ms\n"
        f"median of each half second of sends (ms): {slices}\n"
        f"worker {used[0] / elapsed:.2f} cores ({1000 * used[0] / count:.2f} ms CPU/event), "
        f"broker {used[1] / elapsed:.2f} cores ({1000 * used[1] / count:.2f} ms CPU/event)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="events per second (default 500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send (default 10)")
    arguments = parser.parse_args()
    print(asyncio.run(run(arguments.rate, arguments.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
