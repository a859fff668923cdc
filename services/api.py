"""The worker's HTTP API and dashboard, on Faust's aiohttp web server (docs/api.md, docs/openapi.yaml).

Channels POST events, validated by the same door as the agents (`decode_event`) and produced to
complaints.events; dashboards read the worker's `ReadModel`, which every worker holds whole, so
the answer does not depend on which worker a request reaches. Every endpoint but `/healthz`, the
dashboard's static page and (unless configured otherwise) `/metrics` needs a token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import orjson
from aiohttp import web

from events.codec import EVENT_ADAPTER, decode_event
from events.errors import InvalidEvent, Rejection
from events.models import ComplaintEvent
from projections.complaint import mask_phone
from services.access import Access, AccessDenied, Role
from services.agents import deadlines
from services.app import app, events_topic, rules, settings
from services.feed import ReadModelFeed
from services.history import History, Horizon
from services.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from services.metrics import metrics
from services.readmodel import ALERT_STATUSES, AlertStatus, LoggedAlert
from services.sse import format_alert, parse_seen, seen_id

log = logging.getLogger(__name__)
DASHBOARD = Path(__file__).resolve().parent / "dashboard"
MAX_PAGE = 500
KEEP_ALIVE_SECONDS = 15.0

access = Access(settings)
feed = ReadModelFeed(settings)
app.service(feed)  # type: ignore[arg-type]  # Faust starts an instance as readily as a class


def now() -> datetime:
    """The wall clock, for answers that age (remaining time, oldest open complaint)."""
    return datetime.now(UTC)


def respond(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def problem(status: int, error: str, message: str, **extra: Any) -> web.Response:
    response = respond({"error": error, "message": message, **extra}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="complaintflow"'
    return response


def refused(denied: AccessDenied) -> web.Response:
    return problem(denied.status, "unauthorized" if denied.status == 401 else "forbidden", denied.message)


Handler = Callable[..., Awaitable[web.StreamResponse]]


def guarded(role: Role) -> Callable[[Handler], Handler]:
    """Refuse the request unless it carries a token of `role`; the handler finds its caller in request["caller"]."""

    def wrap(handler: Handler) -> Handler:
        async def checked(view: faust.web.View, request: web.Request, **kwargs: Any) -> web.StreamResponse:
            try:
                request["caller"] = access.require(request.headers.get("Authorization"), role)
            except AccessDenied as denied:
                return refused(denied)
            return await handler(view, request, **kwargs)

        return checked

    return wrap


FAUST_STATUS_PAGE = "faust.web.apps.production_index:blueprint"


def _serve_only_our_pages(web_server: Any) -> None:
    """Faust mounts a status page at "/", where the dashboard lives; its other pages are switched
    off in create_app. Faust 0.15.3 offers no setting for this one (tests/unit/test_api_setup.py
    fails if that changes)."""
    blueprints = web_server.blueprints
    blueprints._enabled = [(prefix, bp) for prefix, bp in blueprints._enabled if bp != FAUST_STATUS_PAGE]


@web.middleware
async def _no_stack_traces(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unexpected error answers 500 with no detail (the log has it): never a trace or a secret."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem(500, "internal", "the worker failed on this request; its log says why")


_serve_only_our_pages(app.web)
app.web.web_app.middlewares.append(_no_stack_traces)


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
        history = History(rules, lambda _: Horizon(clock=now()), settle=False)
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
        found = feed.model.find_alerts(status=_status(status), department=query.get("department") or None, level=level)
        page = found[offset : offset + limit]
        following = offset + limit if offset + limit < len(found) else None
        return respond(
            {"alerts": page, "total": len(found), "offset": offset, "limit": limit, "next_offset": following}
        )


def _status(status: str | None) -> AlertStatus | None:
    return next((known for known in ALERT_STATUSES if known == status), None)


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


@app.page("/healthz")
class Health(faust.web.View):
    async def get(self, request: web.Request) -> web.StreamResponse:
        """Broker reachable, topics present, partitions assigned, lag: no complaint data, no token.
        `?check=live` answers 200 whenever the worker answers at all: a liveness probe must not
        restart a worker because the broker is away (it resumes by itself when the broker is back)."""
        probe = await feed.probe()
        lag = _lag()
        healthy = probe.reachable and not probe.missing_topics
        body: dict[str, Any] = {
            "status": "ok" if healthy else "unhealthy",
            "broker": {"reachable": probe.reachable, "missing_topics": list(probe.missing_topics)},
            "worker": {"assigned_partitions": len(app.consumer.assignment()), "rebalancing": app.rebalancing},
            "lag": sum(lag.values()),
            "read_model": {"caught_up": feed.caught_up, "complaints": len(feed.model.states)},
        }
        if probe.error:
            body["broker"]["error"] = probe.error
        if probe.missing_topics:
            body["broker"]["error"] = (
                "the broker no longer has complaintflow's topics: it lost its data (the embedded broker keeps "
                "nothing across restarts). Create them with `complaintflow topics` and republish, or restore "
                "with `complaintflow import`; then restart the workers"
            )
        liveness = request.query.get("check") == "live"  # the process answers: restarting it would not help
        return respond(body, 200 if healthy or liveness else 503)


def _lag() -> dict[tuple[str, int], int]:
    """Messages not yet read, per assigned partition (from Faust's monitor)."""
    monitor = app.monitor
    lag = {}
    for tp in app.consumer.assignment():
        end, read = monitor.tp_end_offsets.get(tp), monitor.tp_read_offsets.get(tp)
        if end is not None:
            lag[(tp.topic, tp.partition)] = max(end - (read + 1 if read is not None else 0), 0)
    return lag


@app.page("/metrics")
class Metrics(faust.web.View):
    async def get(self, request: web.Request) -> web.StreamResponse:
        if settings.metrics_require_token:
            try:
                access.require(request.headers.get("Authorization"), "dashboard")
            except AccessDenied as denied:
                return refused(denied)
        text = metrics.render(
            {
                "complaintflow_processing_lag": (
                    "Messages not yet processed, per assigned input partition.",
                    {(("topic", topic), ("partition", str(part))): count for (topic, part), count in _lag().items()},
                ),
                "complaintflow_sla_watched_complaints": (
                    "Complaints whose next SLA deadline the timer watches on this worker.",
                    {(): len(deadlines)},
                ),
                "complaintflow_read_model_complaints": (
                    "Complaints in this worker's read model.",
                    {(): len(feed.model.states)},
                ),
                "complaintflow_alert_stream_clients": ("Open /alerts/stream connections.", {(): len(feed.subscribers)}),
            }
        )
        return web.Response(body=text.encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})


@app.page("/")
class Dashboard(faust.web.View):
    async def get(self, request: web.Request) -> web.StreamResponse:
        """The page holds no data: it asks for a dashboard token, then reads the API with it."""
        return _static("index.html", "text/html")


@app.page("/dashboard.js")
class DashboardScript(faust.web.View):
    async def get(self, request: web.Request) -> web.StreamResponse:
        return _static("dashboard.js", "text/javascript")


def _static(name: str, content_type: str) -> web.Response:
    return web.Response(
        body=(DASHBOARD / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
