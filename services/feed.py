"""Keeps the worker's `ReadModel` current, reads a complaint's events back, and probes the broker.

The feed is a plain aiokafka consumer without a group: it is assigned every partition of the
projection topics (and of complaints.events, for the history index) and reads them from the
beginning, so every worker holds the same view whatever partitions Faust gave it. Readers of the
live alert stream subscribe to it and are handed each newly raised alert.

Except for what this worker writes itself. While it owns partition p of complaints.events, it is
the only writer of partition p of complaints.state (the complaint agent publishes each state record
to its complaint's own partition number), and it reads every message of events partition p. So the
agent hands the model each event's position as it reads it, and each state record once the broker
has it (`took_event`, `state_sent`), and the feed does not read them back: that was a third or more
of what the worker cost the broker (docs/performance.md, "The read model's own partitions"). The
feed reads such a partition until it reaches the first record the agent handed over, pauses it
there, and picks it up again after the last one when the partition is revoked (`OwnPartitions`):
nothing is read twice for long, and nothing is missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from mode import Service

from projections.history import LoggedEvent
from services.allocator import Trimmer, glibc_trim
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


@dataclass(slots=True)
class Handed:
    """The offsets of one partition the agent handed the model since this worker came to own it."""

    first: int | None = None
    last: int = -1

    def took(self, offset: int) -> None:
        if self.first is None or offset < self.first:
            self.first = offset
        if offset > self.last:
            self.last = offset


@dataclass(slots=True)
class OwnPartitions:
    """Which partitions the model takes from this worker's agent instead of the broker, and from
    where the feed must read them again once they are revoked.

    A partition is owned from `own` to `disown_all` (Faust revokes every partition at a rebalance,
    then assigns the new set). Each ownership has its own `Handed`: a state record sent while a
    partition was owned counts for that ownership only, even when the broker confirms it later."""

    handed: dict[TopicPartition, Handed] = field(default_factory=dict)
    paused: set[TopicPartition] = field(default_factory=set)

    def own(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.handed.setdefault(tp, Handed())

    def ownership(self, tp: TopicPartition) -> Handed | None:
        return self.handed.get(tp)

    def to_pause(self, tp: TopicPartition, position: int) -> bool:
        """Whether the feed, next to read `position`, has read everything of `tp` before what the
        agent handed over, so that it can stop reading it."""
        handed = self.handed.get(tp)
        return tp not in self.paused and handed is not None and handed.first is not None and position >= handed.first

    def waiting(self) -> list[TopicPartition]:
        """Owned partitions the agent has handed records of, which the feed still reads."""
        return [tp for tp, handed in self.handed.items() if handed.first is not None and tp not in self.paused]

    def disown_all(self) -> dict[TopicPartition, int]:
        """Forget every ownership; for each paused partition, the offset after the last record the
        agent handed over, from which the feed reads it again (or from where it paused, if later)."""
        resume = {tp: self.handed[tp].last + 1 for tp in self.paused}
        self.handed.clear()
        self.paused.clear()
        return resume


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
        self._events, self._states = self._topics[EVENTS.name], self._topics[STATE.name]
        """The topics whose partitions this worker's agent reads (events) and alone writes (state)."""
        self._consumer: AIOKafkaConsumer | None = None
        self._own = OwnPartitions()
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
            await self._pause_what_the_agent_hands_over(consumer)
            if not batches:
                self._trimmer.idle(time.monotonic())
            if not self.caught_up and not batches:
                self.caught_up = await self._read_to_high_water(consumer, partitions)

    async def _pause_what_the_agent_hands_over(self, consumer: AIOKafkaConsumer) -> None:
        for tp in self._own.waiting():
            position = await consumer.position(tp)
            if self._own.to_pause(tp, position):
                consumer.pause(tp)
                self._own.paused.add(tp)
                log.info("the read model takes %s[%d] from this worker's agent from offset %d", *tp, position)

    def own(self, partitions: Iterable[int]) -> None:
        """This worker's agent now reads these partitions of complaints.events (and so writes the
        same partitions of complaints.state): the model takes them from it from now on."""
        topics = (self._events, self._states)
        self._own.own(TopicPartition(topic, partition) for partition in partitions for topic in topics)

    async def disown(self) -> None:
        """The agent's partitions are revoked: read them from the broker again, from after the last
        record the agent handed over."""
        resume = self._own.disown_all()
        consumer = self._consumer
        if consumer is None:
            return
        for tp, after_handed in resume.items():
            position = max(await consumer.position(tp), after_handed)
            consumer.seek(tp, position)
            consumer.resume(tp)
            log.info("the read model reads %s[%d] from the broker again from offset %d", *tp, position)

    def partitions_from_agent(self) -> dict[str, int]:
        """Of each followed topic that the agent writes or reads, how many partitions the model takes
        from the agent now."""
        return {topic: sum(tp.topic == topic for tp in self._own.paused) for topic in (self._events, self._states)}

    def took_event(self, partition: int, offset: int, key: bytes | None) -> None:
        """The agent read this message of complaints.events."""
        self.model.take_event_position(key, partition, offset)
        handed = self._own.ownership(TopicPartition(self._events, partition))
        if handed is not None:
            handed.took(offset)

    def state_sent(self, partition: int, record: dict[str, Any], value: bytes) -> Callable[[int, int], None]:
        """What to call with its partition and offset once the broker has this state record (`value`
        is `record` as JSON), which the agent sent to `partition` (while it owned it, or not)."""
        handed = self._own.ownership(TopicPartition(self._states, partition))
        return partial(self._took_state, handed, record, value)

    def _took_state(
        self, handed: Handed | None, record: dict[str, Any], value: bytes, partition: int, offset: int
    ) -> None:
        try:
            self.model.take_state_record(record, value)
        except Exception:
            _skipped(self._states, partition, offset)
        if handed is not None:
            handed.took(offset)

    async def _read_to_high_water(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
        for tp in partitions:
            if tp in self._own.paused:
                continue  # the agent hands it over
            high_water = consumer.highwater(tp)
            if high_water is None or await consumer.position(tp) < high_water:
                return False
        return True

    def _take_safely(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        try:
            self._take(topic, partition, offset, key, value)
        except Exception:
            _skipped(topic, partition, offset)

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
        if topic == self._events:
            self.model.take_event_position(key, partition, offset)
        elif topic == self._states:
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
        topic = self._events
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


def _skipped(topic: str, partition: int, offset: int) -> None:
    """A record the read model cannot take, read from the broker or handed over by the agent, is
    logged (with the exception being handled) and skipped: the view is derived, the record stays
    on its topic, and the worker's processing must not stop for a dashboard."""
    log.exception("read model skipped %s[%d]@%d", topic, partition, offset)
