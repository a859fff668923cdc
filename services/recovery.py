"""Table recovery that reads every changelog to its true end, on any Kafka-protocol broker.

Faust restores a table by reading its changelog partitions up to the end ListOffsets reports, and
(with an on-disk store) refuses to start when the offset it persisted lies beyond that end. The
dev broker (Tansu 0.6) under-reports ListOffsets "latest" after batched writes: two batches of 10
records give 11, not 20 (measured; see tests/integration/test_recovery.py). Restoring to 11 would
forget the last writes of a table, and a complaint would continue from an older version.

The end is therefore verified with a fetch from just before the listed end: the high-water mark
in a fetch response is right on Tansu, and on Apache Kafka the two agree, so the verified end is
`max(listed, fetched)` everywhere: a check, not a Tansu-only path.

The hook replaces `AIOKafkaConsumerThread._highwaters` of faust-streaming, which is pinned in
pyproject.toml; `install` refuses any other version, and tests/unit/test_recovery_patch.py fails
when the method it wraps moves or changes shape, so an upgrade cannot silently drop the fix.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError

log = logging.getLogger(__name__)
PATCHED_FAUST_VERSION = "0.15.3"
_ORIGINAL = AIOKafkaConsumerThread._highwaters


async def verified_end_offsets(
    make_consumer: Callable[[], AIOKafkaConsumer],
    listed: Mapping[Any, int],
    *,
    timeout_seconds: float = 10.0,
) -> dict[Any, int]:
    """The end of each partition: the listed end, or the fetch high-water mark when it is larger.

    `listed` maps (topic, partition) tuples (Faust's TP or aiokafka's TopicPartition) to the end
    ListOffsets gave. Partitions whose fetch does not answer within the timeout keep their listed end.
    """
    if not listed:
        return {}
    consumer = make_consumer()
    await consumer.start()
    try:
        partitions = {tp: TopicPartition(tp[0], tp[1]) for tp in listed}
        consumer.assign(list(partitions.values()))
        for tp, partition in partitions.items():
            consumer.seek(partition, max(listed[tp] - 1, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while any(consumer.highwater(p) is None for p in partitions.values()) and loop.time() < deadline:
            await consumer.getmany(timeout_ms=100, max_records=1)
        return {tp: max(listed[tp], consumer.highwater(partition) or 0) for tp, partition in partitions.items()}
    finally:
        await consumer.stop()


def install(make_consumer: Callable[[], AIOKafkaConsumer]) -> None:
    """Make Faust's recovery use verified ends; `make_consumer` builds a group-less consumer."""
    if faust.__version__ != PATCHED_FAUST_VERSION:
        raise ConfigurationError(
            f"services/recovery.py patches faust-streaming {PATCHED_FAUST_VERSION}, found {faust.__version__}: "
            "re-check Faust's table recovery against the dev broker before changing the pin"
        )

    async def _highwaters(self: AIOKafkaConsumerThread, partitions: list[Any]) -> Mapping[Any, int]:
        listed = await _ORIGINAL(self, partitions)
        if self.consumer.in_transaction:
            return listed
        verified = await verified_end_offsets(make_consumer, listed)
        moved = {tp: (listed[tp], end) for tp, end in verified.items() if end != listed[tp]}
        if moved:
            log.warning("changelog ends under-reported by ListOffsets, verified by fetch: %s", moved)
        return verified

    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]


def wrapped_signature() -> inspect.Signature:
    """The signature of the method `install` wraps, for the test that guards the pin."""
    return inspect.signature(_ORIGINAL)
