"""The complaint agent's output per event, handed straight to Faust's producer.

Every accepted event makes the complaint's state record (complaints.state), and its case reaches the
`complaints_by_id` table, whose changelog Faust writes on every `table[key] = value`, at the next
offset commit (services/commits.py). Through
Faust's own paths each record also builds a `PendingMessage` and a `FutureMessage`, runs the key
and value through the serializer registry, calls the sensors twice and, for the table, queues the
message in a buffer that a separate task drains. Measured on figure 1's backlog (docs/performance.md),
that bookkeeping was about a tenth of the worker's CPU per event.

Here the same records go to the same producer (`app.producer.send`, aiokafka underneath), so
nothing about delivery changes: Faust flushes that producer before it commits the offsets of the
messages that caused them (at-least-once, as before). A table write puts the value in the table's
store, as `Table.__setitem__` does, and sends the changelog record to the partition of the event
being processed, which is what Faust's changelog would have chosen (the table is co-partitioned
with complaints.events); once the broker has it, the store records the changelog offset, as Faust's
own callback does, so a RocksDB store knows where its recovery can start. A delivery that fails
is logged with its topic and the error; Faust's own path only counted it in a sensor.

The case table is written once per commit, outside the agent step that changed each case
(services/commits.py). Faust's RocksDB store picks the partition a write goes to from the event
being processed (`current_event().message.partition`), so `save` names the value's own partition
there for the length of the write, whether it runs in an agent step (of another partition, perhaps)
or in the commit; the memory store ignores it.

Only for tables of raw bytes without a window (`require_plain` refuses the others at start-up):
Faust's serializers and key expiry are not involved. tests/unit/test_output.py fails if the Faust
methods this stands in for change upstream.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import faust
from faust.streams import _current_event
from faust.types import RecordMetadata, TableT

from events.errors import ConfigurationError

log = logging.getLogger(__name__)


def require_plain(table: TableT[bytes, bytes]) -> faust.Table[bytes, bytes]:
    """`table`, if `save` can write it: a Faust `Table` (whose store and changelog `save` writes), keys
    and values are bytes as they are, and no window expires keys."""
    if (
        not isinstance(table, faust.Table)
        or table.window is not None
        or table.key_type is not bytes
        or table.value_type is not bytes
    ):
        raise ConfigurationError(
            f"table {table.name!r} must be an unwindowed table of bytes keys and values to be written by "
            "services/output.py; write it with `table[key] = value` instead"
        )
    return table


async def publish(
    app: faust.App, topic: str, key: bytes, value: bytes, partition: int, taken: Callable[[int, int], None]
) -> None:
    """Send a record to `partition`; Faust flushes it before its next commit. Once the broker has it,
    `taken` is called with its partition and offset."""
    delivery = await app.producer.send(topic, key, value, partition, None, None)
    # Faust types send() as an Awaitable; its aiokafka producer returns an asyncio.Future.
    delivery.add_done_callback(partial(_delivered, topic, None, taken))  # type: ignore[attr-defined]


async def save(table: faust.Table[bytes, bytes], key: bytes, value: bytes, partition: int) -> None:
    """`table[key] = value` for an event of `partition`, and its changelog record."""
    written_for = _EventOf(partition)
    token = _current_event.set(weakref.ref(written_for))  # type: ignore[arg-type]  # the part of an event stores read
    try:
        table.data[key] = value
    finally:
        _current_event.reset(token)
    topic = table.changelog_topic.get_topic_name()
    delivery = await table.app.producer.send(topic, key, value, partition, None, None)
    # Faust types send() as an Awaitable; its aiokafka producer returns an asyncio.Future.
    delivery.add_done_callback(partial(_delivered, topic, table, None))  # type: ignore[attr-defined]


class _EventOf:
    """What Faust's RocksDB store reads of the event being processed: its message's partition."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, partition: int) -> None:
        self.message = _Partition(partition)


class _Partition(NamedTuple):
    partition: int


def _delivered(
    topic: str,
    table: faust.Table[bytes, bytes] | None,
    taken: Callable[[int, int], None] | None,
    delivery: asyncio.Future[RecordMetadata],
) -> None:
    if delivery.cancelled():
        log.error("a record for %s was cancelled before the broker had it", topic)
        return
    error = delivery.exception()
    if error is not None:
        log.error("the broker did not take a record for %s: %s", topic, error)
        return
    metadata = delivery.result()
    if table is not None:
        table.data.set_persisted_offset(metadata.topic_partition, metadata.offset)
    if taken is not None:
        taken(metadata.partition, metadata.offset)
