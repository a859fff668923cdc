"""Plain aiokafka clients for the CLI and tests: producing events, reading a topic to its end.

"The end" is what fetches say (the high-water mark returned with records), not ListOffsets alone:
the embedded broker under-reports ListOffsets "latest" after batched writes, and on Apache Kafka
the two agree, so reading until fetches stop returning records is correct on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from events.errors import ConfigurationError
from services.kafka_options import client_options, producer_options
from services.settings import Settings


class UnknownTopic(ConfigurationError):
    """The topic asked for does not exist on the cluster."""


def producer(settings: Settings) -> AIOKafkaProducer:
    """acks=all; idempotent only with COMPLAINTFLOW_PRODUCER_IDEMPOTENCE (the embedded broker fails InitProducerId)."""
    return AIOKafkaProducer(
        **client_options(settings), **producer_options(settings), client_id=f"{settings.app_id}-cli", linger_ms=5
    )


async def send_events(
    settings: Settings, events: Iterable[dict[str, Any]], rate: float = 0.0, *, on_time: bool = False
) -> int:
    """Publish wire events keyed by complaint_id; `rate` events/s (0 = as fast as the broker takes them).
    `on_time`: each event no earlier than its `occurred_at`, as a channel publishes live."""
    client = producer(settings)
    await client.start()
    sent = 0
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending = []
        for event in events:
            if on_time:
                due = datetime.fromisoformat(str(event["occurred_at"]))
                await asyncio.sleep(max(0.0, (due - datetime.now(due.tzinfo)).total_seconds()))
            pending.append(
                await client.send(
                    settings.topic("complaints.events"),
                    key=str(event["complaint_id"]).encode(),
                    value=orjson.dumps(event),
                )
            )
            sent += 1
            if rate > 0:
                ahead = started + sent / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await client.stop()
    return sent


async def read_topic(
    settings: Settings, topic: str, *, follow: bool = False, idle_seconds: float = 5.0
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the beginning, without a consumer group, until every partition's
    position reaches the high-water mark its fetches report (or, with `follow`, for ever).
    `idle_seconds` bounds the wait for a partition whose fetches return nothing at all."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster's metadata
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise UnknownTopic(
                f"topic {topic} does not exist on {settings.bootstrap_servers}: run `complaintflow topics`"
            )
        assignment = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        idle = 0.0
        while follow or idle < idle_seconds:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for record in records:
                    yield record
            if not follow and await _caught_up(consumer, assignment):
                return
            idle = 0.0 if any(batches.values()) else idle + 0.2
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, assignment: list[TopicPartition]) -> bool:
    for partition in assignment:
        highwater = consumer.highwater(partition)
        if highwater is None or await consumer.position(partition) < highwater:
            return False
    return True


async def latest_by_key(settings: Settings, topic: str) -> dict[bytes, Any]:
    """The last JSON value of every key of a (compacted) topic: what a table built from it holds."""
    latest: dict[bytes, Any] = {}
    async for record in read_topic(settings, topic):
        if record.key is not None and record.value is not None:
            latest[record.key] = orjson.loads(record.value)
    return latest
