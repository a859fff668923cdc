"""Replay, verify, export and import on the real broker (issue 5).

Each test has a deployment of its own (topic prefix, app id) on the session's broker, so the live
read models it checks hold nothing but its own complaints; only the verify test runs a worker.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from events.errors import ComplaintflowError
from services.admin import ensure_topics
from services.broker import EmbeddedBroker, free_port
from services.clients import latest_by_key, send_events
from services.export import ImportRefused, export_log, import_log
from services.replay import ReplayRequest, run_replay
from services.settings import Settings
from services.simulate import simulate
from tests.integration.conftest import (
    ARTIFACTS,
    complaintflow,
    drift,
    start_worker,
    stop_worker,
    verify_until_caught_up,
)
from tests.wire import assigned, minutes, paid, received, ruled

pytestmark = pytest.mark.integration

CHINA = timezone(timedelta(hours=8))
DAY = timedelta(days=1)
BASE = datetime(2026, 10, 12, 9, 0, tzinfo=CHINA)
"""Business time of the hand-made complaints: in the past, so none is from the future."""
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=CHINA)


async def replayed(settings: Settings, **request: Any) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert await run_replay(settings, ReplayRequest(**request), out, err) == 0
    return out.getvalue()


async def publish_raw(
    settings: Settings, messages: list[tuple[bytes | None, bytes]], topic: str = "complaints.events"
) -> None:
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False)
    await client.start()
    try:
        for key, value in messages:
            await client.send_and_wait(settings.topic(topic), key=key, value=value)
    finally:
        await client.stop()


def wire(event: dict[str, Any]) -> tuple[bytes, bytes]:
    return str(event["complaint_id"]).encode(), orjson.dumps(event)


async def a_log_with_noise(settings: Settings) -> int:
    """A simulated stream plus a rejected message and an exact repeat; returns the accepted count."""
    await ensure_topics(settings)
    events = list(simulate(11, 25, BASE))
    await send_events(settings, events)
    await publish_raw(settings, [(b"C-x", b"not json"), wire(events[0])])
    return len(events)


async def test_a_complaint_ruled_on_day_2_and_paid_on_day_3_is_ruled_as_of_day_2_5(
    deployment: tuple[dict[str, str], Settings],
) -> None:
    _, settings = deployment
    await ensure_topics(settings)
    opened = received("C-1", amount="3000.00", at=BASE)
    history = [
        opened,
        assigned("C-1", "客服中心", "h-7", at=BASE + minutes(10)),
        ruled("C-1", amount="3000.00", at=BASE + 2 * DAY),
        paid("C-1", amount="3000.00", at=BASE + 3 * DAY),
    ]
    await publish_raw(settings, [wire(event) for event in history] + [wire(opened), (b"C-1", b"{")])

    midway = orjson.loads(await replayed(settings, as_of=BASE + 2.5 * DAY, format="json"))
    settled = orjson.loads(await replayed(settings, as_of=BASE + 3.5 * DAY, format="json"))
    timeline = orjson.loads(await replayed(settings, as_of=BASE + 2.5 * DAY, complaint="C-1", format="json"))

    assert [(c["complaint_id"], c["stage"]) for c in midway["complaints"]] == [("C-1", "ruled")]
    assert midway["workload"][0]["by_stage"] == {"ruled": 1}
    assert settled["complaints"][0]["stage"] == "paid"
    steps = [(step["event_type"], step["step"]) for step in timeline["timeline"] if step["step"] != "sla"]
    assert steps == [
        ("received", "event"),
        ("assigned", "event"),
        ("ruled", "event"),
        ("paid", "later"),
        ("received", "duplicate"),
        (None, "rejected"),
    ]
    assert timeline["complaint"]["stage"] == "ruled"


async def test_verify_finds_no_drift_after_a_live_run_and_names_a_planted_one(
    deployment: tuple[dict[str, str], Settings],
) -> None:
    env, settings = deployment
    await ensure_topics(settings)
    events = list(simulate(5, 30, BASE))
    worker = start_worker(env, "replay-worker.log")
    try:
        await send_events(settings, events)
        await publish_raw(settings, [(b"C-bad", b"not json")])
        report = await verify_until_caught_up(settings, timeout=120)
    finally:
        stop_worker(worker)

    assert not report.differences and not report.lagging, drift(report)

    assert (report.complaints, report.events) == (30, len(events))
    assert report.departments >= 2 and report.lagging == 0
    clean = complaintflow("verify", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip().startswith(f"no drift: 30 complaints ({len(events)} events)")
    assert complaintflow("verify", "--jobs", "3", env=env).stdout == clean.stdout, "shards merged: the same report"

    rejected = orjson.loads(await replayed(settings, rejected=True, format="json"))["rejected"]
    assert [(r["key"], r["reason_code"]) for r in rejected] == [("C-bad", "undecodable")]

    states = await latest_by_key(settings, settings.topic("complaints.state"))
    key, record = sorted(states.items())[0]
    wrong = {**record, "stage": "closed" if record["stage"] != "closed" else "paid"}
    await publish_raw(settings, [(key, orjson.dumps(wrong))], topic="complaints.state")

    drifted = complaintflow("verify", env=env)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    in_shards = complaintflow("verify", "--jobs", "3", env=env)
    assert (in_shards.returncode, in_shards.stdout) == (1, drifted.stdout)
    lines = drifted.stdout.splitlines()
    assert lines[0] == f'complaint {key.decode()}  stage: live "{wrong["stage"]}", replayed "{record["stage"]}"'
    assert lines[-1].startswith("drift: ")

    alerted, alerted_record = next((k, r) for k, r in sorted(states.items()) if r["alerts"] and k != key)
    outstanding = sorted(alert["alert_id"] for alert in alerted_record["alerts"])
    lost = {"alert_id": f"{outstanding[0]}:retracted", "complaint_id": alerted.decode(), "kind": "retracted"}
    await publish_raw(settings, [(alerted, orjson.dumps(lost))], topic="complaints.alerts")
    drifted = complaintflow("verify", env=env)
    published = orjson.dumps(outstanding[1:]).decode()
    assert f"complaint {alerted.decode()}  complaints.alerts: live {published}" in drifted.stdout, drifted.stdout


async def test_export_then_import_into_a_fresh_broker_replays_the_same_projections(
    deployment: tuple[dict[str, str], Settings], tmp_path: Path
) -> None:
    _, settings = deployment
    accepted = await a_log_with_noise(settings)
    before = await replayed(settings, as_of=AS_OF, format="json")
    exported = tmp_path / "history.jsonl"

    report = await export_log(settings, exported, until=None, stderr=io.StringIO())

    assert (report.read, report.written, report.complaints) == (accepted + 2, accepted, 25)
    with EmbeddedBroker(free_port(), log_path=ARTIFACTS / "tansu-import.log") as fresh:
        elsewhere = Settings(  # not model_copy: it would keep the cached bootstrap_servers
            kafka_bootstrap_servers=fresh.bootstrap_servers, partitions=2, policy_file=settings.policy_file
        )
        imported = await import_log(elsewhere, exported, force=False, stderr=io.StringIO())
        after = await replayed(elsewhere, as_of=AS_OF, format="json")
        with pytest.raises(ImportRefused, match="already holds"):
            await import_log(elsewhere, exported, force=False, stderr=io.StringIO())

    assert (imported.sent, imported.complaints) == (accepted, 25)
    assert after == before
    assert await replayed(settings, as_of=AS_OF, format="json", from_file=exported) == before


async def test_the_same_log_and_as_of_give_byte_identical_output_from_the_command_line(
    deployment: tuple[dict[str, str], Settings],
) -> None:
    env, settings = deployment
    accepted = await a_log_with_noise(settings)
    arguments = ("replay", "--as-of", AS_OF.isoformat(), "--format")

    runs = [complaintflow(*arguments, form, env=env) for form in ("json", "json", "table", "table", "csv", "csv")]

    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert runs[0].stdout == runs[1].stdout and runs[2].stdout == runs[3].stdout and runs[4].stdout == runs[5].stdout
    assert runs[0].stdout == await replayed(settings, as_of=AS_OF, format="json")
    assert f"replayed {accepted + 2} events" in runs[0].stderr and "\r" not in runs[0].stderr, (
        "no progress bar when piped"
    )


async def test_replay_joins_no_group_and_writes_nothing(deployment: tuple[dict[str, str], Settings]) -> None:
    _, settings = deployment
    await a_log_with_noise(settings)
    groups, ends = await consumer_groups(settings), await end_offsets(settings)
    assert ends[(settings.topic("complaints.events"), 0)] > 0 and len(ends) >= 7

    await replayed(settings, as_of=AS_OF, format="json")
    await replayed(settings, rejected=True, format="json")
    with pytest.raises(ComplaintflowError, match="no event of complaint C-none"):
        await replayed(settings, complaint="C-none")

    assert await consumer_groups(settings) == groups
    assert await end_offsets(settings) == ends


async def consumer_groups(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        return {str(group[0]) for group in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def end_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """The end of every partition of the deployment's topics, from a fetch (the dev broker's
    ListOffsets under-reports)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        topics = sorted(name for name in await consumer.topics() if name.startswith(settings.topic_prefix))
        assignment = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        for _ in range(20):
            await consumer.getmany(timeout_ms=100)
            if all(consumer.highwater(tp) is not None for tp in assignment):
                break
        return {(tp.topic, tp.partition): consumer.highwater(tp) for tp in assignment}
    finally:
        await consumer.stop()
