"""The complaint agent's alerts are on the broker before the table remembers a case that raised
them, and its rejections before the offsets of their messages are committed (services/agents.py,
`save_held_cases` and `before_commit`), though no step waits for either: a save awaits the alerts
sent before it began, then writes the cases held before it began, and leaves the rest for the next
save; a commit awaits the rejections sent before it began. A delivery that fails stops the worker
before anything records it as done."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from aiokafka.errors import KafkaTimeoutError

from events.codec import decode_keyed_event
from events.errors import Rejection
from services import agents
from services.cases import StoredCase, UnsavedCases
from services.urgent import Unconfirmed
from tests.folding import cases_of
from tests.wire import received

NOW = datetime.now(UTC)


class Broker:
    """The two things a save or a commit touches on the broker's side: deliveries, and table writes."""

    def __init__(self) -> None:
        self.happened: list[str] = []

    def delivery(self, name: str) -> asyncio.Future[Any]:
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        delivery.add_done_callback(lambda _: self.happened.append(f"{name} delivered"))
        return delivery

    def failed(self, name: str) -> asyncio.Future[Any]:
        delivery = self.delivery(name)
        delivery.set_exception(KafkaTimeoutError())
        return delivery

    async def save(self, table: object, key: bytes, value: bytes, partition: int) -> None:
        self.happened.append(f"case {key.decode()} written")


def held(complaint_id: str) -> StoredCase:
    [case] = cases_of([received(complaint_id, at=NOW - timedelta(minutes=5))], agents.rules)
    return StoredCase(0, case)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    broker = Broker()
    monkeypatch.setattr(agents, "output", SimpleNamespace(save=broker.save))
    monkeypatch.setattr(agents, "unsaved", UnsavedCases(limit=10))
    monkeypatch.setattr(agents, "unconfirmed_alerts", Unconfirmed())
    monkeypatch.setattr(agents, "unconfirmed_rejections", Unconfirmed())
    monkeypatch.setattr(agents, "_saving", asyncio.Lock())
    return broker


async def test_a_save_writes_its_cases_only_once_the_alerts_sent_before_it_are_delivered(broker: Broker) -> None:
    first = broker.delivery("A-1")
    agents.unconfirmed_alerts.add(first)
    agents.unsaved.hold("C-1", held("C-1"))  # a step sent A-1, then held its case

    save = asyncio.create_task(agents.save_held_cases())
    for _ in range(5):
        await asyncio.sleep(0)
    assert broker.happened == [], "nothing written while A-1 is not on the broker"

    later = broker.delivery("A-2")
    agents.unconfirmed_alerts.add(later)
    agents.unsaved.hold("C-2", held("C-2"))  # a step during the save: the next save's
    first.set_result(None)
    await save

    assert broker.happened == ["A-1 delivered", "case C-1 written"]
    assert agents.unsaved.get("C-2") is not None and agents.unsaved.get("C-1") is None
    assert agents.unconfirmed_alerts.take() == [later], "A-2 is left for the save that writes C-2"


class Exited(Exception):
    """`os._exit` in these tests: the worker would stop there."""


def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []

    def exit_(code: int) -> None:
        codes.append(code)
        raise Exited(code)

    monkeypatch.setattr(agents.os, "_exit", exit_)
    return codes


async def test_a_commit_goes_ahead_once_the_rejections_sent_before_it_are_delivered(broker: Broker) -> None:
    rejection = broker.delivery("R-1")
    agents.unconfirmed_rejections.add(rejection)
    agents.unsaved.hold("C-1", held("C-1"))

    commit = asyncio.create_task(agents.before_commit())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not commit.done(), "no offset is committed while R-1 is not on the broker"

    later = broker.delivery("R-2")
    agents.unconfirmed_rejections.add(later)  # a step during the commit: the next commit's
    rejection.set_result(None)
    await commit

    assert broker.happened == ["case C-1 written", "R-1 delivered"]
    assert agents.unconfirmed_rejections.take() == [later]


async def test_an_alert_not_delivered_stops_the_worker_before_the_save_writes(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = exits(monkeypatch)
    agents.unconfirmed_alerts.add(broker.failed("A-1"))
    agents.unsaved.hold("C-1", held("C-1"))

    with pytest.raises(Exited):
        await agents.save_held_cases()

    assert codes == [agents.EXIT_CANNOT_ALERT]
    assert not [step for step in broker.happened if "written" in step], "its events are processed again"


async def test_a_rejection_not_delivered_stops_the_worker_before_the_commit(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = exits(monkeypatch)
    agents.unconfirmed_rejections.add(broker.failed("R-1"))

    with pytest.raises(Exited):
        await agents.before_commit()  # what services/commits.py awaits before it commits anything

    assert codes == [agents.EXIT_CANNOT_REJECT]


class Sent(NamedTuple):
    topic: str
    key: bytes
    delivery: asyncio.Future[Any]


@pytest.fixture
def silent_urgent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """The urgent producer of a broker that never answers: every send's delivery stays pending."""
    sent: list[Sent] = []

    async def send(topic: str, *, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        sent.append(Sent(topic, key or b"", asyncio.get_running_loop().create_future()))
        return sent[-1].delivery

    monkeypatch.setattr(agents, "urgent", SimpleNamespace(send=send))
    monkeypatch.setattr(agents, "unconfirmed_alerts", Unconfirmed())
    monkeypatch.setattr(agents, "unconfirmed_rejections", Unconfirmed())
    return sent


async def test_a_step_that_raises_alerts_does_not_wait_for_them(silent_urgent: list[Sent]) -> None:
    [case] = cases_of([received("C-1", at=NOW - timedelta(days=30))], agents.rules)
    settled = agents.cases.assess(case, agents.rules, NOW).settled
    assert settled.raised, "a complaint received a month ago has breached"

    await asyncio.wait_for(agents.raise_alerts(settled, NOW), timeout=1)

    assert [sent.key for sent in silent_urgent] == [b"C-1"] * len(settled.raised)
    assert agents.unconfirmed_alerts.take() == [sent.delivery for sent in silent_urgent]


async def test_a_step_that_rejects_its_message_does_not_wait_for_the_broker(silent_urgent: list[Sent]) -> None:
    message = SimpleNamespace(key=b"C-1", value=b"not json", message=SimpleNamespace(topic="t", partition=0, offset=7))

    with pytest.raises(Rejection) as raised:
        decode_keyed_event(message.key, message.value)
    await asyncio.wait_for(agents.reject(message, raised.value), timeout=1)  # type: ignore[arg-type]

    assert agents.unconfirmed_rejections.take() == [sent.delivery for sent in silent_urgent]
