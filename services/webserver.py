"""What every page of the worker's web server shares: who may call it, JSON answers and refusals,
and a server that shows nothing it should not.

The views live in services/api.py (the API channels and dashboards use) and services/pages.py
(health, metrics, the dashboard's files); both register on the Faust app built in services/app.py,
and serve the read model kept there (`feed`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from aiohttp import web
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from services.access import Access, AccessDenied, Role
from services.app import app, settings

log = logging.getLogger(__name__)

access = Access(settings)


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


def refusal(request: web.Request, role: Role) -> web.Response | None:
    """The answer to a request without a token of `role`; None when it has one (the caller is then
    in request["caller"])."""
    try:
        request["caller"] = access.require(request.headers.get("Authorization"), role)
    except AccessDenied as denied:
        return refused(denied)
    return None


def guarded(role: Role) -> Callable[[Handler], Handler]:
    """Refuse the request unless it carries a token of `role`; the handler finds its caller in request["caller"]."""

    def wrap(handler: Handler) -> Handler:
        async def checked(view: faust.web.View, request: web.Request, **kwargs: Any) -> web.StreamResponse:
            return refusal(request, role) or await handler(view, request, **kwargs)

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
assert isinstance(app.web, AiohttpWeb)  # create_app keeps Faust's default web driver, the one with an aiohttp app
app.web.web_app.middlewares.append(_no_stack_traces)
