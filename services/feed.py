"""Keeps the worker's `ReadModel` current, reads a complaint's events back, and probes the broker.

The feed is a plain aiokafka consumer without a group: it is assigned every partition of the
projection topics (and of complaints.events, for the history index) and reads them from the
beginning, so every worker holds the same view whatever partitions Faust gave it. Readers of the
live alert stream subscribe to it and are handed each newly raised alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from mode import Service

from services.allocator import Trimmer, glibc_trim
from services.history import LoggedEvent
from services.kafka_options import client_options
from services.readmodel import LoggedAlert, ReadModel
from services.settings import Settings
from services.topics import ALERTS, ALL_TOPICS, EVENTS, STATE, WORKLOAD

log = logging.getLogger(__name__)
SUBSCRIBER_BACKLOG = 10_000
"""Alerts a stream reader may fall behind by before it is cut off (it reconnects and resumes)."""
PROBE_TIMEOUT_SECONDS = 3.0
FOLLOW_FETCH_MIN_BYTES = 64 * 1024
"""What the read model's follower asks the broker to gather before it answers (or its wait expires):
under steady traffic a fetch per record or two costs the broker as much as the worker's own, and
Tansu's cost per fetch grows with the topic (docs/performance.md, "Latency")."""


@dataclass(frozen=True, slots=True)
class BrokerProbe:
    reachable: bool
    missing_topics: tuple[str, ...] = ()
    error: str | None = None


class Subscriber:
    """One live alert stream: a bounded queue, and whether it fell too far behind to stay exact."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[LoggedAlert] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self.overflowed = False

    def offer(self, alert: LoggedAlert) -> None:
        try:
            self.queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.overflowed = True


class ReadModelFeed(Service):
    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.model = ReadModel()
        self.subscribers: set[Subscriber] = set()
        self.caught_up = False
        """True once every partition was read to the high-water mark its last fetch reported."""
        self._topics = {name: settings.topic(name) for name in (STATE.name, WORKLOAD.name, ALERTS.name, EVENTS.name)}
        self._consumer: AIOKafkaConsumer | None = None
        self._history_reader: AIOKafkaConsumer | None = None
        self._history_lock = asyncio.Lock()
        self._probe: tuple[float, BrokerProbe] | None = None
        self._last_said: BrokerProbe | None = None
        self._trimmer = Trimmer(glibc_trim())
        """Returns what a burst freed to the system once the feed is idle (services/allocator.py)."""

    def _new_consumer(self, *, gathering: bool = False) -> AIOKafkaConsumer:
        """A group-less consumer; `gathering`: the follower's, which lets the broker gather records for
        up to read_model_fetch_max_wait_ms (the history reader answers a request: it takes what is there)."""
        gather = {
            "fetch_min_bytes": FOLLOW_FETCH_MIN_BYTES,
            "fetch_max_wait_ms": self.settings.read_model_fetch_max_wait_ms,
        }
        return AIOKafkaConsumer(
            **client_options(self.settings),
            client_id=f"{self.settings.app_id}-readmodel",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            **(gather if gathering else {}),
        )

    async def on_start(self) -> None:
        self._consumer = self._new_consumer(gathering=True)
        await self._consumer.start()
        self._history_reader = self._new_consumer()
        await self._history_reader.start()
        self.add_future(self._follow(self._consumer))

    async def on_stop(self) -> None:
        for consumer in (self._consumer, self._history_reader):
            if consumer is not None:
                await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while not self.should_stop:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            except KafkaError as error:  # the broker went away: keep trying, /healthz says so meanwhile
                log.warning("read model cannot fetch: %s", error)
                await asyncio.sleep(1.0)
                continue
            for partition, records in batches.items():
                for record in records:
                    self._take_safely(partition.topic, partition.partition, record.offset, record.key, record.value)
                self._trimmer.took(len(records))
            if not batches:
                self._trimmer.idle(time.monotonic())
            if not self.caught_up and not batches:
                self.caught_up = await self._read_to_high_water(consumer, partitions)

    async def _read_to_high_water(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
        for tp in partitions:
            high_water = consumer.highwater(tp)
            if high_water is None or await consumer.position(tp) < high_water:
                return False
        return True

    def _take_safely(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """A record the read model cannot take is logged and skipped: the view is derived, the record
        stays on its topic, and the worker's processing must not stop for a dashboard."""
        try:
            self._take(topic, partition, offset, key, value)
        except Exception:
            log.exception("read model skipped %s[%d]@%d", topic, partition, offset)

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the followed topics, waiting for topics that do not exist yet."""
        while True:
            found = [
                TopicPartition(topic, partition)
                for topic in self._topics.values()
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if {tp.topic for tp in found} == set(self._topics.values()):
                return found
            await consumer.topics()  # refreshes the metadata
            await asyncio.sleep(1.0)

    def _take(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        if topic == self._topics[EVENTS.name]:
            self.model.take_event_position(key, partition, offset)
        elif topic == self._topics[STATE.name]:
            self.model.take_state(value)
        elif topic == self._topics[WORKLOAD.name]:
            self.model.take_workload(value)
        else:
            raised = self.model.take_alert(partition, offset, value)
            if raised is not None:
                for subscriber in self.subscribers:
                    subscriber.offer(raised)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def read_events(self, positions: Iterable[tuple[int, int]]) -> list[LoggedEvent]:
        """The complaints.events records at `positions`, in log order (one reader at a time)."""
        wanted = sorted(set(positions))
        found: dict[tuple[int, int], LoggedEvent] = {}
        reader = self._history_reader
        if reader is None or not wanted:
            return []
        topic = self._topics[EVENTS.name]
        async with self._history_lock:
            for partition, offset in wanted:
                if (partition, offset) in found:
                    continue
                tp = TopicPartition(topic, partition)
                reader.assign([tp])
                reader.seek(tp, offset)
                records = (await reader.getmany(tp, timeout_ms=2000, max_records=500)).get(tp, [])
                for record in records:
                    found[(partition, record.offset)] = LoggedEvent(
                        partition, record.offset, record.timestamp, record.key, record.value or b""
                    )
        return [found[position] for position in wanted if position in found]

    @Service.timer(10.0)
    async def _watch_the_broker(self) -> None:
        """Say plainly in the log when the broker goes away, comes back, or comes back empty."""
        probe = await self.probe()
        if probe != self._last_said:
            if not probe.reachable:
                log.error("the broker does not answer (%s); the worker keeps trying", probe.error)
            elif probe.missing_topics:
                log.critical(
                    "the broker answers but has lost complaintflow's topics %s: its data is gone (the embedded broker "
                    "keeps nothing across restarts). Recreate them (`complaintflow topics`) and republish, or "
                    "`complaintflow import` an export; then restart the workers",
                    ", ".join(probe.missing_topics),
                )
            elif self._last_said is not None:
                log.warning("the broker answers again, with every topic")
            self._last_said = probe

    async def probe(self) -> BrokerProbe:
        """Is the broker answering, and does it still have our topics? Cached for a second."""
        now = time.monotonic()
        if self._probe is not None and now - self._probe[0] < 1.0:
            return self._probe[1]
        result = await self._fresh_probe()
        self._probe = (time.monotonic(), result)
        return result

    async def _fresh_probe(self) -> BrokerProbe:
        consumer = self._history_reader
        if consumer is None:
            return BrokerProbe(False, error="the read model is not started yet")
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                present = await consumer.topics()
        except (TimeoutError, KafkaError) as error:
            return BrokerProbe(False, error=f"the broker does not answer: {type(error).__name__}")
        missing = tuple(
            self.settings.topic(spec.name) for spec in ALL_TOPICS if self.settings.topic(spec.name) not in present
        )
        return BrokerProbe(True, missing)
