"""End to end on the real broker: events in through a plain aiokafka producer, projections out."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from services.admin import ensure_topics, planned_topics
from services.cases import decode_stored
from services.settings import Settings
from tests.integration.conftest import send, start_worker, stop_worker, wait_for_record, wait_until_saved
from tests.wire import CHINA, T0, assigned, minutes, paid, received, ruled

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


HOURS_AGO = datetime.now(CHINA).replace(microsecond=0) - timedelta(hours=2)
"""When the workload tests' complaints were received: the worker judges their clocks at the wall
clock, so a fixed date would breach them once it is a week old (the 7-day follow-up clock)."""


def _key(complaint_id: str) -> Callable[[bytes | None, dict[str, object]], bool]:
    return lambda key, value: key == complaint_id.encode()


async def publish(producer: AIOKafkaProducer, settings: Settings, *events: dict[str, object]) -> None:
    for wire_event in events:
        await send(producer, settings, str(wire_event["complaint_id"]).encode(), orjson.dumps(wire_event))


async def publish_paid_claim(producer: AIOKafkaProducer, settings: Settings, complaint_id: str, desk: str) -> None:
    """Received at `desk` two hours ago, assigned there to 王芳, ruled and paid within the hour: four events."""
    await publish(
        producer,
        settings,
        received(complaint_id, department=desk, at=HOURS_AGO),
        assigned(complaint_id, desk, "王芳", at=HOURS_AGO + minutes(5)),
        ruled(complaint_id, at=HOURS_AGO + minutes(30)),
        paid(complaint_id, at=HOURS_AGO + minutes(50)),
    )


async def test_a_complaint_flows_to_its_state_and_its_department_workload(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id, desk = new_id("C"), new_id("服装部")
    await publish_paid_claim(producer, settings, complaint_id, desk)

    state = await wait_for_record(
        settings, "complaints.state", lambda k, v: _key(complaint_id)(k, v) and v["version"] == 4
    )
    assert state["stage"] == "paid"
    assert state["owner_department"] == desk and state["department"] == desk
    assert state["handler"] == "王芳"
    assert state["claim_amount"] == "1500.00"
    assert state["department_changes"] == 0
    assert state["customer"]["phone"] == "138****5678"
    assert state["last_event_at"] == (HOURS_AGO + minutes(50)).isoformat()

    workload = await wait_for_record(
        settings, "complaints.workload", lambda k, v: k == desk.encode() and v["by_stage"] == {"paid": 1}
    )
    assert _counts(workload) == {
        "department": desk,
        "open": 1,
        "owned": 1,
        "at_risk": 0,
        "breached": 0,
        "by_stage": {"paid": 1},
        "handlers": {"王芳": 1},
    }
    assert workload["oldest_open_seconds"] > 0, "received two hours ago"


async def test_a_complaint_changed_by_events_between_two_commits_is_saved_once_for_them(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    """The table's changelog gets a complaint's case once per commit (services/commits.py), not once
    per event: four events sent together fall within one commit interval (2.8 s), or two at most."""
    complaint_id, desk = new_id("C"), new_id("服装部")
    await publish_paid_claim(producer, settings, complaint_id, desk)
    await wait_for_record(settings, "complaints.state", lambda k, v: _key(complaint_id)(k, v) and v["version"] == 4)

    [saved] = (await wait_until_saved(settings, [complaint_id], version=4)).values()

    assert decode_stored(saved[-1]).case.complaint.stage == "paid", "saved as the state record says"
    assert len(saved) <= 2, f"{len(saved)} table values written for 4 events sent together"


async def test_reassignment_moves_the_workload_but_not_the_ownership(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id, counter, appliances = new_id("C"), new_id("客服中心"), new_id("家电部")
    await publish(
        producer,
        settings,
        received(complaint_id, department=counter, at=HOURS_AGO),
        assigned(complaint_id, appliances, "李雷", at=HOURS_AGO + minutes(3)),
    )

    state = await wait_for_record(
        settings, "complaints.state", lambda k, v: _key(complaint_id)(k, v) and v["version"] == 2
    )
    assert (state["owner_department"], state["department"], state["department_changes"]) == (counter, appliances, 1)
    owner = await wait_for_record(
        settings, "complaints.workload", lambda k, v: k == counter.encode() and v["open"] == 0
    )
    assert owner["owned"] == 1
    handler = await wait_for_record(settings, "complaints.workload", lambda k, v: k == appliances.encode())
    assert _counts(handler) == {
        "department": appliances,
        "open": 1,
        "owned": 0,
        "at_risk": 0,
        "breached": 1,  # received two hours ago, a 1,500 CNY claim: its 1-hour resolution clock is over
        "by_stage": {"assigned": 1},
        "handlers": {"李雷": 1},
    }


def _counts(record: dict[str, object]) -> dict[str, object]:
    """A workload record without the fields that depend on when it was evaluated."""
    return {name: value for name, value in record.items() if name not in ("oldest_open_seconds", "evaluated_at")}


def _without(document: dict[str, object], field: str) -> dict[str, object]:
    return {name: value for name, value in document.items() if name != field}


BAD_INPUTS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "not JSON": (lambda cid: b"{this is not json", "undecodable"),
    "not UTF-8": (lambda cid: b'{"complaint_id": "\xff\xfe"}', "undecodable"),
    "missing field": (lambda cid: orjson.dumps(_without(received(cid), "occurred_at")), "invalid"),
    "wrong type": (lambda cid: orjson.dumps(received(cid, amount=1500.5)), "invalid"),  # type: ignore[arg-type]
    "unknown event type": (lambda cid: orjson.dumps({**received(cid), "type": "teleported"}), "unsupported"),
    "impossible transition": (lambda cid: orjson.dumps(paid(cid)), "unknown_complaint"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
async def test_bad_input_is_rejected_with_its_bytes_and_the_next_event_still_flows(
    kind: str, producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    make_bad, expected_code = BAD_INPUTS[kind]
    complaint_id = new_id("C")
    bad = make_bad(complaint_id)
    await send(producer, settings, complaint_id.encode(), bad)
    await publish(producer, settings, received(complaint_id))

    rejected = await wait_for_record(settings, "complaints.rejected", _key(complaint_id))
    assert rejected["reason_code"] == expected_code, rejected["reason"]
    assert base64.b64decode(rejected["value_base64"]) == bad
    assert rejected["source_topic"] == settings.topic("complaints.events")
    assert isinstance(rejected["source_offset"], int) and rejected["reason"]
    state = await wait_for_record(settings, "complaints.state", _key(complaint_id))
    assert state["stage"] == "received"


async def test_an_impossible_transition_on_a_known_complaint_is_rejected_with_the_stage(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    await publish(producer, settings, received(complaint_id), assigned(complaint_id, "客服中心", at=T0 + minutes(1)))
    await publish(producer, settings, paid(complaint_id, at=T0 + minutes(2)))

    rejected = await wait_for_record(settings, "complaints.rejected", _key(complaint_id))
    assert rejected["reason_code"] == "impossible_transition"
    assert "no ruling yet" in rejected["reason"] and "assigned" in rejected["reason"]


async def test_a_repeated_event_is_ignored_and_a_conflicting_one_rejected(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    first = received(complaint_id)
    assignment = assigned(complaint_id, "客服中心", "h-1", at=T0 + minutes(1))
    conflicting = {**assignment, "data": {"department": "客服中心", "handler": "h-2"}}
    await publish(
        producer, settings, first, first, assignment, assignment, conflicting, ruled(complaint_id, at=T0 + minutes(9))
    )

    final = await wait_for_record(
        settings, "complaints.state", lambda k, v: _key(complaint_id)(k, v) and v["stage"] == "ruled"
    )
    assert final["version"] == 3, "the two exact repeats must not count"
    assert final["handler"] == "h-1"
    rejected = await wait_for_record(settings, "complaints.rejected", _key(complaint_id))
    assert rejected["reason_code"] == "conflicting_duplicate"
    assert rejected["event_id"] == assignment["event_id"]


async def test_an_event_from_the_future_is_rejected_but_one_within_the_clock_skew_is_accepted(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    late, skewed = new_id("C"), new_id("C")
    now = datetime.now(UTC)
    await publish(
        producer, settings, received(late, at=now + timedelta(hours=1)), received(skewed, at=now + minutes(2))
    )

    rejected = await wait_for_record(settings, "complaints.rejected", _key(late))
    assert rejected["reason_code"] == "from_the_future"
    assert "clock" in rejected["reason"]
    state = await wait_for_record(settings, "complaints.state", _key(skewed))
    assert state["stage"] == "received"


async def test_a_worker_needs_no_topic_that_complaintflow_topics_does_not_create(
    deployment: tuple[dict[str, str], Settings], producer: AIOKafkaProducer, new_id: Callable[[str], str]
) -> None:
    """Production clusters often refuse to auto-create topics; the dev broker creates any topic a
    client asks about, so a topic the worker asked for would show up here among the deployment's."""
    env, settings = deployment
    await ensure_topics(settings)
    worker = start_worker(env, "topics-worker.log")
    try:
        complaint_id = new_id("C")
        await publish(producer, settings, received(complaint_id, at=HOURS_AGO))
        await wait_for_record(settings, "complaints.state", _key(complaint_id))
    finally:
        stop_worker(worker)

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        on_the_broker = {name for name in await admin.list_topics() if name.startswith(settings.topic_prefix)}
    finally:
        await admin.close()
    assert on_the_broker == {name for name, _ in planned_topics(settings)}
