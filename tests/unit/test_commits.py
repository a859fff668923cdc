"""services/commits.py: every offset commit first awaits what must reach the broker before it, and
the Faust path it wraps is still the one every commit takes."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP

from events.errors import ConfigurationError
from services import commits
from tests.upstream import source_hash

# sha256 of inspect.getsource() in faust-streaming 0.15.3 of the method wrapped and of its one
# caller. An upgrade that changes either fails here: re-read how Faust commits, then record them.
COMMIT_OFFSETS_SOURCE = "1a6979904118844111259d182ca1c6e92ccc16364ccbe55c58e59d6e254a7adb"
COMMIT_TPS_SOURCE = "a20e230b05ae8b151ac9f78fa77a102003a948c66c24c9d3588e39cb12859b7e"
PARTITION = TP("t.complaints.events", 0)


def test_faust_still_commits_through_the_one_method_wrapped() -> None:
    consumer_source = inspect.getsource(Consumer)

    assert consumer_source.count("self._commit(") == 1, "only _commit_offsets commits"
    assert "self._commit(" in inspect.getsource(commits._ORIGINAL_COMMIT_OFFSETS)
    assert consumer_source.count("self._commit_offsets(") == 1, "only _commit_tps calls it"
    assert "self._commit_offsets(" in inspect.getsource(Consumer._commit_tps)
    assert "await self.app.producer.flush()" in inspect.getsource(commits._ORIGINAL_COMMIT_OFFSETS)
    assert source_hash(commits._ORIGINAL_COMMIT_OFFSETS) == COMMIT_OFFSETS_SOURCE
    assert source_hash(Consumer._commit_tps) == COMMIT_TPS_SOURCE


@pytest.fixture
def steps() -> Iterator[list[Any]]:
    """What happened, in order: Faust's commit (replaced by a recorder) and the work before it."""
    happened: list[Any] = []

    async def original(consumer: object, offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        happened.append(("commit", offsets, start_new_transaction))
        return True

    with (
        mock.patch.object(commits, "_ORIGINAL_COMMIT_OFFSETS", original),
        mock.patch.object(Consumer, "_commit_offsets", original),  # as if nothing were installed yet
    ):
        yield happened


async def test_a_commit_awaits_the_work_before_it_then_commits_what_it_was_given(steps: list[Any]) -> None:
    async def save() -> None:
        steps.append("saved")

    commits.install(faust.App("commits-test"), save)

    committed = await Consumer._commit_offsets(SimpleNamespace(), {PARTITION: 42}, start_new_transaction=False)  # type: ignore[arg-type]

    assert committed is True
    assert steps == ["saved", ("commit", {PARTITION: 42}, False)]


async def test_nothing_is_committed_when_the_work_before_it_fails(steps: list[Any]) -> None:
    async def broker_gone() -> None:
        raise ConnectionError("the broker did not take the table's values")

    commits.install(faust.App("commits-test"), broker_gone)

    with pytest.raises(ConnectionError):
        await Consumer._commit_offsets(SimpleNamespace(), {PARTITION: 42})  # type: ignore[arg-type]

    assert steps == [], "the offsets stay where they were: the messages are delivered again"


async def test_another_faust_version_or_exactly_once_is_refused_with_what_to_do(steps: list[Any]) -> None:
    async def save() -> None: ...

    unwrapped = Consumer._commit_offsets
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as version:
        commits.install(faust.App("commits-test"), save)
    with pytest.raises(ConfigurationError) as guarantee:
        commits.install(faust.App("commits-test", processing_guarantee="exactly_once"), save)

    assert "0.99.0" in str(version.value) and "pin" in str(version.value)
    assert "at least once" in str(guarantee.value)
    assert Consumer._commit_offsets is unwrapped, "nothing was installed"
