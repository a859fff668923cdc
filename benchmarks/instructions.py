"""`python -m benchmarks.instructions [--complaints N]`: the core's work counted in machine instructions.

Why: on a shared host, wall-clock and CPU times of the same code move by a third from one run to
the next, which hides any change of a few percent. valgrind's callgrind counts every instruction
the interpreter runs, the same count to under 0.1 % from run to run (hash seed fixed, the cyclic
collector off), so two trees can be compared one after the other. Instructions are not time
(cache misses and branches are not in them), but for a change in Python or in the compiled core
they are the steadiest measure such a host offers (docs/performance.md, eighteenth session).

Each workload runs under callgrind twice, once with its work done `--passes` times and once
without (the same inputs built), and the difference is divided by the steps:

- `replay`: replay's fold and output over the bench's log (figure 1's backlog, every event logged
  at one instant), as figure 4's "replay's fold in memory" row does them
  (`benchmarks.replay.replay_in_memory`); per event;
- `replay-timed`: the same history logged as it happened, 0-4 s late: complaints are woken at
  their due instants between events, as replay does; per event;
- `step`: the live worker's core step on a case it holds (`accept_event` of the complaint's last
  event, `assess`, `to_record` and its JSON, as `services.agents.publish_case` writes it); per step;
- `loaded-step`: the same on the case read back from its table bytes (`load_case` included);
- `save`: the table value of each case the step made, as the worker writes it before a commit
  (`services.cases.encode_stored`: the case's JSON, `dump_case`, packed with zstd); per case;
- `decode`: the door every path goes through, `decode_keyed_event` of each message of the
  backlog (orjson, then pydantic's validator and the contract's own field validators); per message.

Needs valgrind (Debian: `apt-get install valgrind`); nothing here runs in `make test` or `make
bench`. Run it in two trees to compare them: it prints instructions, never a verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks import replay, streams, throughput
from benchmarks.streams import Event, Message
from events.codec import decode_keyed_event, for_orjson
from events.models import ComplaintEvent
from projections import case as cases
from projections.case import Rulebook
from projections.history import LoggedEvent
from services.cases import encode_stored
from services.rules import load_rulebook
from services.settings import Settings

WORKLOADS = ("replay", "replay-timed", "step", "loaded-step", "save", "decode")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
"""A fixed `now`: the inputs, and so the instructions, are the same on every run."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=500)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--workload", choices=WORKLOADS, action="append", help="default: all")
    parser.add_argument("--run", nargs=2, metavar=("WORKLOAD", "PASSES"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.run:  # under callgrind: build the inputs, do the work
        workload, passes = arguments.run
        gc.disable()  # its walks would count as the work's
        print(run(workload, arguments.complaints, int(passes)))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 1
    print(f"{'workload':<14} {'steps a pass':>12} {'instructions a pass':>20} {'a step':>10}")
    for workload in arguments.workload or WORKLOADS:
        idle, steps = counted(workload, arguments.complaints, 0)
        busy, _ = counted(workload, arguments.complaints, arguments.passes)
        a_pass = (busy - idle) / arguments.passes
        print(f"{workload:<14} {steps:>12,} {a_pass / 1e6:>18,.1f} M {a_pass / steps / 1e3:>8,.1f} k", flush=True)
    return 0


def counted(workload: str, complaints: int, passes: int) -> tuple[int, int]:
    """(instructions callgrind collected, steps a pass) for one run of `workload`."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={Path(scratch) / 'out'}",
            sys.executable, "-m", "benchmarks.instructions", "--complaints", str(complaints),
            "--run", workload, str(passes),
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"}
        )
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind reported no count:\n{done.stderr[-2000:]}")
    return int(collected.group(1)), int(done.stdout.strip())


def run(workload: str, complaints: int, passes: int) -> int:
    """Build `workload`'s inputs, do its work `passes` times; the number of steps a pass."""
    rules = load_rulebook(Settings())
    history = streams.history(7, complaints, NOW)
    if workload.startswith("replay"):
        return _replay(rules, history, timed=workload == "replay-timed", passes=passes)
    backlog = streams.encode(throughput.backlog(history, NOW))
    if workload == "decode":
        return _decoded(backlog, passes)
    if workload == "save":
        return _saved(rules, backlog, passes)
    return _steps(rules, backlog, loaded=workload == "loaded-step", passes=passes)


def _replay(rules: Rulebook, history: list[Event], *, timed: bool, passes: int) -> int:
    if timed:
        messages: list[Message] = streams.encode(history)
        late = random.Random(3)
        logged = [_milliseconds(event) + late.randint(0, 4000) for event in history]
    else:
        messages = streams.encode(throughput.backlog(history, NOW))
        logged = [int(NOW.timestamp() * 1000)] * len(messages)
    entries = [
        LoggedEvent(0, offset, at, key, value)
        for offset, ((key, value), at) in enumerate(zip(messages, logged, strict=True))
    ]

    async def passes_over_the_log() -> None:
        for _ in range(passes):
            await replay.replay_in_memory(entries, rules, NOW)

    asyncio.run(passes_over_the_log())  # run without passes too: the event loop is not the work
    return len(entries)


def _milliseconds(event: Event) -> int:
    return int(datetime.fromisoformat(str(event["occurred_at"])).timestamp() * 1000)


def _decoded(messages: list[Message], passes: int) -> int:
    for _ in range(passes):
        for key, value in messages:
            decode_keyed_event(key, value)
    return len(messages)


def _steps(rules: Rulebook, messages: list[Message], *, loaded: bool, passes: int) -> int:
    """Each complaint folded up to its last event; the step is that event on the case so far."""
    steps = _last_steps(rules, messages)
    for _ in range(passes):
        for case, stored, event in steps:
            start = cases.load_case(stored) if loaded else case
            assessment = cases.assess(cases.accept_event(start, event, rules, published_at=NOW), rules, NOW)
            record = cases.to_record(assessment.settled.case, rules, NOW, assessment.views, instant=for_orjson)
            orjson.dumps(record)
    return len(steps)


def _saved(rules: Rulebook, messages: list[Message], passes: int) -> int:
    """The cases `_steps` makes, each encoded as the worker saves it to the table."""
    made = [
        cases.assess(cases.accept_event(case, event, rules, published_at=NOW), rules, NOW).settled.case
        for case, _, event in _last_steps(rules, messages)
    ]
    for _ in range(passes):
        for case in made:
            encode_stored(0, case)
    return len(made)


def _last_steps(rules: Rulebook, messages: list[Message]) -> list[tuple[cases.Case, bytes, ComplaintEvent]]:
    """(case so far, its table bytes, the complaint's last event) for each complaint of more than one event."""
    events = [decode_keyed_event(key, value) for key, value in messages]
    last = {event.complaint_id: index for index, event in enumerate(events)}
    held: dict[str, cases.Case] = {}
    steps = []
    for index, event in enumerate(events):
        before = held.get(event.complaint_id)
        if last[event.complaint_id] == index and before is not None:
            steps.append((before, cases.dump_case(before), event))
            continue
        try:
            after = cases.accept_event(before, event, rules, published_at=NOW)
        except Exception:  # the bench's history is valid; a rejection would only shorten the list
            continue
        held[event.complaint_id] = cases.assess(after, rules, NOW).settled.case
    return steps


if __name__ == "__main__":
    sys.exit(main())
