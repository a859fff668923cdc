"""The HTTP API channels and dashboards use (docs/api.md, docs/openapi.yaml).

Channels POST events, validated by the same door as the agents (`decode_event`) and produced to
complaints.events; dashboards read the worker's `ReadModel`, which every worker holds whole, so
the answer does not depend on which worker a request reaches. Every endpoint here needs a token:
a channel's to publish, a dashboard's to read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import orjson
from aiohttp import web

from events.codec import EVENT_ADAPTER, decode_event
from events.errors import InvalidEvent, Rejection
from events.models import ComplaintEvent
from projections.complaint import mask_phone
from projections.history import History, Horizon, Horizons
from services.app import app, events_topic, feed, rules, settings
from services.readmodel import ALERT_STATUSES, LoggedAlert
from services.sse import format_alert, parse_seen, seen_id
from services.webserver import guarded, now, problem, respond

log = logging.getLogger(__name__)
MAX_PAGE = 500
KEEP_ALIVE_SECONDS = 15.0


@app.page("/events")
class Events(faust.web.View):
    @guarded("channel")
    async def post(self, request: web.Request) -> web.StreamResponse:
        """One event or a JSON array of events; all are published, or none (202 / 400 / 403 / 413 / 422)."""
        if (request.content_length or 0) > settings.max_request_bytes:
            return _too_large()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large()
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return problem(400, "bad_request", f"the body is not JSON: {error.msg}")
        documents = document if isinstance(document, list) else [document]
        if not documents:
            return problem(400, "bad_request", "an empty array: send one event or a non-empty array of events")
        channel = request["caller"].channel
        accepted, problems = _validate(documents)
        if problems:
            return problem(422, "invalid_events", "no event was published: fix every problem listed", problems=problems)
        strangers = [index for index, event in enumerate(accepted) if event.source != channel]
        if strangers:
            return problem(
                403, "forbidden", f"this token publishes only events with source {channel!r}", indexes=strangers
            )
        deliveries = [
            await events_topic.send(key=event.complaint_id.encode(), value=orjson.dumps(raw))
            for event, raw in zip(accepted, documents, strict=True)
        ]
        try:
            await asyncio.gather(*deliveries)
        except Exception:
            log.exception("publishing %d events for channel %s failed", len(accepted), channel)
            return problem(503, "unavailable", "the broker did not take the events; retry (event ids make it safe)")
        return respond({"accepted": [event.event_id for event in accepted]}, 202)


def _validate(documents: list[Any]) -> tuple[list[ComplaintEvent], list[dict[str, Any]]]:
    accepted, problems = [], []
    for index, document in enumerate(documents):
        try:
            accepted.append(decode_event(orjson.dumps(document)))
        except InvalidEvent as invalid:
            problems += [
                {"index": index, "event_id": invalid.event_id, "field": field, "message": message}
                for field, message in invalid.problems
            ]
        except Rejection as rejection:
            problems.append(
                {"index": index, "event_id": rejection.event_id, "field": "(event)", "message": str(rejection)}
            )
    return accepted, problems


def _too_large() -> web.Response:
    return problem(413, "too_large", f"the body is larger than {settings.max_request_bytes} bytes")


@app.page("/complaints/{complaint_id}")
class Complaint(faust.web.View):
    @guarded("dashboard")
    async def get(self, request: web.Request, complaint_id: str) -> web.StreamResponse:
        record = feed.model.complaint(complaint_id)
        if record is None:
            return problem(404, "not_found", "no complaint with this id has been processed")
        return web.Response(body=record, content_type="application/json", headers={"Cache-Control": "no-store"})


@app.page("/complaints/{complaint_id}/history")
class ComplaintHistory(faust.web.View):
    @guarded("dashboard")
    async def get(self, request: web.Request, complaint_id: str) -> web.StreamResponse:
        """The complaint's accepted events in log order, judged as the fold judges them (phones masked)."""
        if feed.model.complaint(complaint_id) is None:
            return problem(404, "not_found", "no complaint with this id has been processed")
        entries = await feed.read_events(feed.model.event_positions(complaint_id))
        history = History(rules, Horizons(Horizon(clock=now())), settle=False)
        events = []
        for entry in entries:
            fed = history.feed(entry)
            if fed.outcome == "accepted" and fed.event is not None and fed.event.complaint_id == complaint_id:
                published = entry.published_at
                events.append(
                    {
                        "position": entry.position,
                        "published_at": None if published is None else published.isoformat(),
                        "event": _masked(EVENT_ADAPTER.dump_python(fed.event, mode="json")),
                    }
                )
        return respond({"complaint_id": complaint_id, "events": events})


def _masked(event: dict[str, Any]) -> dict[str, Any]:
    customer = event.get("data", {}).get("customer")
    if isinstance(customer, dict) and isinstance(customer.get("phone"), str):
        customer["phone"] = mask_phone(customer["phone"])
    return event


@app.page("/workload")
class Workload(faust.web.View):
    @guarded("dashboard")
    async def get(self, request: web.Request) -> web.StreamResponse:
        return respond({"departments": feed.model.workload(now())})


@app.page("/alerts")
class Alerts(faust.web.View):
    @guarded("dashboard")
    async def get(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        status = query.get("status") or None
        if status is not None and status not in ALERT_STATUSES:
            return problem(400, "bad_request", f"status must be one of {', '.join(ALERT_STATUSES)}")
        try:
            level = _integer(query.get("level"), "level", minimum=0)
            limit = _integer(query.get("limit"), "limit", minimum=1, maximum=MAX_PAGE) or 50
            offset = _integer(query.get("offset"), "offset", minimum=0) or 0
        except ValueError as error:
            return problem(400, "bad_request", str(error))
        found = feed.model.find_alerts(status=status, department=query.get("department") or None, level=level)
        page = found[offset : offset + limit]
        following = offset + limit if offset + limit < len(found) else None
        return respond(
            {"alerts": page, "total": len(found), "offset": offset, "limit": limit, "next_offset": following}
        )


def _integer(text: str | None, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) < minimum or (maximum is not None and int(text) > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be a whole number, {bounds}")
    return int(text)


@app.page("/alerts/stream")
class AlertStream(faust.web.View):
    @guarded("dashboard")
    async def get(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: each newly raised alert once; `Last-Event-ID` resumes exactly where
        the client stopped, on this worker or any other."""
        seen = parse_seen(request.headers.get("Last-Event-ID")) or dict(feed.model.alerts_read_to)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        subscriber = feed.subscribe()
        try:
            await response.write(f"retry: 2000\nid: {seen_id(seen)}\n\n".encode())
            for alert in feed.model.raised_after(seen):
                await _send(response, alert, seen)
            quiet = 0.0
            while not (feed.should_stop or app.should_stop or subscriber.overflowed):
                try:
                    alert = await asyncio.wait_for(subscriber.queue.get(), timeout=1.0)
                except TimeoutError:
                    quiet += 1.0
                    if quiet >= KEEP_ALIVE_SECONDS:
                        await response.write(b": keep-alive\n\n")
                        quiet = 0.0
                    continue
                await _send(response, alert, seen)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            feed.unsubscribe(subscriber)
        return response


async def _send(response: web.StreamResponse, alert: LoggedAlert, seen: dict[int, int]) -> None:
    if alert.offset < seen.get(alert.partition, 0):
        return  # the client has it already
    seen[alert.partition] = alert.offset + 1
    await response.write(format_alert(feed.model.alert_view(feed.model.alerts[alert.record["alert_id"]]), seen))
