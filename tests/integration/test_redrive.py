"""`complaintflow redrive`: a message rejected because it came too early is accepted on redrive."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.settings import Settings
from tests.integration.conftest import complaintflow, wait_for_record
from tests.wire import T0, assigned, minutes, received

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


async def test_an_assignment_that_arrived_before_its_complaint_is_accepted_when_redriven(
    producer: AIOKafkaProducer, settings: Settings, worker_env: dict[str, str], new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("D")
    early = assigned(complaint_id, "家电部", "h-3", at=T0 + minutes(5))
    backdated = assigned(complaint_id, "家电部", "h-4", at=T0 - minutes(10))  # impossible even after `received`
    for wire_event in (early, backdated):
        await producer.send_and_wait(
            settings.topic("complaints.events"), key=complaint_id.encode(), value=orjson.dumps(wire_event)
        )
    await wait_for_record(
        settings,
        "complaints.rejected",
        lambda k, v: k == complaint_id.encode() and v["event_id"] == backdated["event_id"],
    )
    await producer.send_and_wait(
        settings.topic("complaints.events"), key=complaint_id.encode(), value=orjson.dumps(received(complaint_id))
    )
    await wait_for_record(settings, "complaints.state", lambda k, v: k == complaint_id.encode())

    dry = complaintflow("redrive", "--complaint", complaint_id, "--dry-run", env=worker_env)
    assert dry.returncode == 0 and "2 rejected message(s) match" in dry.stdout, dry.stdout + dry.stderr

    result = complaintflow("redrive", "--complaint", complaint_id, "--reason", "unknown_complaint", env=worker_env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "redrove 2: accepted 1, rejected again 1" in result.stdout
    assert "before the complaint was received" in result.stdout
    state = await wait_for_record(
        settings, "complaints.state", lambda k, v: k == complaint_id.encode() and v["version"] == 2
    )
    assert (state["department"], state["handler"]) == ("家电部", "h-3")
