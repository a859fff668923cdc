"""Faust hands each fetched message to the agents' queues without making four tasks for it.

faust-streaming 0.15.3's consumer loop (`Consumer._drain_messages`) hands every message over with

    await self.wait_first(callback(message), self.suspend_flow.wait())

so that a hand-over stuck waiting is abandoned when a rebalance suspends the flow or the consumer
stops. mode's `Service.wait_first` wraps each argument, and the service's own stopped and crashed
events, in a new task, then awaits them with `asyncio.wait`: four tasks with their futures and
callbacks per message, ~30 µs of CPU each time where a worker spends ~0.6 ms per event in all
(docs/performance.md, "Handing messages over without tasks"). Yet the callback, the conductor's `on_message`,
almost never waits: it decodes the message and puts it on each subscribed stream's queue, and
waits only when a queue is full, the flow control is suspended or the producer's buffer is full.

`install` gives the consumer a `wait_first` that, for that one call, runs the callback's first step
on the spot while the flow is not suspended and the consumer neither stopping nor crashed. If the
callback finishes without waiting, that is the result, and no task is made. If it has to wait, the
rest of it goes to mode's `wait_first` with the suspension's wait, to be raced against the
suspension and the stop as upstream does. Either way, what runs is an order Faust's own loop can
run: its callback task also takes its first step before any other task sees the flow suspended,
when nothing else is ready before it; and what is abandoned is abandoned as it would be there.
The loop no longer yields to the event loop at every message, only every 100 (Faust's own
`yield_every` in `_drain_messages`), so the agents' queues fill by up to that many at a time.

It refuses any other Faust version, and tests/unit/test_handoff.py fails when the loop or mode's
`wait_first` changes upstream.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any

from faust.transport.consumer import Consumer
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds

from services.pins import require_faust

_ORIGINAL_WAIT_FIRST = Consumer.wait_first


class _Rest:
    """The rest of a coroutine whose first step already ran and stopped waiting on `waiting_on`:
    awaiting this awaits what the coroutine waits on, then runs it on, like `await coroutine`."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, waiting_on = self._coroutine, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as thrown:  # a cancellation, for one: the coroutine sees it where it waits
                try:
                    waiting_on = coroutine.throw(thrown)
                except StopIteration as finished:
                    return finished.value
            else:
                try:
                    waiting_on = coroutine.send(sent)
                except StopIteration as finished:
                    return finished.value


async def _wait_first(self: Consumer, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
    """mode's `wait_first`, except that the consumer loop's hand-over (a coroutine, and the flow's
    suspension to race it against) first tries to finish without a task."""
    if timeout is not None:
        return await _ORIGINAL_WAIT_FIRST(self, *coros, timeout=timeout)
    if len(coros) != 2:
        return await _ORIGINAL_WAIT_FIRST(self, *coros)
    callback, suspended = coros
    if (
        not isinstance(callback, Coroutine)
        or self.suspend_flow.is_set()
        or self._stopped.is_set()
        or self._crashed.is_set()
    ):
        return await _ORIGINAL_WAIT_FIRST(self, *coros)
    try:
        waiting_on = callback.send(None)
    except StopIteration as finished:
        _discard(suspended)
        return WaitResults([callback], [finished.value], False)
    except BaseException:
        _discard(suspended)
        raise
    return await _ORIGINAL_WAIT_FIRST(self, _Rest(callback, waiting_on), suspended)


def _discard(waiter: WaitArgT) -> None:
    """Close a wait that will never be awaited (an un-started coroutine would warn when collected)."""
    if isinstance(waiter, Coroutine):
        waiter.close()


def install() -> None:
    """Give Faust's consumers the `wait_first` above (every consumer in this process)."""
    require_faust(
        "services/handoff.py replaces the consumer's hand-over",
        "Consumer._drain_messages and mode's Service.wait_first",
    )
    Consumer.wait_first = _wait_first  # type: ignore[assignment]  # a Consumer's, where mode types a Service's
