"""The baseline: a plain aiokafka loop around the same core the Faust agent calls.

Per event, exactly what `services.agents.fold_complaint_event` does: `decode_keyed_event`,
`accept_event` (rejections go to the rejected topic), `assess` at the wall clock, alerts, the
state record, the workload shares counted. Per batch: the shares that changed, then wait for
every send to be acknowledged, then commit (at-least-once, batch by batch). Cases live in a
dict: no table, no changelog (unless `--changelog`, which also produces each changed case's
table bytes to a changelog-like topic), no SLA timer, no workload agent adding up the shares.

Run as a process, like the worker: `python -m benchmarks.baseline --help`. It prints one JSON
line `{"ready": ...}` once its partitions are assigned and, with `--events N`, a final JSON line
with the assignment time and the counts once N messages are consumed and acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord

from events.codec import decode_keyed_event, for_orjson
from events.errors import Rejection
from projections import case as cases
from projections.case import Case
from services.cases import encode_stored
from services.rejections import rejected_key, rejection_record
from services.rules import load_rulebook
from services.settings import Settings
from services.shares import PartitionShares
from services.topics import COMPLAINTS_TABLE, WORKLOAD_SHARES, changelog_name


class _Assigned(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.at: float | None = None
        self.cpu_at: float | None = None
        """This process's CPU seconds at assignment: the loop's own cost is counted from there."""

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: object) -> None:
        if self.at is None and assigned:
            self.at, self.cpu_at = time.time(), time.process_time()
            print(orjson.dumps({"ready": self.at}).decode(), flush=True)


class Loop:
    """The fold and its outputs; `step` handles one consumed record and returns the sends it made."""

    def __init__(self, settings: Settings, target: Settings, producer: AIOKafkaProducer, changelog: bool) -> None:
        self.rules = load_rulebook(settings)
        self.producer, self.changelog = producer, changelog
        self.cases: dict[str, Case] = {}
        self.topics = {name: target.topic(f"complaints.{name}") for name in ("state", "alerts", "rejected")}
        self.topics["shares"] = target.topic(WORKLOAD_SHARES.name)
        self.shares = PartitionShares()
        self.topics["changelog"] = changelog_name(target.app_id, COMPLAINTS_TABLE)
        self.accepted = self.rejected = 0

    async def step(self, record: ConsumerRecord[bytes, bytes]) -> list[asyncio.Future[Any]]:
        try:
            event = decode_keyed_event(record.key, record.value)  # a null value is rejected by the door itself
            before = self.cases.get(event.complaint_id)
            published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            after = cases.accept_event(before, event, self.rules, published_at=published)
        except Rejection as rejection:
            self.rejected += 1
            value = rejection_record(
                rejection,
                key=record.key,
                value=record.value,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            return [await self.producer.send(self.topics["rejected"], key=rejected_key(record.key), value=value)]
        self.accepted += 1
        now = datetime.now(UTC)
        assessment = cases.assess(after, self.rules, now)
        settled = assessment.settled
        case, key = settled.case, settled.case.complaint_id.encode()
        self.cases[case.complaint_id] = case
        sends = [
            await self.producer.send(self.topics["alerts"], key=key, value=orjson.dumps(cases.alert_record(alert, now)))
            for alert in (*settled.raised, *settled.retracted)
        ]
        record_ = cases.to_record(case, self.rules, now, assessment.views, instant=for_orjson)
        sends.append(await self.producer.send(self.topics["state"], key=key, value=orjson.dumps(record_)))
        standing = cases.standing(case, self.rules, now, assessment.views)
        self.shares.count(record.partition, before, case, cases.departments_touched(before, case), standing)
        if self.changelog and case is not before:
            value, partition = encode_stored(record.partition, case), record.partition
            sends.append(await self.producer.send(self.topics["changelog"], key=key, value=value, partition=partition))
        return sends

    async def publish_shares(self) -> list[asyncio.Future[Any]]:
        return [
            await self.producer.send(
                self.topics["shares"], key=share.department.encode(), value=share.model_dump_json().encode()
            )
            for share in self.shares.take_changed()
        ]


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    source = Settings(kafka_bootstrap_servers=arguments.bootstrap, topic_prefix=arguments.source)
    target = Settings(
        kafka_bootstrap_servers=arguments.bootstrap, topic_prefix=arguments.target, app_id=f"{arguments.target}app"
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=source.bootstrap_servers,
        group_id=arguments.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
        fetch_max_wait_ms=source.consumer_fetch_max_wait_ms,  # as the worker's consumer
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=source.bootstrap_servers, acks="all", linger_ms=5, enable_idempotence=False
    )
    assigned = _Assigned()
    consumer.subscribe([source.topic("complaints.events")], listener=assigned)
    await producer.start()
    await consumer.start()
    loop = Loop(source, target, producer, arguments.changelog)
    consumed = 0
    try:
        while arguments.events is None or consumed < arguments.events:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            sends = []
            for records in batches.values():
                for record in records:
                    sends += await loop.step(record)
                    consumed += 1
            sends += await loop.publish_shares()
            await asyncio.gather(*sends)
            if sends or batches:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    cpu = None if assigned.cpu_at is None else time.process_time() - assigned.cpu_at
    return {
        "assigned_at": assigned.at,
        "cpu_seconds": cpu,
        "consumed": consumed,
        "accepted": loop.accepted,
        "rejected": loop.rejected,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True, help="topic prefix of the complaints.events to read")
    parser.add_argument("--target", required=True, help="topic prefix of the state, alerts... topics to write")
    parser.add_argument("--group", required=True, help="consumer group (commits per batch)")
    parser.add_argument("--events", type=int, help="stop after this many messages (default: run until SIGTERM)")
    parser.add_argument("--changelog", action="store_true", help="also produce each changed case to a changelog")
    arguments = parser.parse_args(argv)
    try:
        result = asyncio.run(run(arguments))
    except KeyboardInterrupt:
        return 130
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
