"""The HTTP API against running workers on the real broker: publish over HTTP, read back every
endpoint, refuse bad bodies and bad tokens; every response body is checked against docs/openapi.yaml."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest

from projections.calendar import parse_calendar
from services.broker import free_port
from services.clients import read_topic
from services.rules import SHIPPED_CALENDAR
from services.settings import Settings
from tests.integration.conftest import CHANNEL_TOKENS, DASHBOARD_TOKEN, parse_metrics, start_worker, stop_worker
from tests.openapi import check
from tests.wire import assigned, inspected, received

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

HOTLINE = {"Authorization": f"Bearer {CHANNEL_TOKENS['hotline']}"}
DASHBOARD = {"Authorization": f"Bearer {DASHBOARD_TOKEN}"}


@pytest.fixture
async def api(worker_env: dict[str, str]) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{worker_env['COMPLAINTFLOW_WEB_PORT']}") as session:
        client = Api(session)
        await client.wait_until_serving()
        yield client


class Api:
    """A thin client that checks every JSON answer against the OpenAPI document as it goes."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def wait_until_serving(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with self.session.get("/healthz") as response:
                    if response.status == 200 and (await response.json())["read_model"]["caught_up"]:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker's web server did not become healthy within {timeout:.0f} s")
            await asyncio.sleep(0.5)

    async def call(
        self, method: str, path: str, template: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
        data = io.BytesIO(raw) if raw is not None else None  # aiohttp warns about large bytes bodies
        async with self.session.request(method, path, headers=headers, data=data) as response:
            document = await response.json(content_type=None)
            check(template, method.lower(), response.status, document)
            return response.status, document

    async def read_when(
        self, path: str, template: str, ready: Callable[[Any], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        """GET `path` with the dashboard token until the answer is 200 and `ready`."""
        deadline = time.monotonic() + timeout
        while True:
            status, document = await self.call("GET", path, template, headers=DASHBOARD)
            if status == 200 and ready(document):
                return document  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path} never became ready; last answer {status}: {document}")
            await asyncio.sleep(0.3)

    async def complaint_when(self, complaint_id: str, ready: Callable[[Any], bool]) -> dict[str, Any]:
        return await self.read_when(f"/complaints/{complaint_id}", "/complaints/{complaint_id}", ready)

    async def metrics(self) -> dict[str, float]:
        """The worker's /metrics (with the dashboard token), as sample → value."""
        async with self.session.get("/metrics", headers=DASHBOARD) as response:
            return parse_metrics(await response.text())


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


async def test_a_channel_publishes_over_http_and_every_read_endpoint_shows_the_complaint(
    api: Api, new_id: Callable[[str], str]
) -> None:
    complaint_id, desk = new_id("C"), new_id("家电部")
    opened = hours_ago(2)  # a 300 CNY claim unsettled after two hours: its clocks are breached
    events = [
        received(complaint_id, department="客服中心", amount="300.00", at=opened),
        assigned(complaint_id, desk, "王芳", at=opened + timedelta(minutes=5)),
    ]
    status, answer = await api.call("POST", "/events", "/events", headers=HOTLINE, body=events)
    assert (status, answer) == (202, {"accepted": [event["event_id"] for event in events]})

    complaint = await api.complaint_when(complaint_id, lambda c: c["stage"] == "assigned" and c["alerts"])
    assert complaint["owner_department"] == "客服中心" and complaint["department"] == desk
    assert complaint["handler"] == "王芳" and complaint["claim_amount"] == "300.00"
    assert complaint["customer"]["phone"] == "138****5678"
    assert {clock["name"]: clock["status"] for clock in complaint["clocks"]}["resolution"] == "breached"
    assert complaint["escalation_level"] >= 1

    status, history = await api.call(
        "GET", f"/complaints/{complaint_id}/history", "/complaints/{complaint_id}/history", headers=DASHBOARD
    )
    assert status == 200
    assert [entry["event"]["event_id"] for entry in history["events"]] == [event["event_id"] for event in events]
    assert history["events"][0]["event"]["data"]["customer"]["phone"] == "138****5678"

    workload = await api.read_when(
        "/workload", "/workload", lambda w: any(d["department"] == desk and d["open"] for d in w["departments"])
    )
    mine = next(d for d in workload["departments"] if d["department"] == desk)
    assert (mine["open"], mine["by_stage"], mine["handlers"]) == (1, {"assigned": 1}, {"王芳": 1})
    assert mine["breached"] == 1 and mine["oldest_open_seconds"] >= 2 * 3600

    status, page = await api.call(
        "GET", f"/alerts?department={desk}&status=active&level=0", "/alerts", headers=DASHBOARD
    )
    assert status == 200
    kinds = {(view["alert"]["clock"], view["alert"]["kind"]) for view in page["alerts"]}
    assert ("resolution", "breached") in kinds
    assert all(view["alert"]["complaint_id"] == complaint_id for view in page["alerts"])
    raised = [view["alert"]["raised_at"] for view in page["alerts"]]
    assert raised == sorted(raised, reverse=True)

    status, first = await api.call("GET", f"/alerts?department={desk}&limit=1", "/alerts", headers=DASHBOARD)
    assert first["total"] > 1 and first["next_offset"] == 1 and len(first["alerts"]) == 1


async def test_bad_tokens_and_bad_bodies_are_refused_and_publish_nothing(
    api: Api, settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    good = received(complaint_id)
    refusals = [
        ("POST", "/events", "/events", {}, good, 401),
        ("POST", "/events", "/events", {"Authorization": "Bearer guessed"}, good, 401),
        ("POST", "/events", "/events", DASHBOARD, good, 403),
        ("POST", "/events", "/events", {"Authorization": f"Bearer {CHANNEL_TOKENS['wechat']}"}, good, 403),
        ("POST", "/events", "/events", HOTLINE, b"{not json", 400),
        ("POST", "/events", "/events", HOTLINE, [], 400),
        ("POST", "/events", "/events", HOTLINE, b"x" * (1_048_576 + 1), 413),
        ("GET", f"/complaints/{complaint_id}", "/complaints/{complaint_id}", {}, None, 401),
        ("GET", f"/complaints/{complaint_id}", "/complaints/{complaint_id}", HOTLINE, None, 403),
        ("GET", f"/complaints/{complaint_id}", "/complaints/{complaint_id}", DASHBOARD, None, 404),
        ("GET", "/workload", "/workload", {"Authorization": f"Bearer {DASHBOARD_TOKEN}x"}, None, 401),
        ("GET", "/alerts?status=sleeping", "/alerts", DASHBOARD, None, 400),
        ("GET", "/alerts?limit=0", "/alerts", DASHBOARD, None, 400),
    ]
    for method, path, template, headers, body, expected in refusals:
        status, answer = await api.call(method, path, template, headers=headers, body=body)
        assert status == expected, (method, path, headers, answer)
        assert "guessed" not in orjson.dumps(answer).decode()

    broken = {**received(complaint_id), "occurred_at": "yesterday", "data": {"claim_amount": -1}}
    status, answer = await api.call("POST", "/events", "/events", headers=HOTLINE, body=[good, broken])
    assert status == 422
    fields = {(problem["index"], problem["field"]) for problem in answer["problems"]}
    assert (1, "occurred_at") in fields and (1, "data.store") in fields and (1, "data.claim_amount") in fields
    assert not any(index == 0 for index, _ in fields)

    published = [record async for record in read_topic(settings, settings.topic("complaints.events"))]
    assert not any(record.key == complaint_id.encode() for record in published), "a refused request published"


async def test_faust_pages_that_would_show_tables_are_not_served(api: Api) -> None:
    for path in ("/table/complaints_by_id/", "/router/", "/graph/", "/stats/"):
        async with api.session.get(path, headers=DASHBOARD) as response:
            assert response.status == 404, path


async def test_the_alert_stream_sends_new_alerts_and_resumes_exactly_after_last_event_id(
    api: Api, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    async with api.session.get("/alerts/stream", headers=DASHBOARD) as stream:
        assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        status, _ = await api.call(
            "POST", "/events", "/events", headers=HOTLINE, body=received(complaint_id, amount="300.00", at=hours_ago(2))
        )
        assert status == 202
        mine = await read_alerts(stream, complaint_id, count=2)
    first_id, first, second = mine[0][0], mine[0][1], mine[1][1]
    for _, view in mine:
        check("/alerts", "get", 200, {"alerts": [view], "total": 1, "offset": 0, "limit": 1, "next_offset": None})

    async with api.session.get("/alerts/stream", headers={**DASHBOARD, "Last-Event-ID": first_id}) as resumed:
        again = await read_alerts(resumed, complaint_id, count=1)
    assert again[0][1]["alert"]["alert_id"] == second["alert"]["alert_id"] != first["alert"]["alert_id"]


async def read_alerts(
    stream: aiohttp.ClientResponse, complaint_id: str, *, count: int, timeout: float = 30.0
) -> list[tuple[str, dict[str, Any]]]:
    """(event id, alert) of the first `count` alerts for the complaint on an open SSE response."""
    found: list[tuple[str, dict[str, Any]]] = []
    event_id, data = "", b""
    async with asyncio.timeout(timeout):
        async for line in stream.content:
            if line.startswith(b"id: "):
                event_id = line[4:].decode().strip()
            elif line.startswith(b"data: "):
                data = line[6:]
            elif line == b"\n" and data:
                view = orjson.loads(data)
                data = b""
                if view["alert"]["complaint_id"] == complaint_id:
                    found.append((event_id, view))
                    if len(found) == count:
                        return found
    raise AssertionError(f"the stream ended after {len(found)} of {count} alerts")


async def test_healthz_needs_no_token_and_shows_no_complaint_data_metrics_count_the_work(
    api: Api, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    await api.call("POST", "/events", "/events", headers=HOTLINE, body=received(complaint_id, at=hours_ago(1)))
    await api.call(
        "POST", "/events", "/events", headers=HOTLINE, body=assigned(complaint_id, "客服中心", at=hours_ago(0.5))
    )
    await api.complaint_when(complaint_id, lambda c: c["version"] == 2)

    status, health = await api.call("GET", "/healthz", "/healthz")
    assert status == 200 and health["status"] == "ok" and health["broker"]["reachable"]
    assert health["worker"]["assigned_partitions"] > 0 and health["read_model"]["complaints"] >= 1
    assert complaint_id not in orjson.dumps(health).decode()

    async with api.session.get("/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        samples = parse_metrics(await response.text())
    assert samples['complaintflow_events_total{outcome="accepted",reason=""}'] >= 1
    assert samples["complaintflow_clock_evaluations_total"] >= 1
    assert samples["complaintflow_read_model_complaints"] >= 1
    assert samples["complaintflow_recovery_walk_unreached_complaints"] == 0, "the session's worker walked long ago"
    assert samples['complaintflow_case_cache_lookups_total{result="hit"}'] >= 1, "the assignment found its case"
    assert "complaintflow_unsaved_complaints" in samples
    assert samples['complaintflow_collections_total{generation="0"}'] >= 1, "the worker times its collector"
    assert samples['complaintflow_collector_seconds_total{generation="0"}'] > 0
    await lag_drains(api)
    shipped = parse_calendar(SHIPPED_CALENDAR.read_text(encoding="utf-8"))  # its years run on from today's
    edge = datetime(max(shipped.years) + 1, 1, 1, tzinfo=UTC).timestamp()
    assert samples["complaintflow_calendar_covered_until_timestamp_seconds"] == edge, "to the second"
    assert {name for name in samples if name.startswith("complaintflow_calendar_provisional_year")} == {
        f'complaintflow_calendar_provisional_year{{year="{year}"}}' for year in shipped.provisional_years
    }


async def lag_drains(api: Api, timeout: float = 30.0) -> None:
    """Every complaints.events partition the worker has read from shows a lag, and it falls to zero
    once the worker has processed what was published (the last offset read against the end offset)."""
    deadline = time.monotonic() + timeout
    while True:
        lags = {
            name: value
            for name, value in (await api.metrics()).items()
            if name.startswith("complaintflow_processing_lag{") and 'complaints.events"' in name
        }
        if lags and not any(lags.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the processing lag never fell to zero: {lags}")
        await asyncio.sleep(0.3)


async def test_every_worker_answers_the_same_for_any_complaint(
    deployment: tuple[dict[str, str], Settings], new_id: Callable[[str], str]
) -> None:
    """Two workers share the partitions; each answers for every complaint, whichever owns it. These
    two also require a dashboard token for /metrics (COMPLAINTFLOW_METRICS_REQUIRE_TOKEN)."""
    env = {**deployment[0], "COMPLAINTFLOW_METRICS_REQUIRE_TOKEN": "true"}
    ports = [env["COMPLAINTFLOW_WEB_PORT"], str(free_port())]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for index, port in enumerate(ports):
            workers.append(start_worker({**env, "COMPLAINTFLOW_WEB_PORT": port}, f"api-worker-{index}.log"))
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{ports[0]}") as first,
            aiohttp.ClientSession(f"http://127.0.0.1:{ports[1]}") as second,
        ):
            apis = [Api(first), Api(second)]
            for client in apis:
                await client.wait_until_serving()
            complaint_ids = [new_id("C") for _ in range(8)]  # spread over the partitions of both workers
            await apis[0].call("POST", "/events", "/events", headers=HOTLINE, body=[received(c) for c in complaint_ids])
            for complaint_id in complaint_ids:
                assert await same_answer(apis, complaint_id), complaint_id
            async with first.get("/metrics") as refused:
                assert refused.status == 401
            async with first.get("/metrics", headers=DASHBOARD) as allowed:
                assert allowed.status == 200 and "complaintflow_events_total" in await allowed.text()
    finally:
        for process in workers:
            stop_worker(process)


async def test_a_worker_shows_every_complaint_while_its_partitions_move(
    deployment: tuple[dict[str, str], Settings], new_id: Callable[[str], str]
) -> None:
    """A worker's read model takes the partitions it owns from its own agent, and the others from the
    broker (services/feed.py). When a second worker joins, the first must read what the second now
    writes on the partitions it gave up; when the second leaves, the first takes them all back. Each
    round's events reach both read models: every state record and every event of each history."""
    env = deployment[0]
    ports = [env["COMPLAINTFLOW_WEB_PORT"], str(free_port())]
    complaint_ids = [new_id("C") for _ in range(12)]  # on every partition
    rounds = [
        lambda c: received(c, at=hours_ago(1)),
        lambda c: assigned(c, "家电部", at=hours_ago(0.9)),
        lambda c: inspected(c, at=hours_ago(0.8)),
    ]
    stages = ["received", "assigned", "inspecting"]
    first = start_worker({**env, "COMPLAINTFLOW_WEB_PORT": ports[0]}, "moving-worker-0.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{ports[0]}") as one,
            aiohttp.ClientSession(f"http://127.0.0.1:{ports[1]}") as two,
        ):
            apis = [Api(one), Api(two)]
            await apis[0].wait_until_serving()
            await publish_round(apis[0], [rounds[0](c) for c in complaint_ids])
            await every_complaint_shows(apis[:1], complaint_ids, stages[0], events=1)
            assert await took_from_agent(apis[0]), "the first worker's read model took its own partitions"

            second = start_worker({**env, "COMPLAINTFLOW_WEB_PORT": ports[1]}, "moving-worker-1.log")
            await apis[1].wait_until_serving()
            await both_own_partitions(apis)
            await publish_round(apis[0], [rounds[1](c) for c in complaint_ids])
            await every_complaint_shows(apis, complaint_ids, stages[1], events=2)
            assert await accepted(apis[1]) > 0, "the second worker folded part of the round"

            stop_worker(second)  # the first takes every partition back
            await publish_round(apis[0], [rounds[2](c) for c in complaint_ids])
            await every_complaint_shows(apis[:1], complaint_ids, stages[2], events=3)
    finally:
        for process in (first, second):
            if process is not None:
                stop_worker(process)


async def publish_round(api: Api, events: list[dict[str, Any]]) -> None:
    status, _ = await api.call("POST", "/events", "/events", headers=HOTLINE, body=events)
    assert status == 202


async def every_complaint_shows(apis: list[Api], complaint_ids: list[str], stage: str, *, events: int) -> None:
    """Every worker comes to show each complaint at `stage`, with `events` events in its history (a
    complaint's state record and its event's position come from two topics: either may come first)."""
    for client in apis:
        for complaint_id in complaint_ids:
            await client.complaint_when(complaint_id, lambda c: c["stage"] == stage)
            path = f"/complaints/{complaint_id}/history"
            await client.read_when(path, "/complaints/{complaint_id}/history", lambda h: len(h["events"]) == events)


FROM_AGENT = "complaintflow_read_model_partitions_from_agent"


async def took_from_agent(api: Api) -> bool:
    """Whether the worker's read model comes to take partitions from its agent (its feed pauses them
    once it has read up to what the agent handed over: after its next fetch)."""

    async def taking() -> bool:
        samples = await api.metrics()
        return any(value for name, value in samples.items() if name.startswith(FROM_AGENT))

    return await comes_true(taking, timeout=10.0, every=0.3)


async def accepted(api: Api) -> float:
    return (await api.metrics())['complaintflow_events_total{outcome="accepted",reason=""}']


async def both_own_partitions(apis: list[Api], timeout: float = 60.0) -> None:
    """Wait until the rebalance gave each worker partitions of its own, and every partition an owner."""
    owned: list[float] = []

    async def shared() -> bool:
        owned[:] = [(await client.metrics())["complaintflow_owned_partitions"] for client in apis]
        return all(owned) and sum(owned) == 4

    if not await comes_true(shared, timeout):
        raise AssertionError(f"the workers own {owned} partitions after {timeout:.0f} s")


async def same_answer(apis: list[Api], complaint_id: str) -> bool:
    """Whether every worker comes to give the same record (each may be a moment behind the other)."""

    async def agreed() -> bool:
        answers = [await client.complaint_when(complaint_id, lambda c: True) for client in apis]
        return all(answer == answers[0] for answer in answers)

    return await comes_true(agreed, timeout=60.0)


async def comes_true(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.5) -> bool:
    """Whether `check()` comes to hold within `timeout` seconds, asked every `every` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True
