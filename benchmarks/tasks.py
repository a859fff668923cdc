"""`python -m benchmarks.tasks`: where the worker's CPU goes on figure 1's backlog, by what its
event loop runs, in CPU microseconds per event.

py-spy (`make profile`) counts samples, including while the worker waits for a core the broker or
a neighbour holds; this counts CPU time instead. A fresh embedded broker, figure 1's backlog (the
last ten minutes' events of `--complaints` complaints, as `benchmarks.pipeline`), one worker run
through `benchmarks.task_clock`, which adds up the thread CPU of every step of its event loop under
what that step runs. The table covers the events from a fifth to nine tenths of the backlog (the
worker's start and its last commit left out), and each row gives the CPU per event, how many steps
per event, and the CPU per step. The complaint agent's row includes the stream's hand-over of each
message; the consumer's (`Fetcher._fetcher`) the fetched records' conversion to Faust's messages and
their hand-over to the agent's queue; the producer's sender tasks the batches sent for every topic.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from benchmarks import core, streams
from benchmarks.harness import LOGS, deployment, publish
from benchmarks.runner import worker_throughput
from benchmarks.task_clock import TASK_CLOCK
from services.broker import EmbeddedBroker, free_port
from services.rules import load_rulebook
from services.settings import Settings


def per_event(totals: list[dict[str, Any]], first: int, last: int) -> tuple[int, float, list[tuple[str, float, float]]]:
    """(events, main thread µs per event, [(what ran, µs per event, steps per event)]) between the
    first totals at or past `first` events and the last at or before `last`."""
    start = next(line for line in totals if line["events"] >= first)
    end = [line for line in totals if line["events"] <= last][-1]
    events = end["events"] - start["events"]
    if events <= 0:
        raise RuntimeError(f"no events counted between {first:,} and {last:,}: a longer backlog is needed")
    rows = []
    for name, (seconds, steps) in end["spent"].items():
        seconds_before, steps_before = start["spent"].get(name, (0.0, 0))
        rows.append((name, 1e6 * (seconds - seconds_before) / events, (steps - steps_before) / events))
    rows.sort(key=lambda row: -row[1])
    return events, 1e6 * (end["main"] - start["main"]) / events, rows


async def run(complaints: int, top: int) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    rules, now = load_rulebook(Settings()), datetime.now(UTC)
    recent = core.messages(complaints, now)
    final = streams.final_versions(streams.expected_versions(recent, rules))
    out = LOGS / "task-clock.jsonl"
    out.unlink(missing_ok=True)
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-tasks.log") as broker:
        settings = await deployment(broker.bootstrap_servers, "tasks")
        ends = await publish(settings, recent)
        clock = {TASK_CLOCK: str(out)}
        measured = await worker_throughput(
            settings, "tasks", ends, final, 600.0, broker.pid, module="benchmarks.task_clock", environment=clock
        )
    print(f"the worker (timed per step, so a little slower): {measured.rate:,.0f} events/s", end="")
    print("" if measured.spent is None else f", CPU/event {measured.spent.process:.3f} ms")
    totals = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    events, main_thread, rows = per_event(totals, len(recent) // 5, len(recent) * 9 // 10)
    counted = sum(row[1] for row in rows)
    print(f"\n{events:,} events; the main thread {main_thread:.1f} µs CPU per event, all steps counted {counted:.1f}")
    print("\n| what the event loop ran | µs/event | steps/event | µs/step |\n|---|---:|---:|---:|")
    for name, micros, steps in rows[:top]:
        print(f"| `{name}` | {micros:.1f} | {steps:.3f} | {micros / steps if steps else 0:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tasks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=10000, help="figure 1's backlog of this many complaints")
    parser.add_argument("--top", type=int, default=20, help="rows to print")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.complaints, arguments.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
