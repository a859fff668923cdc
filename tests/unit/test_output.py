"""services/output.py stands in for Faust's table write and send paths: the Faust methods it
replaces must still do what it does (a Faust upgrade that changes them fails here), and it must
refuse tables it cannot stand in for."""

from __future__ import annotations

import asyncio
import weakref
from datetime import timedelta
from types import SimpleNamespace

import faust
import pytest
from faust.stores.rocksdb import Store as RocksDBStore
from faust.streams import _current_event, current_event
from faust.tables.base import Collection
from faust.tables.table import Table
from mode.utils.collections import ManagedUserDict

from events.errors import ConfigurationError
from services import output
from tests.upstream import source_hash

# sha256 of inspect.getsource() of each method in faust-streaming 0.15.3 (and mode-streaming's
# ManagedUserDict). If one changes: re-read it, check that services/output.py still writes what it
# writes (store, changelog partition, persisted offset), then record the new hash.
STOOD_IN_FOR = {
    "ManagedUserDict.__setitem__": (
        ManagedUserDict.__setitem__,
        "f3bdf602abc08dd1ace4cf2094d860f6569520a0af1e0428962678b56a2752d4",
    ),
    "Table.on_key_set": (
        Table.on_key_set,
        "a370e35ca55c2c7e36e93f0d4b485927c32d49199043cab2314572846184dd94",
    ),
    "Collection.send_changelog": (
        Collection.send_changelog,
        "3dd3884e1b5fc0e1612bc688b83d9318a1805ddc49700d3b6b37bade73c3905d",
    ),
    "Collection.partition_for_key": (
        Collection.partition_for_key,
        "3b2291811b8dd791cdd0e690b2b09d966a4e961e2a2861182241195696393bed",
    ),
    "Collection._on_changelog_sent": (
        Collection._on_changelog_sent,
        "60122c86a120d82cffa95da4c22323e12d67fa82f3112f08ac7f8edde7c47826",
    ),
    # the RocksDB store writes to the database of the current event's partition, which `save` names
    "rocksdb.Store._set": (RocksDBStore._set, "4227e561e288d9413bf663a3a67940fd4976f5484e70e49445858ce4d400d26e"),
    "current_event": (current_event, "3b821f1a78d86a58234dfe781fbf539775b00e66fdac9489c1c398a2d81d7e9d"),
}


def test_the_faust_methods_output_stands_in_for_are_unchanged() -> None:
    found = {name: source_hash(method) for name, (method, _) in STOOD_IN_FOR.items()}
    changed = {name: digest for name, digest in found.items() if digest != STOOD_IN_FOR[name][1]}

    assert changed == {}, "re-read each, then record its new hash"


def test_the_case_table_is_one_output_can_write() -> None:
    from services.app import complaints_by_id

    assert output.require_plain(complaints_by_id) is complaints_by_id


@pytest.mark.parametrize(
    "options",
    [
        {"key_type": bytes, "value_type": bytes, "window": "tumbling"},
        {"key_type": str, "value_type": bytes},
        {"key_type": bytes, "value_type": int},
    ],
)
def test_a_windowed_or_typed_table_is_refused_with_what_to_do(options: dict[str, object]) -> None:
    app = faust.App("output-test", broker="memory://", store="memory://")
    if options.pop("window", None):
        table = app.Table("windowed", **options).tumbling(timedelta(minutes=1), expires=timedelta(hours=1)).table  # type: ignore[arg-type]
    else:
        table = app.Table("typed", **options)  # type: ignore[arg-type]

    with pytest.raises(ConfigurationError, match="table\\[key\\] = value"):
        output.require_plain(table)


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int | None]] = []

    async def send(
        self, topic: str, key: bytes, value: bytes, partition: int | None, *_: object
    ) -> asyncio.Future[None]:
        self.sent.append((topic, key, value, partition))
        return asyncio.get_running_loop().create_future()


class _Store(dict[bytes, bytes]):
    """Records the partition Faust's RocksDB store would write each value to."""

    def __init__(self) -> None:
        super().__init__()
        self.partitions: dict[bytes, int] = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        event = current_event()
        assert event is not None, "the RocksDB store asserts as much"
        self.partitions[key] = event.message.partition
        super().__setitem__(key, value)


async def test_a_save_writes_each_value_to_its_own_partition_in_a_step_or_outside_one() -> None:
    producer, store = _Producer(), _Store()
    table = SimpleNamespace(
        data=store, app=SimpleNamespace(producer=producer), changelog_topic=SimpleNamespace(get_topic_name=lambda: "cl")
    )

    await output.save(table, b"C-1", b"v1", 3)  # type: ignore[arg-type]  # as in the commit's save: no step
    step_of_partition_0 = output._EventOf(0)  # stands for Faust's event of a step on partition 0
    token = _current_event.set(weakref.ref(step_of_partition_0))  # type: ignore[arg-type]
    try:
        await output.save(table, b"C-2", b"v2", 1)  # type: ignore[arg-type]  # a save inside another partition's step
        assert current_event() is step_of_partition_0, "the step's own event is back"
    finally:
        _current_event.reset(token)

    assert store == {b"C-1": b"v1", b"C-2": b"v2"} and store.partitions == {b"C-1": 3, b"C-2": 1}
    assert producer.sent == [("cl", b"C-1", b"v1", 3), ("cl", b"C-2", b"v2", 1)]
    assert current_event() is None
