"""The worker's second producer: for the messages whose delivery the complaint agent must know of.

An alert is on the broker before the table remembers it as raised (a crash repeats an alert, never
loses one): the complaint agent sends it here at its step and awaits its delivery, with every other
alert sent since the last save, before it next saves cases to the table (`Unconfirmed`). A
rejection is sent at its step and awaited before the offset commit that covers its message. Faust's
producer lingers (COMPLAINTFLOW_PRODUCER_LINGER_MS) so that the bulk of the output (state records,
changelogs, shares) travels in few, full batches; this producer never lingers: an alert leaves at
once (figure 3's delay), and the waits for its records, which a save or a commit holds up, end a
round trip after the last was sent.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from mode import Service

from services.kafka_options import client_options, producer_options
from services.settings import Settings


class UrgentProducer(Service):
    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        self._producer = AIOKafkaProducer(
            **client_options(self.settings),
            **producer_options(self.settings),
            client_id=f"{self.settings.app_id}-urgent",
            linger_ms=0,
        )
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, topic: str, *, key: bytes | None, value: bytes) -> asyncio.Future[RecordMetadata]:
        """Hand the message over; await the returned future for the broker's acknowledgement."""
        if self._producer is None:  # Faust starts extra services after recovery, agents may be quicker
            await self.maybe_start()
        assert self._producer is not None
        future: asyncio.Future[RecordMetadata] = await self._producer.send(topic, key=key, value=value)
        return future


class Unconfirmed:
    """Records sent and not yet known to be on the broker, awaited together later.

    The complaint agent's alerts, which must be on the broker before the table remembers their case
    as raised (the table is written once per offset commit: `services.agents.save_held_cases`), and
    its rejections, which must be before their message's offset is committed. Awaited at each step,
    either cost that step a round trip to the broker: on a backlog whose steps raise or retract
    alerts at most events (weeks-old complaints, 5.6 alerts an event), or under a flood of hostile
    input, the worker spent its time waiting (docs/performance.md, "Alerts awaited before the save,
    rejections before the commit")."""

    def __init__(self) -> None:
        self._sent: list[asyncio.Future[RecordMetadata]] = []

    def add(self, delivery: asyncio.Future[RecordMetadata]) -> None:
        self._sent.append(delivery)

    def take(self) -> list[asyncio.Future[RecordMetadata]]:
        """Every delivery added so far, for the caller to await; those added from now on are the next take's."""
        sent, self._sent = self._sent, []
        return sent
