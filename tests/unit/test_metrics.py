"""GET /metrics' text: the Prometheus exposition format, every digit of what it reports kept."""

from __future__ import annotations

from services.metrics import Metrics


def test_counters_and_gauges_render_in_the_exposition_format_with_every_digit() -> None:
    metrics = Metrics()
    metrics.count_event("accepted")
    metrics.count_event("rejected", "invalid")
    text = metrics.render(
        {
            "example_until_timestamp_seconds": ("A Unix time.", {(): 1830297600.0}),
            "example_ratio": ("A share.", {(("part", 'a "b"'),): 0.125}),
        }
    )
    lines = text.splitlines()
    assert 'complaintflow_events_total{outcome="accepted",reason=""} 1' in lines
    assert 'complaintflow_events_total{outcome="rejected",reason="invalid"} 1' in lines
    assert "# TYPE example_until_timestamp_seconds gauge" in lines
    assert "example_until_timestamp_seconds 1830297600" in lines, "a Unix time to the second, not 1.8303e+09"
    assert 'example_ratio{part="a \\"b\\""} 0.125' in lines
