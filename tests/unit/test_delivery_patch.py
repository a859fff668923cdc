"""The fix for events lost around a restart or a rebalance (services/delivery.py, issue 6) still
fits the Faust it patches, and hands the input partitions back in the safe order."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

import faust
import pytest
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError
from services import delivery, pins
from tests.upstream import source_hash

# sha256 of inspect.getsource() of each method the fix replaces or wraps, in faust-streaming 0.15.3.
# A Faust upgrade that changes one of them fails here: re-read it, port the fix (or drop it if
# upstream fixed the race), then record the new hash.
PATCHED_SOURCES = {
    "on_recovery_completed": "6ef567acf072e46da3fccbccc6d662371f634f622c3d510972d5df81f70ae3ac",
    "_resume_streams": "d986a6710c1aca98f08c4c723fb3eadc5bf24576ad4eb9da3dd3eecedda2f24e",
    "_fetch_records": "39a2c6c79fc1455a199629912b533458a720c64983bc957420a42feef6593baa",
}


def test_the_pinned_faust_is_the_one_the_fix_was_written_for() -> None:
    assert faust.__version__ == pins.FAUST_VERSION


def test_the_patched_methods_are_unchanged_upstream() -> None:
    originals = {**delivery.ORIGINALS, "_fetch_records": delivery._ORIGINAL_FETCH_RECORDS}
    assert {name: source_hash(method) for name, method in originals.items()} == PATCHED_SOURCES


def test_faust_still_resumes_input_partitions_before_seeking_them() -> None:
    """The race the fix removes: if upstream reorders these lines itself, the copy may be dropped."""
    source = inspect.getsource(delivery.ORIGINALS["on_recovery_completed"])
    assert source.index("consumer.resume_partitions(") < source.index("consumer.perform_seek()")
    assert source.index("consumer.perform_seek()") < source.index("self.app.flow_control.resume()")


def test_importing_the_app_installs_the_fix() -> None:
    import services.app  # noqa: F401  (builds the app, which installs the fix)

    assert Recovery.on_recovery_completed is delivery.on_recovery_completed
    assert Recovery._resume_streams is delivery._resume_streams
    assert AIOKafkaConsumerThread._fetch_records is delivery._fetch_records


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        delivery.install()

    assert "0.99.0" in str(refused.value) and "pin" in str(refused.value)


class Timeline:
    """A recovery whose consumer, flow control and tables record what is done to them, in order."""

    def __init__(self, assignment: set[str], changelogs: set[str]) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.resumed: set[str] = set()
        self.queued: list[str] = []

        async def perform_seek() -> None:
            self.calls.append(("seek", None))
            await asyncio.sleep(0)  # the fetcher runs meanwhile: it must find the inputs paused
            self.queued.extend(sorted(self.resumed - changelogs))

        def resume_partitions(tps: set[str]) -> None:
            self.calls.append(("resume_partitions", set(tps)))
            self.resumed |= tps

        def resume_flow_control() -> None:
            self.calls.append(("flow_control.resume", None))
            self.queued.clear()  # what FlowControlEvent.resume does to every agent queue

        async def nothing(*args: Any, **kwargs: Any) -> None:
            return None

        async def wait(coro: Any, timeout: float | None = None) -> None:
            await coro

        consumer = SimpleNamespace(
            assignment=lambda: set(assignment),
            perform_seek=perform_seek,
            resume_partitions=resume_partitions,
            resume_flow=lambda: self.calls.append(("resume_flow", None)),
        )
        app = SimpleNamespace(
            consumer=consumer,
            consumer_generation_id=7,
            conf=SimpleNamespace(broker_request_timeout=30.0),
            on_rebalance_complete=SimpleNamespace(send=nothing),
            flow_control=SimpleNamespace(resume=resume_flow_control),
            _fetcher=SimpleNamespace(maybe_start=nothing),
            assignor=SimpleNamespace(assigned_standbys=lambda: set()),
            on_rebalance_end=lambda: self.calls.append(("rebalance_end", None)),
        )
        self.recovery: Any = SimpleNamespace(
            app=app,
            log=mock.Mock(),
            tables=SimpleNamespace(values=list, on_actives_ready=mock.Mock(), on_standbys_ready=mock.Mock()),
            actives_for_table={},
            standbys_for_table={},
            completed=asyncio.Event(),
            _wait=wait,
            _set_recovery_ended=mock.Mock(),
            _is_changelog_tp=lambda tp: tp in changelogs,
        )

    def order(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.mark.parametrize("patched", [delivery.on_recovery_completed, delivery._resume_streams])
async def test_inputs_are_seeked_while_paused_and_resumed_only_after_the_queues_are_emptied(
    patched: Callable[..., Any],
) -> None:
    timeline = Timeline({"events-0", "events-1", "changelog-0"}, changelogs={"changelog-0"})

    await patched(timeline.recovery, generation_id=7)

    assert timeline.order()[:4] == ["seek", "flow_control.resume", "resume_partitions", "resume_flow"]
    assert timeline.calls[2][1] == {"events-0", "events-1"}, "changelog partitions stay as recovery left them"
    assert timeline.queued == [], "nothing fetched during the seek was in a queue when it was emptied"
    assert timeline.recovery.completed.is_set() and timeline.order()[-1] == "rebalance_end"


async def test_the_unpatched_order_loses_what_is_fetched_during_the_seek() -> None:
    """The same timeline through Faust's own method: the inputs flow during the seek, and the
    queues are emptied afterwards (what tests/integration/test_recovery.py saw as lost rulings)."""
    timeline = Timeline({"events-0", "changelog-0"}, changelogs={"changelog-0"})
    queued_during_seek: list[str] = []
    seek = timeline.recovery.app.consumer.perform_seek

    async def seek_and_look() -> None:
        await seek()
        queued_during_seek.extend(timeline.queued)

    timeline.recovery.app.consumer.perform_seek = seek_and_look
    await delivery.ORIGINALS["on_recovery_completed"](timeline.recovery, generation_id=7)

    assert queued_during_seek == ["events-0"] and timeline.queued == []


async def test_a_rebalance_during_recovery_hands_nothing_back() -> None:
    timeline = Timeline({"events-0"}, changelogs=set())

    await delivery.on_recovery_completed(timeline.recovery, generation_id=6)  # the app is at 7

    assert timeline.order() == [] and not timeline.recovery.completed.is_set()


async def test_fetches_read_a_snapshot_of_the_active_partitions() -> None:
    seen: list[Any] = []

    async def original(self: Any, consumer: Any, active: Any, timeout: Any = None, max_records: Any = None) -> Any:
        seen.append(active)
        return {"records": active}

    active = {"events-0"}
    with mock.patch.object(delivery, "_ORIGINAL_FETCH_RECORDS", original):
        assert await delivery._fetch_records(mock.Mock(), mock.Mock(), set(), timeout=1.0) == {}
        assert seen == [], "an empty set means every partition to aiokafka: nothing is fetched instead"
        await delivery._fetch_records(mock.Mock(), mock.Mock(), active, timeout=1.0)
        active.clear()  # recovery pausing partitions while the fetch waits does not widen it
        assert seen == [frozenset({"events-0"})]
        await delivery._fetch_records(mock.Mock(), mock.Mock(), None, timeout=1.0)
        assert seen[-1] is None, "a client-only app still reads every partition"
