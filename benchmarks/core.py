"""`python -m benchmarks.core`: the pure core alone, in memory, no broker: the two figures of
issue 7 that measure it (the fold of figure 4, the core step of figure 1) over the bench's own
inputs, quick enough to run after every change; `--profile` adds where the time goes (cProfile).

The inputs are `benchmarks/runner.py`'s: the seeded history of `--complaints` complaints, retimed
into the ten minutes before now (the backlog of figure 1), encoded as the channels send them.
Each figure is the best of `--repeat` runs, so a neighbour's burst on a shared machine does not
decide it. The fold is measured twice: with the collector as it comes (figure 4's row, whose
full collections also walk the 22,737 decoded events held for the run), and with the collector
as replay's fold runs it (`services.replay.spared_collector`: what is held frozen, young garbage
collected as usual). `--profile` also runs the fold with the garbage collector off: not a figure
(the worker and replay run with it on), but how much of the fold's time its collections take.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from benchmarks import replay, streams, throughput
from benchmarks.streams import Message
from projections.case import Rulebook
from services.rules import load_rulebook
from services.settings import Settings


def messages(complaints: int, now: datetime) -> list[Message]:
    """The bench's backlog: `complaints` simulated complaints, spread over the ten minutes before `now`."""
    return streams.encode(throughput.backlog(streams.history(7, complaints, now), now))


def best(runs: int, measure: Callable[[], float]) -> float:
    """The highest of `runs` measurements: the one least disturbed by whatever else ran."""
    return max(measure() for _ in range(runs))


def profiled(measure: Callable[[], object], top: int) -> str:
    """cProfile's `top` functions by their own time while `measure` runs."""
    profiler = cProfile.Profile()
    profiler.runcall(measure)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def without_collector(measure: Callable[[], float]) -> float:
    """`measure()` with the garbage collector off, and back on whatever happens."""
    gc.disable()
    try:
        return measure()
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions of each figure")
    parser.add_argument("--top", type=int, default=20)
    arguments = parser.parse_args(argv)
    rules: Rulebook = load_rulebook(Settings())
    backlog = messages(arguments.complaints, datetime.now(UTC))
    print(f"{len(backlog):,} events of {arguments.complaints:,} complaints")
    fold = best(arguments.repeat, lambda: replay.fold_per_second(backlog, rules))
    print(f"pure fold (accept_event):                      {fold:>9,.0f} events/s")
    spared = best(arguments.repeat, lambda: replay.fold_per_second(backlog, rules, as_replay=True))
    print(f"pure fold, collector as replay runs it:        {spared:>9,.0f} events/s")
    core = best(arguments.repeat, lambda: throughput.core_steps(backlog, rules)[0])
    print(f"core step (decode, accept, assess, records):   {core:>9,.0f} events/s")
    if arguments.profile:
        off = best(arguments.repeat, lambda: without_collector(lambda: replay.fold_per_second(backlog, rules)))
        print(f"pure fold, garbage collector off (diagnostic): {off:>9,.0f} events/s")
        print("\n== pure fold ==\n" + profiled(lambda: replay.fold_per_second(backlog, rules), arguments.top))
        print("\n== core step ==\n" + profiled(lambda: throughput.core_steps(backlog, rules), arguments.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
