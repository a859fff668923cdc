"""The worker's web server serves exactly the documented API, and none of Faust's own pages."""

from __future__ import annotations

import pytest

from services import api, pages  # noqa: F401  (their views register on the app)
from services.app import app
from tests.openapi import openapi

DOCUMENTED_METHODS = {"get", "post", "put", "patch", "delete"}


def served() -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for route in app.web.web_app.router.routes():
        if route.method != "HEAD":
            routes.setdefault(route.resource.canonical, set()).add(route.method.lower())  # type: ignore[union-attr]
    return routes


def test_every_route_served_is_documented_and_every_documented_route_is_served() -> None:
    documented = {path: set(item) & DOCUMENTED_METHODS for path, item in openapi()["paths"].items()}
    assert served() == documented


def test_faust_serves_none_of_its_own_pages() -> None:
    """Faust's table, router, graph and statistics pages would show data without a token; its status
    page would take "/" from the dashboard. The list is private in Faust 0.15.3: if an upgrade
    renames it, this test fails and services/webserver.py must follow."""
    assert app.web.blueprints._enabled == []


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (path, method)
        for path, item in openapi()["paths"].items()
        for method in set(item) & DOCUMENTED_METHODS
        if item[method].get("security", openapi()["security"]) not in ([], [{}])
    ],
)
def test_every_endpoint_that_needs_a_token_documents_its_refusal(path: str, method: str) -> None:
    assert "401" in openapi()["paths"][path][method]["responses"]
