"""`python -m benchmarks.pipeline`: figure 1 on its own, for measuring a change to the worker.

One fresh embedded broker, figure 1's backlog (the last ten minutes' events of `--complaints`
complaints); then, `--rounds` times, the backlog pre-loaded into a fresh deployment, and the
aiokafka loop and the Faust worker each work it through from assignment to the last state record.
Prints each run's events/s and CPU milliseconds per event (the process's and the broker's), and
the worker's ratio to the loop of the same round. On shared cores compare CPU per
event: a neighbour moves the rates by a third between identical runs, CPU per event by a few percent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from benchmarks import core, streams, throughput
from benchmarks.harness import LOGS, deployment, publish
from benchmarks.runner import worker_throughput
from benchmarks.throughput import Measured
from services.broker import EmbeddedBroker, free_port
from services.rules import load_rulebook
from services.settings import Settings


def line(name: str, measured: Measured) -> str:
    spent = measured.spent
    cpu = "" if spent is None else f"; CPU/event {spent.process:.3f} ms, broker {spent.broker:.3f} ms"
    if spent is not None and spent.collector is not None:
        cpu += f", of the worker's the collector {spent.collector:.3f} ms"
    return f"{name:<7}{measured.rate:>8,.0f} events/s{cpu}{'; ' + measured.note if measured.note else ''}"


async def run(complaints: int, rounds: int, cap_seconds: float) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    rules, now = load_rulebook(Settings()), datetime.now(UTC)
    recent = core.messages(complaints, now)
    final = streams.final_versions(streams.expected_versions(recent, rules))
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-figure1.log") as broker:
        for n in range(1, rounds + 1):
            source = await deployment(broker.bootstrap_servers, f"figure1-{n}")
            ends = await publish(source, recent)
            loop = await throughput.loop_events_per_second(source, f"loop-{n}", len(recent), final, broker=broker.pid)
            print(line("loop", loop), flush=True)
            faust = await worker_throughput(source, f"figure1-{n}", ends, final, cap_seconds, broker.pid)
            print(line("worker", faust), flush=True)
            cpu = ""
            if faust.spent is not None and loop.spent is not None:
                cpu = f", CPU/event {faust.spent.process / loop.spent.process:.2f}×"
            print(f"round {n}: worker/loop {faust.rate / loop.rate:.2f}×{cpu}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=2000, help="2,000 is bench-quick's size, 20,000 the full")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cap-seconds", type=float, default=600.0)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.complaints, arguments.rounds, arguments.cap_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
