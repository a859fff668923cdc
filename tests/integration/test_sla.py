"""The SLA engine live on the real broker: deadlines that pass with no event, late events, retractions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.settings import Settings
from tests.integration.conftest import TEST_POLICY_VERSION, send, wait_for_record, wait_for_records
from tests.wire import assigned, inspected, minutes, received

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


async def publish(producer: AIOKafkaProducer, settings: Settings, *events: dict[str, Any]) -> None:
    for wire_event in events:
        await send(producer, settings, str(wire_event["complaint_id"]).encode(), orjson.dumps(wire_event))


def alert_of(complaint_id: str, kind: str, clock: str | None = None) -> Callable[[bytes | None, dict[str, Any]], bool]:
    return lambda key, value: (
        key == complaint_id.encode() and value["kind"] == kind and (clock is None or value["clock"] == clock)
    )


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


async def test_a_deadline_that_passes_with_no_event_raises_its_breach_within_seconds(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id, desk = new_id("C"), new_id("服务台")
    received_at = datetime.now(UTC) - timedelta(minutes=60) + timedelta(seconds=4)
    await publish(
        producer,
        settings,
        received(complaint_id, department=desk, amount="300.00", at=received_at),
        assigned(complaint_id, desk, "h-7", at=received_at + minutes(2)),
    )

    breach = await wait_for_record(settings, "complaints.alerts", alert_of(complaint_id, "breached", "resolution"))

    deadline = received_at + timedelta(hours=1)
    assert _at(breach["deadline"]) == deadline and _at(breach["due_at"]) == deadline
    assert timedelta(0) <= _at(breach["raised_at"]) - deadline < timedelta(seconds=5), breach
    assert breach["alert_id"] == f"{complaint_id}:resolution:breached:0"
    assert breach["level"] == 0 and "resolution" in breach["reason"]
    at_risk = await wait_for_record(settings, "complaints.alerts", alert_of(complaint_id, "at_risk", "resolution"))
    assert _at(at_risk["due_at"]) == received_at + timedelta(minutes=48), "warning at 80 % of the hour"
    state = await wait_for_record(
        settings,
        "complaints.state",
        lambda k, v: k == complaint_id.encode() and any(a["kind"] == "breached" for a in v["alerts"]),
    )
    resolution = next(clock for clock in state["clocks"] if clock["name"] == "resolution")
    assert resolution["status"] == "breached" and resolution["remaining_seconds"] < 0
    assert state["escalation_level"] >= 1, "the resolution chain's first level has no delay"
    assert state["policy_version"] == TEST_POLICY_VERSION
    workload = await wait_for_record(
        settings, "complaints.workload", lambda k, v: k == desk.encode() and v["breached"] == 1
    )
    assert (workload["open"], workload["at_risk"]) == (1, 0), "a breached complaint is not also counted at risk"


async def test_a_complaint_received_days_ago_and_published_now_is_breached_and_escalated_at_once(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    await publish(
        producer, settings, received(complaint_id, amount="5000.00", at=datetime.now(UTC) - timedelta(days=5))
    )

    alerts = await wait_for_records(
        settings, "complaints.alerts", lambda k, v: k == complaint_id.encode() and v["kind"] == "escalated", count=3
    )

    assert {(alert["clock"], alert["level"]) for alert in alerts} >= {("ruling", 1), ("ruling", 2), ("ruling", 3)}
    kinds = await wait_for_records(settings, "complaints.alerts", lambda k, v: k == complaint_id.encode(), count=10)
    ids = [alert["alert_id"] for alert in kinds]
    assert len(ids) == len(set(ids)), "each alert is raised once"


async def test_a_late_lab_request_retracts_a_breach_already_raised(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    received_at = datetime.now(UTC) - timedelta(hours=2)
    await publish(
        producer,
        settings,
        received(complaint_id, amount="300.00", at=received_at),
        assigned(complaint_id, "客服中心", at=received_at + minutes(5)),
    )
    breach = await wait_for_record(settings, "complaints.alerts", alert_of(complaint_id, "breached", "resolution"))

    await publish(producer, settings, inspected(complaint_id, "lab", "requested", at=received_at + minutes(30)))

    retraction = await wait_for_record(
        settings,
        "complaints.alerts",
        lambda k, v: k == complaint_id.encode() and v["alert_id"] == f"{breach['alert_id']}:retracted",
    )
    assert retraction["kind"] == "retracted" and breach["alert_id"] in retraction["reason"]
    state = await wait_for_record(
        settings, "complaints.state", lambda k, v: k == complaint_id.encode() and v["version"] == 3
    )
    assert breach["alert_id"] not in {alert["alert_id"] for alert in state["alerts"]}
    resolution = next(clock for clock in state["clocks"] if clock["name"] == "resolution")
    assert resolution["status"] == "paused" and resolution["remaining_seconds"] == 30 * 60
