"""The agents' streams let other tasks run every few events instead of at every one.

faust-streaming 0.15.3's stream iterator (`faust/_cython/streams.pyx`, `StreamIterator.next`, what
`async for event in stream.events()` runs when Faust's Cython extensions are built, as they are in
its wheels) starts every event with

    await sleep(0)

so that an agent working a full queue still lets the consumer loop, the producer's sender, delivery
callbacks and timers run. Each of those turns of the event loop polls the sockets and runs whatever
is ready, whether or not anything is (~2.4 µs for the turn alone), and gives the producer's sender
a turn to send the one or two records the step made. With a turn every 16 events the worker spent
8 % less CPU per event on figure 1's backlog, on average over six alternating pairs
(docs/performance.md, "Fewer turns of the event loop").

`install` gives that module a `sleep` that, asked for `sleep(0)`, really yields on one call in
`EVENTS_PER_TURN` and returns at once on the others; any other delay is asyncio's own. What runs is
still an order Faust's own loop can run: the tasks that would have run at the skipped turns run at
the next one, as if they had become ready a few events later, and everything Faust checks per event
(flow control, the consumer's generation, acknowledgements, sensors) is still checked per event.
An agent that waits for anything (an empty queue, a delivery, a lock) yields there as before.

It refuses any other Faust version; tests/unit/test_yielding.py fails when the iterator's source
changes upstream. Without the Cython extension (`NO_CYTHON` set) Faust's Python iterator runs,
which this leaves as it is.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import faust
import faust.streams

from events.errors import ConfigurationError
from services.pins import require_faust

log = logging.getLogger(__name__)
EVENTS_PER_TURN = 16
"""One real turn of the event loop per this many events of an agent working a queue that holds them.
At the worker's ~0.3 ms of CPU an event, other tasks wait at most ~5 ms for their turn (asyncio
calls a callback slow at 100 ms); the turns skipped save 15/16 of what the turns cost."""


class _Done:
    """An awaitable that finishes without suspending: `await _DONE` returns None at once."""

    __slots__ = ()

    def __await__(self) -> Iterator[Any]:
        return iter(())


_DONE = _Done()


class TurnEvery:
    """A stand-in for `asyncio.sleep` that yields on one `sleep(0)` in `every`."""

    __slots__ = ("_skipped", "every")

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ConfigurationError(f"a stream must yield at least every event, not every {every}")
        self.every = every
        self._skipped = 0

    def __call__(self, delay: float, result: Any = None) -> Any:
        """asyncio.sleep(delay, result), except that most `sleep(0)`s return at once."""
        if delay != 0 or result is not None:
            return asyncio.sleep(delay, result)
        self._skipped += 1
        if self._skipped < self.every:
            return _DONE
        self._skipped = 0
        return asyncio.sleep(0)


def cython_stream_iterator() -> ModuleType | None:
    """The module of the stream iterator Faust runs, if it is the Cython one."""
    iterator = getattr(faust.streams, "_CStreamIterator", None)  # what Stream.__aiter__ chooses
    return None if iterator is None else sys.modules[iterator.__module__]  # None: NO_CYTHON, or no extensions


def install(every: int = EVENTS_PER_TURN) -> None:
    """Give Faust's Cython stream iterator (every stream in this process) a `sleep` that turns the
    event loop once per `every` events."""
    require_faust("services/yielding.py changes how streams yield", "faust/_cython/streams.pyx (StreamIterator.next)")
    module = cython_stream_iterator()
    if module is None:
        log.info("Faust's streams run their Python iterator: each event still turns the event loop")
        return
    module.sleep = TurnEvery(every)  # type: ignore[attr-defined]  # the module-level name `next` awaits
