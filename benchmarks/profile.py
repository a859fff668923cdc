"""`python -m benchmarks.profile` (`make profile`): where a worker's time goes while it works a
backlog, sampled with py-spy; prints the tables docs/performance.md quotes.

A fresh embedded broker, the benchmark history (weeks old, or with `--recent` the last ten minutes'
figure 1 works) pre-loaded on complaints.events, one worker; once
it has started folding, py-spy samples it for `--seconds`. Each sample is counted once by its
innermost frame (what was running: our code, pydantic, Faust, aiokafka, the event loop, or
waiting for I/O) and once for each part of the work it was inside (the complaint agent, the pure
core, producing). The broker's own CPU is not in these samples.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import LOGS, Worker, deployment
from benchmarks.streams import history
from benchmarks.throughput import backlog
from services.broker import EmbeddedBroker, free_port
from services.clients import send_events

CORE = r"\((events|projections)/"
SERVICES: tuple[str, ...] = ("agents", "cases", "app", "feed", "readmodel", "webserver", "api", "pages")
SERVICES += ("delivery", "recovery", "metrics", "history", "access", "sse")
OURS = CORE + r"|\(services/|\((" + "|".join(SERVICES) + r")\.py"
"""py-spy names a module by its path below sys.path: `projections/sla.py`, or `agents.py` for the
services run as `python -m services.cli`."""
RUNNING: list[tuple[str, str]] = [
    ("our code (events/, projections/, services/)", OURS),
    ("pydantic", r"pydantic"),
    ("Faust", r"\(faust/"),
    ("mode (Faust's service framework)", r"\(mode/"),
    ("aiokafka", r"\(aiokafka/"),
    ("asyncio event loop", r"\(asyncio/"),
    ("waiting for I/O (selectors)", r"selectors"),
]
INSIDE: list[tuple[str, str]] = [
    ("the complaint agent (decode, fold, settle, publish)", r"fold_complaints \(agents\.py"),
    ("the workload agent", r"add_up_workloads \(agents\.py"),
    ("the pure core (decode, fold, SLA, records)", CORE),
    ("producing (Faust's send, aiokafka's producer)", r"\(aiokafka/producer|Topic\.publish_message|Producer\.send"),
    ("Faust's consumer, fetcher and conductor", r"Consumer\._drain_messages|Conductor|_fetcher|Fetcher"),
    ("the HTTP read model following the projection topics", r"ReadModelFeed"),
]


def summarise(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, by innermost frame, by part of the work) of a py-spy `--format raw` file."""
    running: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    total = 0
    for line in re.findall(r"(?s)(.*?) (\d+)\n", raw.read_text()):  # a frame's name may hold a line break
        stack, samples = line[0], int(line[1])
        total += samples
        leaf = stack.rsplit(";", 1)[-1]
        running[next((name for name, pattern in RUNNING if re.search(pattern, leaf)), "other")] += samples
        for name, pattern in INSIDE:
            if re.search(pattern, stack):
                inside[name] += samples
    return total, running, inside


async def profile(complaints: int, seconds: int, recent: bool) -> Path:
    with EmbeddedBroker(free_port(), log_path=LOGS / "profile-tansu.log") as broker:
        settings = await deployment(broker.bootstrap_servers, "profile")
        now = datetime.now(UTC)
        events = backlog(history(7, complaints, now), now) if recent else history(7, complaints, now)
        await send_events(settings, events)
        print(f"pre-loaded {len(events):,} events of {complaints:,} complaints", flush=True)
        with Worker(settings, LOGS / "profile-worker.log", LOGS / "profile-data").start() as worker:
            await worker.logged("Worker ready")
            raw = LOGS / "profile.txt"
            subprocess.run(
                [Path(sys.executable).with_name("py-spy"), "record", "--pid", str(worker.pid), "--duration",
                 str(seconds), "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(raw)],
                check=True, capture_output=True,
            )  # fmt: skip
        return raw


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=4000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--recent", action="store_true", help="the events happened in the last 10 minutes (figure 1's backlog)"
    )
    arguments = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    total, running, inside = summarise(asyncio.run(profile(arguments.complaints, arguments.seconds, arguments.recent)))
    print(f"\n{total:,} samples\n\n| running (innermost frame) | share |\n|---|---:|")
    for name, samples in running.most_common():
        print(f"| {name} | {100 * samples / total:.1f} % |")
    print("\n| inside | share |\n|---|---:|")
    for name, samples in inside.most_common():
        print(f"| {name} | {100 * samples / total:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
