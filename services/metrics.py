"""The worker's counters, rendered in the Prometheus text format for GET /metrics.

Counters are per worker process (Prometheus sums them across workers); they start at zero when
a worker starts, which Prometheus' rate() and increase() expect. Kept here rather than in a
client library: five counters and a renderer do not need one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Family = tuple[str, Mapping[tuple[tuple[str, str], ...], float]]
"""A metric's help text, and its value by labels."""


class Metrics:
    def __init__(self) -> None:
        self.events: Counter[tuple[str, str]] = Counter()
        """(outcome, reason) → messages of complaints.events: accepted, duplicate or rejected (with its code)."""
        self.alerts: Counter[str] = Counter()
        """alert kind → alerts raised (retractions count under `retracted`)."""
        self.clock_evaluations = 0
        """Times a complaint's clocks were evaluated (an event, or a timer wake-up)."""

    def count_event(self, outcome: str, reason: str = "") -> None:
        self.events[(outcome, reason)] += 1

    def count_alerts(self, kinds: Iterable[str]) -> None:
        self.alerts.update(kinds)

    def render(self, gauges: Mapping[str, Family], counted_elsewhere: Mapping[str, Family] | None = None) -> str:
        """The counters, then `counted_elsewhere` (counters other parts keep), then `gauges`
        measured by the caller now; each name → (help, labels → value)."""
        lines: list[str] = []
        _family(
            lines,
            "complaintflow_events_total",
            "counter",
            "Messages of complaints.events by outcome (accepted, duplicate, rejected) and rejection reason.",
            {(("outcome", outcome), ("reason", reason)): count for (outcome, reason), count in self.events.items()},
        )
        _family(
            lines,
            "complaintflow_alerts_raised_total",
            "counter",
            "SLA alerts and notices raised, by kind.",
            {(("kind", kind),): count for kind, count in self.alerts.items()},
        )
        _family(
            lines,
            "complaintflow_clock_evaluations_total",
            "counter",
            "Evaluations of a complaint's SLA clocks (one per event or timer wake-up).",
            {(): self.clock_evaluations},
        )
        for name, (help_text, samples) in (counted_elsewhere or {}).items():
            _family(lines, name, "counter", help_text, samples)
        for name, (help_text, samples) in gauges.items():
            _family(lines, name, "gauge", help_text, samples)
        return "\n".join(lines) + "\n"


def _family(
    lines: list[str], name: str, kind: str, help_text: str, samples: Mapping[tuple[tuple[str, str], ...], float]
) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in sorted(samples.items()):
        shown = ",".join(f'{label}="{_escaped(text)}"' for label, text in labels)
        lines.append(f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}")


def _number(value: float) -> str:
    """Whole numbers in full (a Unix time or a counter past a million keeps every digit: `:g` would
    write 1.8303e+09), others as Python writes a float, which Prometheus reads."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


metrics = Metrics()
"""The worker's one set of counters: agents count, GET /metrics renders."""
