"""Tokens: each kind opens only its own door, and nothing opens without one."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.access import Access, AccessDenied, Caller
from services.metrics import Metrics
from services.settings import Settings

settings = Settings(
    channel_tokens={"hotline": SecretStr("hot"), "web": SecretStr("webby")},
    dashboard_tokens=[SecretStr("dash"), SecretStr("dash-rotated")],
)
access = Access(settings)


@pytest.mark.parametrize(
    ("header", "caller"),
    [
        ("Bearer hot", Caller("channel", "hotline")),
        ("bearer webby", Caller("channel", "web")),
        ("Bearer dash-rotated", Caller("dashboard")),
        ("Bearer dash ", Caller("dashboard")),
        ("Bearer ho", None),
        ("Bearer hot2", None),
        ("Basic hot", None),
        ("hot", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_a_header_identifies_its_caller_only_with_an_exact_token(header: str | None, caller: Caller | None) -> None:
    assert access.identify(header) == caller


def test_a_channel_token_cannot_read_and_a_dashboard_token_cannot_publish() -> None:
    with pytest.raises(AccessDenied) as refused:
        access.require("Bearer hot", "dashboard")
    assert refused.value.status == 403
    with pytest.raises(AccessDenied) as refused:
        access.require("Bearer dash", "channel")
    assert refused.value.status == 403
    assert access.require("Bearer hot", "channel").channel == "hotline"


def test_no_token_is_401_and_the_refusal_does_not_repeat_what_was_sent() -> None:
    with pytest.raises(AccessDenied) as refused:
        access.require("Bearer s3cret-guess", "dashboard")
    assert refused.value.status == 401
    assert "s3cret-guess" not in refused.value.message


def test_without_configured_tokens_nothing_opens() -> None:
    closed = Access(Settings())
    assert closed.identify("Bearer ") is None
    assert closed.identify("Bearer anything") is None


def test_a_token_for_an_unknown_channel_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="unknown channels"):
        Settings(channel_tokens={"fax": SecretStr("x")})


def test_metrics_render_in_the_prometheus_text_format() -> None:
    metrics = Metrics()
    metrics.count_event("accepted")
    metrics.count_event("rejected", "invalid")
    metrics.count_event("rejected", "invalid")
    metrics.count_alerts(["breached", "breached", "at_risk"])
    metrics.clock_evaluations = 3
    text = metrics.render({"complaintflow_lag": ("Lag.", {(("topic", 'a"b'),): 4})})
    lines = text.splitlines()
    assert 'complaintflow_events_total{outcome="rejected",reason="invalid"} 2' in lines
    assert 'complaintflow_alerts_raised_total{kind="breached"} 2' in lines
    assert "complaintflow_clock_evaluations_total 3" in lines
    assert 'complaintflow_lag{topic="a\\"b"} 4' in lines
    assert "# TYPE complaintflow_lag gauge" in lines
