"""Table recovery: every changelog read to its true end, and the active ones read without Faust's
per-record path, on any Kafka-protocol broker.

**To the true end.** Faust restores a table by reading its changelog partitions up to the end
ListOffsets reports, and (with an on-disk store) refuses to start when the offset it persisted lies
beyond that end. The dev broker (Tansu 0.6) under-reports ListOffsets "latest" after batched
writes: two batches of 10 records give 11, not 20 (measured; see tests/integration/test_recovery.py).
Restoring to 11 would forget the last writes of a table, and a complaint would continue from an
older version. The end is therefore verified with a fetch from just before the listed end
(`services.offsets.verified_end_offsets`, which replay uses too): the high-water mark in a fetch
response is right on Tansu, and on Apache Kafka the two agree, so the verified end is
`max(listed, fetched)` everywhere: a check, not a Tansu-only path.

**Without the per-record path.** Faust delivers each changelog record through its fetcher, its
conductor and a queue to its recovery loop, which awaits `asyncio.wait_for(queue.get())` and
recounts what remains of every partition, per record: ~100 µs a record, ~10 s of a restart holding
101,000 complaints, where a plain aiokafka read of the same changelogs takes 0.5 s
(docs/performance.md, "Restarts"). So once Faust has worked out where each active changelog
partition's reading starts and ends, `restore` reads them with a group-less aiokafka consumer and
hands the records to the table's own `apply_changelog_batch` in batches, as Faust's loop does,
advancing Faust's start offsets as it goes; Faust then finds nothing left to read. The store is
Faust's (in memory, or RocksDB, which records the offsets it applied), so are its bookkeeping and
its recovery callbacks. `on_changelog_event` callbacks are not called for these records: no table
of ours has one. The read has a budget (half of `broker_request_timeout`, under which Faust runs
this step, and past which it would stop its recovery for good): whatever is left when it runs out,
Faust reads its own way. Standby partitions are read by Faust, in the background, after recovery.

Both hooks replace methods of faust-streaming, which is pinned in pyproject.toml: `install` refuses
any other version, and tests/unit/test_recovery_patch.py fails when a method they wrap moves or
changes shape, so an upgrade cannot silently drop them.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, CollectionT

from services.offsets import verified_end_offsets
from services.pins import require_faust

log = logging.getLogger(__name__)
_ORIGINAL = AIOKafkaConsumerThread._highwaters
_ORIGINAL_BUILD_OFFSETS = Recovery._build_offsets
RESTORE_SHARE_OF_REQUEST_TIMEOUT = 0.5
RESTORE_BATCH_RECORDS = 10_000


def install(make_consumer: Callable[[], AIOKafkaConsumer]) -> None:
    """Make Faust's recovery use verified ends and read its active changelogs with `make_consumer`,
    which builds a group-less consumer."""
    require_faust("services/recovery.py patches table recovery", "Faust's table recovery against the dev broker")

    async def _highwaters(self: AIOKafkaConsumerThread, partitions: list[Any]) -> Mapping[Any, int]:
        listed = await _ORIGINAL(self, partitions)
        if self.consumer.in_transaction:
            return listed
        verified = await verified_end_offsets(make_consumer, listed)
        moved = {tp: (listed[tp], end) for tp, end in verified.items() if end != listed[tp]}
        if moved:
            log.warning("changelog ends under-reported by ListOffsets, verified by fetch: %s", moved)
        return verified

    async def _build_offsets(self: Recovery, consumer: Any, tps: set[TP], destination: Counter[TP], title: str) -> None:
        await _ORIGINAL_BUILD_OFFSETS(self, consumer, tps, destination, title)
        if title == "active":  # Faust built their highwaters just before: what remains is known
            budget = float(self.app.conf.broker_request_timeout) * RESTORE_SHARE_OF_REQUEST_TIMEOUT
            tables = {tp: self.tp_to_table[tp] for tp in tps}
            await restore(make_consumer, tables, destination, self.active_highwaters, budget)

    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]


async def restore(
    make_consumer: Callable[[], AIOKafkaConsumer],
    tables: Mapping[TP, CollectionT],
    applied: MutableMapping[TP, int],
    last: Mapping[TP, int],
    budget_seconds: float,
) -> None:
    """Apply each changelog partition's records after offset `applied[tp]` up to offset `last[tp]`
    (both inclusive ends, -1 for none, as Faust counts them) to `tables[tp]`, moving `applied[tp]`
    on with every batch applied, until all are applied or `budget_seconds` have passed."""
    behind = {tp: TopicPartition(tp.topic, tp.partition) for tp in tables if applied[tp] < last[tp]}
    if not behind or budget_seconds <= 0:  # (aiokafka 0.12 raises when a consumer stops before its first await)
        return
    started, records = time.monotonic(), 0
    consumer = make_consumer()
    await consumer.start()
    try:
        consumer.assign(list(behind.values()))
        for tp, partition in behind.items():
            consumer.seek(partition, applied[tp] + 1)
        while behind and time.monotonic() - started < budget_seconds:
            fetched = await consumer.getmany(*behind.values(), timeout_ms=100, max_records=RESTORE_BATCH_RECORDS)
            for partition, batch in fetched.items():
                tp = TP(partition.topic, partition.partition)
                wanted = [record for record in batch if record.offset <= last[tp]]
                if wanted:
                    events = [_ChangelogEvent(tp, record) for record in wanted]
                    tables[tp].apply_changelog_batch(events)  # type: ignore[arg-type]  # an EventT for the stores
                    applied[tp] = wanted[-1].offset
                    records += len(wanted)
            for tp, partition in list(behind.items()):
                if applied[tp] >= last[tp] or await consumer.position(partition) > last[tp]:
                    applied[tp] = last[tp]  # the end may be a gap (a compacted tombstone, a marker)
                    del behind[tp]
    finally:
        await consumer.stop()
    seconds = time.monotonic() - started
    if behind:
        rest = sorted(behind)
        budget = "read %d changelog records in %.1f s, the budget; Faust reads the rest of %s"
        log.warning(budget, records, seconds, rest)
    else:
        log.info("read %d changelog records of %d partitions in %.1f s", records, len(tables), seconds)


class _ChangelogEvent:
    """A changelog record in the shape Faust's stores read in `apply_changelog_batch`: the event and
    its message in one (memory: key, value, message.value, message.partition; RocksDB: message.tp,
    offset, key, value, partition)."""

    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, record: ConsumerRecord[bytes, bytes]) -> None:
        self.tp, self.partition, self.offset = tp, tp.partition, record.offset
        self.key, self.value = record.key, record.value

    @property
    def message(self) -> _ChangelogEvent:
        return self


def wrapped_signature() -> inspect.Signature:
    """The signature of the method `install` wraps, for the test that guards the pin."""
    return inspect.signature(_ORIGINAL)
