"""Where a partition of the log ends, verified by a fetch: ListOffsets alone can under-report it.

The dev broker (Tansu 0.6) under-reports ListOffsets "latest" after batched writes (two batches of
10 records give 11, not 20; tests/integration/test_end_offsets.py). The high-water mark a fetch
response carries is right there, and on Apache Kafka the two agree, so the verified end is
`max(listed, fetched)` everywhere: a check, not a Tansu-only path. Faust's table recovery
(services/recovery.py) and `complaintflow replay` both read to this end.

Apart from services/recovery.py so that the replay path can use it without importing Faust
(about a quarter of a second of a replay's start-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def verified_end_offsets(
    make_consumer: Callable[[], AIOKafkaConsumer],
    listed: Mapping[Any, int],
    *,
    timeout_seconds: float = 10.0,
) -> dict[Any, int]:
    """The end of each partition: the listed end, or the fetch high-water mark when it is larger.

    `listed` maps (topic, partition) tuples (Faust's TP or aiokafka's TopicPartition) to the end
    ListOffsets gave. Partitions whose fetch does not answer within the timeout keep their listed end.
    An empty partition answers after the consumer's `fetch_max_wait_ms` (the broker waits for data
    that does not come): a caller in a hurry gives it a consumer with a short one.
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
            # short polls: an empty partition's answer has no record to end the wait, only its mark
            await consumer.getmany(timeout_ms=10, max_records=1)
        return {tp: max(listed[tp], consumer.highwater(partition) or 0) for tp, partition in partitions.items()}
    finally:
        await consumer.stop()
