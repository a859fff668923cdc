"""`complaintflow redrive`: publish rejected messages again once their cause is gone.

A rejection keeps the original key and bytes (or, for a value too big to carry, its position in
complaints.events, which is never deleted). Redrive selects rejections (by reason, complaint or
source offsets), publishes the originals to complaints.events unchanged, waits until the worker's
consumer group has processed them, and reports which were accepted this time and which were
rejected again (with the new reason). An original the worker had meanwhile accepted another way
is ignored as an exact duplicate, and counts as accepted.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.clients import producer, read_topic
from services.kafka_options import client_options
from services.settings import Settings
from services.topics import EVENTS, REJECTED


@dataclass(frozen=True)
class Selection:
    reasons: frozenset[str] = frozenset()
    complaints: frozenset[str] = frozenset()
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        offset = record["source_offset"]
        return (
            (not self.reasons or record["reason_code"] in self.reasons)
            and (not self.complaints or (record.get("complaint_id") or record.get("key")) in self.complaints)
            and (self.partition is None or record["source_partition"] == self.partition)
            and (self.from_offset is None or offset >= self.from_offset)
            and (self.to_offset is None or offset <= self.to_offset)
        )


@dataclass(frozen=True)
class Outcome:
    original: dict[str, Any]
    partition: int
    offset: int
    rejected_again: dict[str, Any] | None

    def describe(self) -> str:
        where = f"{self.original['source_partition']}@{self.original['source_offset']}"
        now = f"{self.partition}@{self.offset}"
        if self.rejected_again is None:
            return f"accepted   {self.original.get('key')} (was {where}, now {now})"
        return f"rejected   {self.original.get('key')} (was {where}, now {now}): {self.rejected_again['reason']}"


class NotProcessedInTime(Exception):
    """The worker did not get to the redriven messages within the wait."""


async def select(settings: Settings, selection: Selection) -> list[dict[str, Any]]:
    """The matching rejections of messages from complaints.events, oldest first, one per original
    (key and bytes): a message rejected, redriven and rejected again is sent once, not twice."""
    chosen: dict[tuple[str | None, str], dict[str, Any]] = {}
    async for record in read_topic(settings, settings.topic(REJECTED.name)):
        if record.value is None:
            continue
        rejection = orjson.loads(record.value)
        if rejection["source_topic"] == settings.topic(EVENTS.name) and selection.matches(rejection):
            chosen.setdefault((rejection.get("key"), rejection["value_sha256"]), rejection)
    return list(chosen.values())


async def redrive(settings: Settings, rejections: list[dict[str, Any]], *, wait_seconds: float) -> list[Outcome]:
    """Publish the originals again, wait for the worker, and say what became of each."""
    if not rejections:
        return []
    originals = [await _original(settings, rejection) for rejection in rejections]
    client = producer(settings)
    await client.start()
    try:
        deliveries = [await client.send(settings.topic(EVENTS.name), key=key, value=value) for key, value in originals]
        positions = [(meta.partition, meta.offset) for meta in await asyncio.gather(*deliveries)]
    finally:
        await client.stop()
    await _wait_until_processed(settings, positions, wait_seconds)
    again = await _rejections_at(settings, set(positions))
    return [
        Outcome(rejection, partition, offset, again.get((partition, offset)))
        for rejection, (partition, offset) in zip(rejections, positions, strict=True)
    ]


async def _original(settings: Settings, rejection: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    key = None if rejection.get("key") is None else str(rejection["key"]).encode()
    if not rejection.get("value_truncated"):
        value = base64.b64decode(rejection["value_base64"])
        return key, value
    return key, await _read_at(settings, rejection["source_partition"], rejection["source_offset"])


async def _read_at(settings: Settings, partition: int, offset: int) -> bytes | None:
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, fetch_max_bytes=64 << 20
    )
    await consumer.start()
    try:
        position = TopicPartition(settings.topic(EVENTS.name), partition)
        consumer.assign([position])
        consumer.seek(position, offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        return record.value
    finally:
        await consumer.stop()


async def _wait_until_processed(settings: Settings, positions: Iterable[tuple[int, int]], wait_seconds: float) -> None:
    """Until the worker's group has committed past every redriven message."""
    needed: dict[int, int] = {}
    for partition, offset in positions:
        needed[partition] = max(needed.get(partition, -1), offset + 1)
    group = AIOKafkaConsumer(**client_options(settings), group_id=settings.app_id)
    await group.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            committed = {p: await group.committed(TopicPartition(settings.topic(EVENTS.name), p)) or 0 for p in needed}
            if all(committed[p] >= end for p, end in needed.items()):
                return
            if loop.time() > deadline:
                behind = {p: (committed[p], end) for p, end in needed.items() if committed[p] < end}
                raise NotProcessedInTime(
                    f"the worker group {settings.app_id!r} has not processed the redriven messages within "
                    f"{wait_seconds:g} s (partition: committed, needed: {behind}); is a worker running?"
                )
            await asyncio.sleep(0.5)
    finally:
        await group.stop()


async def _rejections_at(settings: Settings, positions: set[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
    found: dict[tuple[int, int], dict[str, Any]] = {}
    async for record in read_topic(settings, settings.topic(REJECTED.name)):
        if record.value is None:
            continue
        rejection = orjson.loads(record.value)
        position = (rejection["source_partition"], rejection["source_offset"])
        if rejection["source_topic"] == settings.topic(EVENTS.name) and position in positions:
            found[position] = rejection
    return found
