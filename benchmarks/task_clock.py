"""`python -m benchmarks.task_clock worker`: `complaintflow worker` with its CPU counted by what the
event loop runs, for `python -m benchmarks.tasks`.

Every step the event loop takes (an `asyncio.Handle`: a task's step or a callback) is timed in the
thread that runs it (`time.thread_time`, so waiting is never counted) and added up under what it
runs: a task by its coroutine, and for mode's service tasks and Faust's agents by the coroutine
they are awaiting (`Fetcher._fetcher`, `Consumer._commit_handler`, the agent's body...); a callback
by its function. Every second the totals go to the file named by `COMPLAINTFLOW_TASK_CLOCK`, one
JSON line each, with the events counted so far and the main thread's CPU. Timing a step costs
about a microsecond, so the worker runs a little slower than it would: compare runs made this way
with each other, not with `benchmarks.pipeline`'s.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import functools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

TASK_CLOCK = "COMPLAINTFLOW_TASK_CLOCK"
"""The environment variable naming the file the totals are appended to."""
WRAPPERS = ("_execute_task", "_execute_actor")
"""mode's and Faust's coroutines that run another: a step is counted under the one they await."""

spent: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0])
"""what ran → [thread CPU seconds, steps]"""
_run: Callable[[asyncio.Handle], None] = asyncio.events.Handle._run


def name_of(callback: Any) -> str:
    """What a handle runs, by name: `task:<coroutine>` (`task:<wrapper>><awaited>` for mode's and
    Faust's wrappers) or the callback's qualified name."""
    while isinstance(callback, functools.partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coroutine = owner.get_coro()
        name = "task:" + str(getattr(coroutine, "__qualname__", None) or type(coroutine).__name__)
        awaited = getattr(coroutine, "cr_await", None)
        if name.endswith(WRAPPERS) and awaited is not None:
            name += ">" + str(getattr(awaited, "__qualname__", None) or type(awaited).__name__)
        return name
    return str(getattr(callback, "__qualname__", None) or type(callback).__name__)


def _timed_run(handle: asyncio.Handle) -> None:
    started = time.thread_time()
    try:
        _run(handle)
    finally:
        total = spent[name_of(handle._callback)]  # type: ignore[attr-defined]  # asyncio's own attribute
        total[0] += time.thread_time() - started
        total[1] += 1


def install(out: Path) -> Callable[[], Any]:
    """Time every handle from now on; return the coroutine function that writes the totals to `out`."""
    asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign,assignment]

    async def write_totals() -> None:
        from services.metrics import metrics

        while True:
            await asyncio.sleep(1.0)
            line = {"events": sum(metrics.events.values()), "main": time.thread_time(), "spent": dict(spent)}
            with out.open("ab") as totals:
                totals.write(orjson.dumps(line) + b"\n")

    return write_totals


def main() -> int:
    from services import cli
    from services.app import app

    app.task(install(Path(os.environ[TASK_CLOCK])))
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
