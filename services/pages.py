"""The worker's pages for operators and browsers: /healthz and /metrics (no complaint data), and
the dashboard's two static files (they hold no data: the page asks for a dashboard token)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import faust
from aiohttp import web

from services import agents  # agents.recount is rebound by every recovery: read through the module
from services.agents import deadlines, recent, wall_clock
from services.app import app, feed, rules, settings
from services.collector import GENERATIONS, collector_time
from services.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from services.metrics import metrics
from services.rules import working_day_calendar
from services.webserver import refusal, respond

DASHBOARD = Path(__file__).resolve().parent / "dashboard"


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
            "read_model": {"caught_up": feed.caught_up, "complaints": feed.model.complaints},
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
        denied = refusal(request, "dashboard") if settings.metrics_require_token else None
        if denied is not None:
            return denied
        text = metrics.render(
            {
                "complaintflow_processing_lag": (
                    "Messages not yet processed, per assigned input partition.",
                    {(("topic", topic), ("partition", str(part))): count for (topic, part), count in _lag().items()},
                ),
                "complaintflow_owned_partitions": (
                    "Partitions of complaints.events this worker's complaint agent owns now (other workers own "
                    "the rest).",
                    {(): len(agents.owned_partitions())},
                ),
                "complaintflow_sla_watched_complaints": (
                    "Complaints whose next SLA deadline the timer watches on this worker.",
                    {(): len(deadlines)},
                ),
                "complaintflow_recovery_walk_unreached_complaints": (
                    "Complaints held that the walk after the last recovery has yet to watch and count (0: done).",
                    {(): 0 if agents.recount is None else len(agents.recount)},
                ),
                "complaintflow_unsaved_complaints": (
                    "Complaints changed since the table last had them, held decoded until the next offset commit "
                    "saves them (see COMPLAINTFLOW_UNSAVED_CASES_LIMIT).",
                    {(): len(agents.unsaved)},
                ),
                "complaintflow_read_model_complaints": (
                    "Complaints in this worker's read model.",
                    {(): feed.model.complaints},
                ),
                "complaintflow_read_model_partitions_from_agent": (
                    "Partitions the read model takes from this worker's own complaint agent instead of reading them "
                    "back from the broker (its own partitions, once the read model has caught up with them).",
                    {(("topic", topic),): count for topic, count in feed.partitions_from_agent().items()},
                ),
                "complaintflow_alert_stream_clients": ("Open /alerts/stream connections.", {(): len(feed.subscribers)}),
                **_calendar_gauges(),
            },
            counted_elsewhere={
                "complaintflow_case_cache_lookups_total": (
                    "Cases the complaint agent read: found decoded in memory, changed since the last save or kept "
                    "beside the table (hit), or decoded from the table (miss); see COMPLAINTFLOW_CASE_CACHE_SIZE.",
                    {(("result", "hit"),): recent.hits + agents.unsaved.hits, (("result", "miss"),): recent.misses},
                ),
                "complaintflow_collector_seconds_total": (
                    "CPU seconds in Python's cyclic garbage collector since the worker started, by generation "
                    "(0: the youngest).",
                    {(("generation", str(age)),): collector_time.seconds[age] for age in range(GENERATIONS)},
                ),
                "complaintflow_collections_total": (
                    "Collections by Python's cyclic garbage collector since the worker started, by generation.",
                    {(("generation", str(age)),): collector_time.collections[age] for age in range(GENERATIONS)},
                ),
            },
        )
        return web.Response(body=text.encode(), headers={"Content-Type": METRICS_CONTENT_TYPE})


def _calendar_gauges() -> dict[str, Any]:
    """How far the working-day calendar reaches from today, and which of its years are provisional:
    a calendar's end rejects the events of clocks that reach past it (docs/sla.md)."""
    calendar = working_day_calendar(rules)
    if calendar is None:
        return {}
    end = calendar.covered_through(wall_clock().date())
    until = 0.0 if end is None else datetime.combine(end + timedelta(days=1), time(), UTC).timestamp()
    return {
        "complaintflow_calendar_covered_until_timestamp_seconds": (
            "Where the working-day calendar's covered years end, from today (Unix time, 00:00 UTC after its last day;"
            " 0 if today is not covered): alert well before it, a working-day clock reaching past it is rejected.",
            {(): until},
        ),
        "complaintflow_calendar_provisional_year": (
            "1 for each year the working-day calendar holds from the law, not yet from the State Council's notice.",
            {(("year", str(year)),): 1 for year in calendar.provisional_years},
        ),
    }


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
