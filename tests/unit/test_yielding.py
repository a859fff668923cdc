"""services/yielding.py: a Faust stream working a full queue lets other tasks run once every few
events, still hands over every event in order, and the iterator it changes is still the one read."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from unittest import mock

import faust
import faust.streams
import pytest

from events.errors import ConfigurationError
from services import yielding

# sha256 of faust-streaming 0.15.3's faust/_cython/streams.pyx, the source of the iterator whose
# module-level `sleep` is replaced. An upgrade that changes it fails here: re-read
# `StreamIterator.next`, then record it.
STREAMS_PYX_SOURCE = "0041622f4a251188f53d73e6d51d18d16f0f427512df1e96c043cfdeea4c3250"


@pytest.fixture
def iterator_module() -> Iterator[ModuleType]:
    """Faust's Cython stream iterator's module, its `sleep` put back after the test."""
    module = yielding.cython_stream_iterator()
    if module is None:
        pytest.skip("Faust's Cython extensions are not in use (NO_CYTHON, or not built)")
    with mock.patch.object(module, "sleep", module.sleep):
        yield module


@pytest.fixture
async def app() -> AsyncIterator[faust.App]:
    """An app that is never started: a stream over a plain iterable needs no broker. Its stream
    makes the consumer, whose thread's own event loop is closed after the test, never having run."""
    app = faust.App("test-yielding", broker="kafka://127.0.0.1:9")
    yield app
    app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]  # Faust's Consumer, typed ConsumerT


class Turns:
    """A task that counts the event loop's turns it gets while the test's stream runs."""

    def __init__(self) -> None:
        self.taken = 0

    async def __aenter__(self) -> Turns:
        self._task = asyncio.get_running_loop().create_task(self._take())
        await asyncio.sleep(0)  # its first turn, before the stream starts
        self.taken = 0
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._task.cancel()

    async def _take(self) -> None:
        while True:
            self.taken += 1
            await asyncio.sleep(0)


async def _all_of(stream: AsyncIterable[int], count: int) -> list[int]:
    seen: list[int] = []
    async for value in stream:
        seen.append(value)
        if len(seen) == count:
            break
    return seen


def test_faust_still_turns_the_event_loop_through_the_one_sleep_replaced(iterator_module: ModuleType) -> None:
    source = Path(iterator_module.__file__ or "").with_name("streams.pyx").read_text()

    assert "from asyncio import sleep" in source
    assert source.count("sleep(") == 1 and "await sleep(0)" in source, "the iterator's one yield per event"
    assert hashlib.sha256(source.encode()).hexdigest() == STREAMS_PYX_SOURCE


async def test_a_stream_lets_other_tasks_run_once_per_turn_of_events(
    iterator_module: ModuleType, app: faust.App
) -> None:
    yielding.install(every=16)

    async with Turns() as turns:
        seen = await _all_of(app.stream(range(48)), 48)

    assert seen == list(range(48)), "every event, in order"
    assert turns.taken == 3


async def test_at_one_event_per_turn_a_stream_yields_as_faust_does(iterator_module: ModuleType, app: faust.App) -> None:
    yielding.install(every=1)

    async with Turns() as turns:
        seen = await _all_of(app.stream(range(48)), 48)

    assert seen == list(range(48))
    assert turns.taken == 48


async def test_a_sleep_of_some_time_or_with_a_result_is_asyncios_own() -> None:
    turns = yielding.TurnEvery(1000)

    started = time.monotonic()
    await turns(0.02)
    assert time.monotonic() - started >= 0.02
    assert await turns(0, "woken") == "woken"


def test_a_stream_must_yield_at_some_event() -> None:
    with pytest.raises(ConfigurationError, match="at least every event"):
        yielding.TurnEvery(0)


def test_the_worker_turns_the_event_loop_every_few_events(iterator_module: ModuleType) -> None:
    import services.app  # noqa: F401  (installs it)

    assert isinstance(iterator_module.sleep, yielding.TurnEvery)
    assert iterator_module.sleep.every == yielding.EVENTS_PER_TURN


def test_faust_python_iterator_is_left_as_it_is(iterator_module: ModuleType) -> None:
    before = iterator_module.sleep
    with mock.patch.object(faust.streams, "_CStreamIterator", None):
        yielding.install()

    assert iterator_module.sleep is before


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        yielding.install()

    assert "0.99.0" in str(refused.value) and "pin" in str(refused.value)
