"""Where a partition ends: ListOffsets can under-report it on the dev broker, a fetch cannot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.offsets import verified_end_offsets
from services.settings import Settings
from tests.integration.conftest import create_topic

pytestmark = pytest.mark.integration


async def test_the_verified_end_counts_every_record_of_batched_writes(
    settings: Settings, new_id: Callable[[str], str]
) -> None:
    topic = new_id("end-offsets")
    await create_topic(settings, topic, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=100)
    await producer.start()
    try:
        for _ in range(2):  # two batches of 10 records on partition 0; partition 1 stays empty
            deliveries = [await producer.send(topic, b"%d" % i, partition=0) for i in range(10)]
            await asyncio.gather(*deliveries)
    finally:
        await producer.stop()

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None)

    listing = consumer()
    await listing.start()
    try:
        listed = await listing.end_offsets([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    finally:
        await listing.stop()

    verified = await verified_end_offsets(consumer, listed)

    assert verified == {TopicPartition(topic, 0): 20, TopicPartition(topic, 1): 0}
    assert all(verified[tp] >= listed[tp] for tp in listed), "never less than what ListOffsets says"
