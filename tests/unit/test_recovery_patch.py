"""The Faust recovery fix (services/recovery.py) still fits the Faust it patches."""

from __future__ import annotations

import inspect
from pathlib import Path
from unittest import mock

import faust
import pytest
from aiokafka import ConsumerRecord
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from events.errors import ConfigurationError
from services import pins, recovery


def test_the_pinned_faust_is_the_one_the_fix_was_written_for() -> None:
    assert faust.__version__ == pins.FAUST_VERSION


def test_the_wrapped_method_keeps_its_shape() -> None:
    assert list(recovery.wrapped_signature().parameters) == ["self", "partitions"]
    assert inspect.iscoroutinefunction(recovery._ORIGINAL)


def test_recovery_still_asks_the_consumer_for_highwaters() -> None:
    """If Faust stops calling consumer.highwaters() to bound recovery, the fix no longer applies."""
    assert "consumer.highwaters(" in inspect.getsource(Recovery._build_highwaters)
    assert "_highwaters" in inspect.getsource(AIOKafkaConsumerThread.highwaters)


def test_importing_the_app_installs_the_fix() -> None:
    import services.app  # noqa: F401  (builds the app, which installs the fix)

    assert AIOKafkaConsumerThread._highwaters is not recovery._ORIGINAL
    assert AIOKafkaConsumerThread._highwaters.__qualname__.startswith("install.")


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        recovery.install(lambda: None)  # type: ignore[arg-type,return-value]

    assert "0.99.0" in str(refused.value) and "pin" in str(refused.value)


def test_the_restore_hook_wraps_a_method_of_the_same_shape() -> None:
    assert list(inspect.signature(recovery._ORIGINAL_BUILD_OFFSETS).parameters) == [
        "self",
        "consumer",
        "tps",
        "destination",
        "title",
    ]
    assert inspect.iscoroutinefunction(recovery._ORIGINAL_BUILD_OFFSETS)
    assert Recovery._build_offsets.__qualname__.startswith("install.")  # installed by importing the app above


def test_recovery_knows_the_active_ends_before_their_start_offsets_and_reads_only_what_remains() -> None:
    """`restore` runs inside `_build_offsets` for the actives and reads up to their highwaters: Faust
    must have built those first, and must still decide whether to read by what remains between them."""
    loop = inspect.getsource(Recovery._restart_recovery.fun)  # a mode ServiceTask around the method
    highwaters = loop.index("consumer, assigned_active_tps, active_highwaters")
    offsets = loop.index("consumer, assigned_active_tps, active_offsets")
    assert highwaters < offsets < loop.index("self.need_recovery()")
    remaining = inspect.getsource(Recovery.active_remaining)
    assert "self.active_highwaters" in remaining and "self.active_offsets" in remaining


def _changelog_events(topic: str) -> list[recovery._ChangelogEvent]:
    records = [
        (0, 0, b"a", b"a1"),
        (0, 1, b"b", b"b1"),
        (0, 2, b"a", b"a2"),  # a later value wins
        (0, 3, b"b", None),  # a tombstone deletes
        (1, 0, b"c", b"c1"),
    ]
    return [
        recovery._ChangelogEvent(
            TP(topic, partition),
            ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, 1, len(value or b""), ()),
        )
        for partition, offset, key, value in records
    ]


async def test_changelog_events_restore_a_memory_table_as_faust_s_own_do() -> None:
    app = faust.App("restore-memory", store="memory://")
    table = app.Table("cases", key_type=bytes, value_type=bytes, partitions=2)
    topic = table.changelog_topic.get_topic_name()

    table.apply_changelog_batch(_changelog_events(topic))  # type: ignore[arg-type]
    assert dict(table.data.items()) == {b"a": b"a2", b"c": b"c1"}

    await table.on_recovery_completed({TP(topic, 0)}, set())  # partition 1 went to another worker
    assert dict(table.data.items()) == {b"a": b"a2"}


def test_changelog_events_restore_a_rocksdb_table_and_the_offsets_it_resumes_from(tmp_path: Path) -> None:
    app = faust.App("restore-rocksdb", store="rocksdb://", datadir=str(tmp_path))
    table = app.Table("cases", key_type=bytes, value_type=bytes, partitions=2)
    topic = table.changelog_topic.get_topic_name()

    table.apply_changelog_batch(_changelog_events(topic))  # type: ignore[arg-type]

    assert table.data[b"a"] == b"a2" and table.data[b"c"] == b"c1" and b"b" not in table.data
    assert (table.persisted_offset(TP(topic, 0)), table.persisted_offset(TP(topic, 1))) == (3, 0)
