"""Table recovery that reads every changelog to its true end, on any Kafka-protocol broker.

Faust restores a table by reading its changelog partitions up to the end ListOffsets reports, and
(with an on-disk store) refuses to start when the offset it persisted lies beyond that end. The
dev broker (Tansu 0.6) under-reports ListOffsets "latest" after batched writes: two batches of 10
records give 11, not 20 (measured; see tests/integration/test_recovery.py). Restoring to 11 would
forget the last writes of a table, and a complaint would continue from an older version.

The end is therefore verified with a fetch from just before the listed end
(`services.offsets.verified_end_offsets`, which replay uses too): the high-water mark in a fetch
response is right on Tansu, and on Apache Kafka the two agree, so the verified end is
`max(listed, fetched)` everywhere: a check, not a Tansu-only path.

The hook replaces `AIOKafkaConsumerThread._highwaters` of faust-streaming, which is pinned in
pyproject.toml; `install` refuses any other version, and tests/unit/test_recovery_patch.py fails
when the method it wraps moves or changes shape, so an upgrade cannot silently drop the fix.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError
from services.offsets import verified_end_offsets

log = logging.getLogger(__name__)
PATCHED_FAUST_VERSION = "0.15.3"
_ORIGINAL = AIOKafkaConsumerThread._highwaters


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
