"""Hostile input on the real broker: every kind lands on complaints.rejected with a reason (or is
ignored as an exact duplicate), and the worker keeps processing what follows."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.admin import ensure_topics
from services.settings import Settings
from tests.integration.conftest import (
    ARTIFACTS,
    event_outcomes,
    send,
    start_worker,
    stop_worker,
    wait_for_record,
    wait_for_records,
)
from tests.wire import CHINA, T0, assigned, inspected, minutes, received, ruled

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

WRONG_TYPES: dict[str, Any] = {
    "event_id": 17,
    "complaint_id": ["C"],
    "type": None,
    "occurred_at": 1764000000,
    "source": {"channel": "hotline"},
    "actor": False,
    "schema_version": "1",
    "data": "received",
}
WRONG_DATA_TYPES: dict[str, Any] = {
    "store": 3,
    "department": None,
    "other_departments": "sales",
    "merchant": 12,
    "category": "weather",
    "claim_amount": 1500.5,
    "personal_injury": "no",
    "media_involved": 0,
    "customer": "Li Na",
    "description": ["broken"],
}


def hostile(complaint_id: str) -> dict[str, tuple[bytes | None, str]]:
    """Each kind of bad message for `complaint_id`, and the rejection code it must earn."""
    good = received(complaint_id)
    cases: dict[str, tuple[bytes | None, str]] = {
        "random bytes": (os.urandom(64) + b"\xff", "undecodable"),
        "empty value": (b"", "undecodable"),
        "null value": (None, "undecodable"),
        "deeply nested JSON": (b'{"data":' * 5000 + b"1" + b"}" * 5000, "undecodable"),
        "a JSON array": (orjson.dumps([good]), "undecodable"),
        "future schema_version": (orjson.dumps({**good, "schema_version": 2}), "unsupported"),
        "unknown event type": (orjson.dumps({**good, "type": "teleported"}), "unsupported"),
        "timestamp without an offset": (orjson.dumps({**good, "occurred_at": "2026-11-22T09:00:00"}), "invalid"),
        "unknown field": (orjson.dumps({**good, "priority": "high"}), "invalid"),
        "event for an unknown complaint": (orjson.dumps(assigned(complaint_id, "客服中心")), "unknown_complaint"),
    }
    for field, value in WRONG_TYPES.items():
        code = "unsupported" if field == "type" else "invalid"  # a type that is no type is an unknown one
        cases[f"wrong type in {field}"] = (orjson.dumps({**good, field: value}), code)
    for field, value in WRONG_DATA_TYPES.items():
        cases[f"wrong type in data.{field}"] = (
            orjson.dumps({**good, "data": {**good["data"], field: value}}),
            "invalid",
        )
    return cases


async def test_every_kind_of_hostile_message_is_rejected_with_its_bytes_and_processing_continues(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_ids = {kind: new_id("H") for kind in hostile("x")}
    sent: dict[str, tuple[bytes | None, str]] = {}
    for kind, complaint_id in complaint_ids.items():
        value, code = hostile(complaint_id)[kind]
        sent[complaint_id] = (value, code)
        await producer.send_and_wait(settings.topic("complaints.events"), key=complaint_id.encode(), value=value)
    follower = new_id("H")
    await producer.send_and_wait(
        settings.topic("complaints.events"), key=follower.encode(), value=orjson.dumps(received(follower))
    )

    await wait_for_record(settings, "complaints.state", lambda k, v: k == follower.encode())
    keys = {complaint_id.encode() for complaint_id in sent}
    rejected = await wait_for_records(settings, "complaints.rejected", lambda k, v: k in keys, count=len(sent))

    by_complaint = {record["key"]: record for record in rejected}
    assert set(by_complaint) == set(sent), "exactly one rejection per hostile message"
    for complaint_id, (value, code) in sent.items():
        record = by_complaint[complaint_id]
        kind = next(k for k, cid in complaint_ids.items() if cid == complaint_id)
        assert record["reason_code"] == code, f"{kind}: {record['reason']}"
        assert base64.b64decode(record["value_base64"]) == (value or b""), kind
        assert record["reason"] and len(record["reason"]) < 2000, kind


async def test_a_ten_megabyte_value_is_rejected_not_choked_on(settings: Settings, new_id: Callable[[str], str]) -> None:
    complaint_id = new_id("H")
    huge = orjson.dumps({**received(complaint_id), "padding": "x" * (10 * 1024 * 1024)})
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", max_request_size=12 * 2**20)
    await client.start()
    try:
        await client.send_and_wait(settings.topic("complaints.events"), key=complaint_id.encode(), value=huge)
        follower = new_id("H")
        await client.send_and_wait(
            settings.topic("complaints.events"), key=follower.encode(), value=orjson.dumps(received(follower))
        )
    finally:
        await client.stop()

    rejected = await wait_for_record(settings, "complaints.rejected", lambda k, v: k == complaint_id.encode())
    assert rejected["reason_code"] == "invalid" and "padding" in rejected["reason"]
    assert rejected["value_truncated"] is True and rejected["value_size"] == len(huge)
    assert rejected["value_sha256"] == hashlib.sha256(huge).hexdigest()
    assert huge.startswith(base64.b64decode(rejected["value_base64"]))
    await wait_for_record(settings, "complaints.state", lambda k, v: k == follower.encode())


async def test_an_event_before_its_complaint_was_received_is_impossible(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("H")
    for wire_event in (received(complaint_id, at=T0), assigned(complaint_id, "客服中心", at=T0 - minutes(30))):
        await producer.send_and_wait(
            settings.topic("complaints.events"), key=complaint_id.encode(), value=orjson.dumps(wire_event)
        )

    rejected = await wait_for_record(settings, "complaints.rejected", lambda k, v: k == complaint_id.encode())
    assert rejected["reason_code"] == "impossible_transition"
    assert "before the complaint was received" in rejected["reason"]


async def test_a_key_that_is_not_the_complaint_id_is_rejected(
    producer: AIOKafkaProducer, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id, other = new_id("H"), new_id("H")
    await producer.send_and_wait(
        settings.topic("complaints.events"), key=other.encode(), value=orjson.dumps(ruled(complaint_id))
    )

    rejected = await wait_for_record(settings, "complaints.rejected", lambda k, v: k == other.encode())
    assert rejected["reason_code"] == "invalid" and complaint_id in rejected["reason"]


async def test_every_message_sent_is_accepted_ignored_as_a_duplicate_or_rejected_and_they_add_up(
    deployment: tuple[dict[str, str], Settings], new_id: Callable[[str], str]
) -> None:
    """The whole hostile list, exact and conflicting duplicates, future and pre-history timestamps,
    mixed with good events, against a worker of its own: its counters account for every message."""
    env, settings = deployment
    far_future = datetime.now(UTC) + timedelta(hours=1)  # beyond the default 5-minute clock skew
    messages: list[tuple[bytes, bytes | None]] = []
    expected = Counter[tuple[str, str]]()
    for kind, (_, code) in hostile("x").items():
        complaint_id = new_id("H")
        messages.append((complaint_id.encode(), hostile(complaint_id)[kind][0]))
        expected["rejected", code] += 1
    for _ in range(5):
        complaint_id = new_id("H")
        opened = received(complaint_id)
        conflicting = {**assigned(complaint_id, "服装部", at=T0 + minutes(5)), "event_id": opened["event_id"]}
        for wire_event, outcome in [
            (opened, ("accepted", "")),
            (opened, ("duplicate", "")),
            (conflicting, ("rejected", "conflicting_duplicate")),
            (assigned(complaint_id, "服装部", at=T0 - minutes(5)), ("rejected", "impossible_transition")),
            (assigned(complaint_id, "服装部", at=far_future), ("rejected", "from_the_future")),
            (assigned(complaint_id, "服装部", at=T0 + minutes(10)), ("accepted", "")),
        ]:
            messages.append((complaint_id.encode(), orjson.dumps(wire_event)))
            expected[outcome] += 1

    worker = start_worker(env, "count-worker.log")
    try:
        await ensure_topics(settings)
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(settings.topic("complaints.events"), key=key, value=value)
        finally:
            await producer.stop()
        counted = await counters_when(env, lambda counts: sum(counts.values()) >= len(messages))
    finally:
        stop_worker(worker)
    assert sum(counted.values()) == len(messages)
    assert counted == expected


async def counters_when(
    env: dict[str, str], done: Callable[[Counter[tuple[str, str]]], bool], timeout: float = 90.0
) -> Counter[tuple[str, str]]:
    """complaintflow_events_total by (outcome, reason), from the worker's /metrics, once `done`."""
    deadline = time.monotonic() + timeout
    counts = Counter[tuple[str, str]]()
    async with aiohttp.ClientSession(f"http://127.0.0.1:{env['COMPLAINTFLOW_WEB_PORT']}") as session:
        while time.monotonic() < deadline:
            try:
                async with session.get("/metrics") as response:
                    text = await response.text()
            except aiohttp.ClientError:  # the web server starts once the worker has recovered its tables
                await asyncio.sleep(0.5)
                continue
            counts = event_outcomes(text)
            if done(counts):
                return counts
            await asyncio.sleep(0.5)
    return counts


async def test_a_year_the_calendar_lacks_rejects_the_event_with_what_to_do_and_the_worker_goes_on(
    deployment: tuple[dict[str, str], Settings],
    producer: AIOKafkaProducer,
    new_id: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """A confirmed quality defect starts two working-day clocks; with a calendar that lacks the
    current year their deadlines cannot be worked out. The event is rejected (redrivable once the
    calendar has that year), not acknowledged and skipped, and the worker folds what follows."""
    env, settings = deployment
    calendar = tmp_path / "calendar.toml"
    calendar.write_text(
        f'name = "cn-mainland"\nsource = "a test"\nyears = [{datetime.now(UTC).year - 1}]\nholidays = []\n',
        encoding="utf-8",
    )
    now = datetime.now(UTC).astimezone(CHINA).replace(microsecond=0)
    defect, other = new_id("Q"), new_id("Q")
    confirmed = {
        **inspected(defect, at=now - minutes(1)),
        "data": {"kind": "lab", "status": "reported", "findings": "开线", "liable_party": "merchant"},
    }
    worker = start_worker({**env, "COMPLAINTFLOW_CALENDAR_FILE": str(calendar)}, "calendar-worker.log")
    try:
        await ensure_topics(settings)
        steps = [assigned(defect, "服装部", at=now - minutes(4)), inspected(defect, at=now - minutes(3)), confirmed]
        for wire_event in (received(defect, at=now - minutes(5)), *steps, received(other, at=now)):
            await send(producer, settings, str(wire_event["complaint_id"]).encode(), orjson.dumps(wire_event))
        rejected = await wait_for_record(settings, "complaints.rejected", lambda k, v: k == defect.encode())
        folded = await wait_for_record(settings, "complaints.state", lambda k, v: k == other.encode())
    finally:
        stop_worker(worker)
    assert rejected["reason_code"] == "processing_failed"
    assert "calendar" in rejected["reason"] and "add that year's holidays" in rejected["reason"]
    assert folded["stage"] == "received"
    logged = (ARTIFACTS / "calendar-worker.log").read_text(encoding="utf-8")
    assert "is provisional for" not in logged and "does not cover today (" in logged


async def test_a_worker_says_at_start_that_its_calendar_holds_a_provisional_year(
    deployment: tuple[dict[str, str], Settings], producer: AIOKafkaProducer, new_id: Callable[[str], str]
) -> None:
    """The shipped calendar counts 2027 by the law's days off until the State Council's notice is
    entered: a worker says so in its log, with where the file is and what to do."""
    env, settings = deployment
    complaint_id = new_id("C")
    worker = start_worker(env, "provisional-calendar-worker.log")
    try:
        await ensure_topics(settings)
        wire_event = received(complaint_id, at=datetime.now(UTC).astimezone(CHINA) - minutes(1))
        await send(producer, settings, complaint_id.encode(), orjson.dumps(wire_event))
        await wait_for_record(settings, "complaints.state", lambda k, v: k == complaint_id.encode())
    finally:
        stop_worker(worker)
    logged = (ARTIFACTS / "provisional-calendar-worker.log").read_text(encoding="utf-8")
    assert "calendar-cn.toml) is provisional for 2027" in logged and "docs/sla.md" in logged
