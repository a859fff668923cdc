"""services/handoff.py: the consumer hands a message over without tasks when nothing has to wait,
and exactly as mode does when something does; the Faust loop and mode method it stands in for are
still the ones read."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any
from unittest import mock

import faust
import pytest
from faust.transport.consumer import Consumer
from mode import Service
from mode.utils.locks import Event

from events.errors import ConfigurationError
from services import handoff
from tests.upstream import source_hash

# sha256 of inspect.getsource() in faust-streaming 0.15.3 (mode-streaming 0.4.1) of the consumer
# loop whose one `wait_first` call is replaced, and of the method it stands in for. An upgrade that
# changes either fails here: re-read both, then record them.
DRAIN_MESSAGES_SOURCE = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
WAIT_FIRST_SOURCE = "feade6a31f8a67897cf687c54c66f5f4535288050bbaac07249ce2063d36ae2e"


def test_faust_still_hands_each_message_over_through_the_one_call_replaced() -> None:
    consumer_source = inspect.getsource(Consumer)

    assert consumer_source.count("wait_first(") == 1, "the consumer loop's hand-over is its only wait_first"
    assert "callback(message), self.suspend_flow.wait()" in inspect.getsource(Consumer._drain_messages)
    assert source_hash(Consumer._drain_messages) == DRAIN_MESSAGES_SOURCE
    assert source_hash(handoff._ORIGINAL_WAIT_FIRST) == WAIT_FIRST_SOURCE


class Handing(Service):
    """A service with the consumer's suspension event, handing over through the replacement."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()

    async def hand_over(self, callback: Any, suspended: Any = None) -> Any:
        """What the consumer loop awaits for each message."""
        suspended = self.suspend_flow.wait() if suspended is None else suspended
        return await handoff._wait_first(self, callback, suspended)  # type: ignore[arg-type]  # a Consumer's stand-in


@pytest.fixture
def tasks_made() -> Iterator[list[object]]:
    """Every awaitable wrapped by `asyncio.ensure_future` (as mode's `wait_first` does) while the test runs."""
    made: list[object] = []
    ensure_future = asyncio.ensure_future

    def recording(awaitable: Any, **kwargs: Any) -> Any:
        made.append(awaitable)
        return ensure_future(awaitable, **kwargs)

    with mock.patch("mode.services.asyncio.ensure_future", recording):
        yield made


async def test_a_hand_over_that_need_not_wait_finishes_on_the_spot_without_tasks(tasks_made: list[object]) -> None:
    service = Handing()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)

    async def deliver() -> str:
        await queue.put("ruled")  # room in the queue: no wait
        return "delivered"

    suspended = service.suspend_flow.wait()
    handed = await service.hand_over(deliver(), suspended)

    assert handed.results == ["delivered"] and not handed.stopped
    assert queue.get_nowait() == "ruled"
    assert tasks_made == []
    assert inspect.getcoroutinestate(suspended) == inspect.CORO_CLOSED, "closed, so it never warns"


async def test_a_hand_over_that_waits_goes_on_as_a_task_and_ends_with_its_result(tasks_made: list[object]) -> None:
    service = Handing()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
    queue.put_nowait("received")

    async def deliver() -> str:
        await queue.put("ruled")  # the queue is full: waits until the agent takes one
        return "delivered"

    async def agent_takes_one() -> None:
        await asyncio.sleep(0.01)
        queue.get_nowait()

    taking = asyncio.get_running_loop().create_task(agent_takes_one())  # not counted
    handed = await service.hand_over(deliver())
    await taking

    assert handed.results == ["delivered"] and not handed.stopped
    assert queue.get_nowait() == "ruled"
    assert len(tasks_made) == 4, "the rest of the hand-over, the suspension, stopped and crashed: mode's own race"


async def test_a_waiting_hand_over_is_abandoned_when_the_flow_is_suspended_as_upstream() -> None:
    service = Handing()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
    queue.put_nowait("received")
    seen: list[str] = []

    async def deliver() -> str:
        try:
            await queue.put("ruled")
        except asyncio.CancelledError:
            seen.append("cancelled where it waited")
            raise
        return "delivered"

    async def rebalance() -> None:
        await asyncio.sleep(0.01)
        service.suspend_flow.set()

    suspending = asyncio.ensure_future(rebalance())
    handed = await service.hand_over(deliver())
    await suspending
    await asyncio.sleep(0)  # let the abandoned hand-over see its cancellation

    assert handed.results == [True], "the suspension won"
    assert seen == ["cancelled where it waited"]
    assert queue.qsize() == 1, "the message never reached the agent's queue"


async def test_while_the_flow_is_suspended_the_hand_over_is_modes_own() -> None:
    service = Handing()
    service.suspend_flow.set()
    calls: list[tuple[Any, ...]] = []

    async def original(consumer: Any, *coros: Any, timeout: Any = None) -> str:
        calls.append(coros)
        for coro in coros:
            coro.close()
        return "mode's"

    async def deliver() -> str:
        return "delivered"

    with mock.patch.object(handoff, "_ORIGINAL_WAIT_FIRST", original):
        assert await service.hand_over(deliver()) == "mode's"
    assert len(calls) == 1 and inspect.iscoroutine(calls[0][0]), "the hand-over itself, not started"


async def test_a_hand_over_that_raises_raises_to_the_consumer_loop() -> None:
    service = Handing()

    async def undecodable() -> str:
        raise ValueError("not a complaint event")

    suspended = service.suspend_flow.wait()
    with pytest.raises(ValueError, match="not a complaint event"):
        await service.hand_over(undecodable(), suspended)
    assert inspect.getcoroutinestate(suspended) == inspect.CORO_CLOSED


def test_the_worker_hands_over_through_the_replacement() -> None:
    import services.app  # noqa: F401  (installs it)

    assert Consumer.wait_first is handoff._wait_first


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        handoff.install()

    assert "0.99.0" in str(refused.value) and "pin" in str(refused.value)
