"""`complaintflow verify`: prove the live read models equal a replay of the event log.

The rule (docs/replay.md): each complaint's latest complaints.state record is compared with the
replay of that complaint's first `version` accepted events, settled as the live worker settles and
evaluated at the record's own `evaluated_at`. So a live system that lags the log is compared where
it stands (events it has not processed yet are not drift), and clocks are compared at the same
instant. Each department's latest complaints.workload record is compared with the workload rebuilt
from those same replayed complaints, evaluated at that record's `evaluated_at`. And the alerts a
complaint has outstanding on complaints.alerts (raised, and not retracted since) are compared with
those its replay has outstanding: an alert lost on the way, or never retracted, is drift. An alert
delivered twice (the same `alert_id`, at-least-once after a crash) is counted, not drift.

One field is left out: a complaint's `revision`. It counts the live worker's settle steps (events
and alert raises), so it also records when the worker happened to run: alerts that fell due while
it was stopped, or within one timer interval of an event, are raised in one step live and in
several in a replay. What those steps raised is compared, in `alerts`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from projections.history import History, Horizon, Horizons
from projections.workload import to_record as workload_record
from services.clients import latest_by_key, read_topic
from services.parallel_replay import fold
from services.progress import Progress
from services.readmodel import ReadModel
from services.replay import KafkaLog
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import ALERTS, STATE, WORKLOAD

NOT_COMPARED = frozenset({"revision"})
IDENTITIES = ("alert_id", "name")
"""How list items are matched (alerts by id, clocks by name), so one changed item is one difference."""


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()
"""A field or record one side has and the other has not."""


@dataclass(frozen=True)
class Difference:
    subject: str
    """`complaint C-1001` or `department 客服中心`."""
    field: str
    live: Any
    replayed: Any

    def describe(self) -> str:
        return f"{self.subject}  {self.field}: live {_shown(self.live)}, replayed {_shown(self.replayed)}"


@dataclass
class VerifyReport:
    differences: list[Difference] = field(default_factory=list)
    complaints: int = 0
    departments: int = 0
    events: int = 0
    lagging: int = 0
    """Complaints whose live record does not reflect every accepted event yet (compared where they stand)."""
    regrouped: int = 0
    """Complaints equal in everything but `revision`: the live worker raised their alerts in other steps."""
    repeated_alerts: int = 0
    """Alerts delivered again while already outstanding (the same alert_id: at-least-once after a crash)."""

    def summary(self) -> str:
        checked = (
            f"{self.complaints:,} complaints ({self.events:,} events) and {self.departments:,} departments checked"
        )
        lag = "" if not self.lagging else f"; {self.lagging:,} complaints lag the log (compared at their live version)"
        if self.regrouped:
            lag += f"; {self.regrouped:,} complaints had their alerts raised in other steps (revision not compared)"
        if self.repeated_alerts:
            lag += f"; {self.repeated_alerts:,} alerts were delivered more than once (same alert_id)"
        if not self.differences:
            return f"no drift: {checked}{lag}"
        subjects = len({difference.subject for difference in self.differences})
        return f"drift: {len(self.differences):,} differences in {subjects:,} records; {checked}{lag}"


def differences(live: Any, replayed: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where two JSON values differ, as (path, live, replayed). Lists of objects that
    carry an `alert_id` or a `name` are matched by it; other lists compare as a whole."""
    if isinstance(live, dict) and isinstance(replayed, dict):
        keys = [*replayed, *(key for key in live if key not in replayed)]
        return [
            found
            for key in keys
            for found in differences(live.get(key, ABSENT), replayed.get(key, ABSENT), _join(path, str(key)))
        ]
    identity = _identity(live, replayed)
    if identity is not None:
        live_items = {item[identity]: item for item in live}
        replayed_items = {item[identity]: item for item in replayed}
        names = [*replayed_items, *(name for name in live_items if name not in replayed_items)]
        return [
            found
            for name in names
            for found in differences(live_items.get(name, ABSENT), replayed_items.get(name, ABSENT), f"{path}[{name}]")
        ]
    return [] if live == replayed else [(path or "(record)", live, replayed)]


def _identity(live: Any, replayed: Any) -> str | None:
    if not (isinstance(live, list) and isinstance(replayed, list)):
        return None
    items = [*live, *replayed]
    for name in IDENTITIES:
        if items and all(isinstance(item, dict) and name in item for item in items):
            return name
    return None


def compare(subject: str, live: dict[str, Any], replayed: dict[str, Any]) -> list[Difference]:
    """The differences between a live record and its replay, `NOT_COMPARED` fields aside."""
    normalised = orjson.loads(orjson.dumps(replayed))  # the live record went through JSON too
    return [
        Difference(subject, path, live_value, replayed_value)
        for path, live_value, replayed_value in differences(live, normalised)
        if path.split(".")[0].split("[")[0] not in NOT_COMPARED
    ]


async def verify(settings: Settings, stderr: TextIO, *, jobs: int | None = None) -> VerifyReport:
    """Read the live read models first, then the log to its current end, and compare. `jobs`: the
    processes folding the log (`services.parallel_replay`); None: one per core, fewer on a small log."""
    started = datetime.now(UTC)
    states = _by_key(await latest_by_key(settings, settings.topic(STATE.name)))
    workloads = _by_key(await latest_by_key(settings, settings.topic(WORKLOAD.name)))
    alerts = await outstanding_alerts(settings)
    unknown = Horizon(started)
    horizons = Horizons(unknown, {complaint_id: _horizon(record, unknown) for complaint_id, record in states.items()})
    async with KafkaLog(settings) as log:
        history = await fold(
            settings, log, History(load_rulebook(settings), horizons), jobs, Progress(stderr, "verify", log.total)
        )
    report = VerifyReport(
        events=history.counts["accepted"], lagging=len(history.lagging), repeated_alerts=alerts.repeated
    )
    replayed_records = {record["complaint_id"]: record for record in history.records()}
    for complaint_id in sorted({*states, *replayed_records}):
        subject = f"complaint {complaint_id}"
        if complaint_id not in replayed_records:
            report.differences.append(Difference(subject, "(record)", _gist(states[complaint_id]), ABSENT))
        elif complaint_id not in states:
            report.differences.append(Difference(subject, "(record)", ABSENT, _gist(replayed_records[complaint_id])))
        else:
            live, replayed = states[complaint_id], replayed_records[complaint_id]
            found = compare(subject, live, replayed)
            published = sorted(alerts.by_complaint.get(complaint_id, ()))
            expected = sorted(alert["alert_id"] for alert in replayed["alerts"])
            if published != expected:
                found.append(Difference(subject, ALERTS.name, published, expected))
            report.differences += found
            report.regrouped += not found and live.get("revision") != replayed["revision"]
    report.complaints = len(replayed_records)
    views = history.workloads()
    for department in sorted({*workloads, *views}):
        subject = f"department {department}"
        if department not in views:
            report.differences.append(Difference(subject, "(record)", _gist(workloads[department]), ABSENT))
        elif department not in workloads:
            report.differences.append(
                Difference(subject, "(record)", ABSENT, _gist(workload_record(views[department])))
            )
        else:
            live = workloads[department]
            at = _horizon(live, unknown).clock
            report.differences += compare(subject, live, workload_record(views[department], at))
    report.departments = len(views)
    return report


@dataclass
class PublishedAlerts:
    by_complaint: dict[str, set[str]] = field(default_factory=dict)
    """complaint_id → the alert ids raised on complaints.alerts and not retracted since."""
    repeated: int = 0


async def outstanding_alerts(settings: Settings) -> PublishedAlerts:
    """Fold complaints.alerts in log order with the dashboards' read model (a complaint's alerts
    share one partition)."""
    model = ReadModel()
    async for record in read_topic(settings, settings.topic(ALERTS.name)):
        with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):  # not an alert we wrote
            model.take_alert(record.partition, record.offset, record.value)
    return PublishedAlerts(model.outstanding_alerts(), model.repeated_alerts)


def print_report(report: VerifyReport, out: TextIO) -> int:
    """Every difference, then the summary; 1 if anything drifted."""
    for difference in report.differences:
        print(difference.describe(), file=out)
    print(report.summary(), file=out)
    return 1 if report.differences else 0


def _horizon(record: dict[str, Any], unknown: Horizon) -> Horizon:
    """Where a live record stands: its `evaluated_at` and `version`. A record without them (not
    written by a worker) is compared with the replay to the end, and differs where it differs."""
    try:
        evaluated_at = datetime.fromisoformat(record["evaluated_at"])
    except (KeyError, TypeError, ValueError):
        return unknown
    version = record.get("version")
    if evaluated_at.tzinfo is None:
        return unknown
    return Horizon(evaluated_at, version=version if isinstance(version, int) and version > 0 else None)


def _by_key(latest: dict[bytes, Any]) -> dict[str, dict[str, Any]]:
    return {key.decode("utf-8", errors="replace"): value for key, value in latest.items() if isinstance(value, dict)}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _gist(record: dict[str, Any]) -> dict[str, Any]:
    """Enough of a record to recognise it when the other side has none."""
    keys = ("stage", "version") if "stage" in record else ("open", "owned")
    return {key: record.get(key) for key in keys}


def _shown(value: Any) -> str:
    return "(absent)" if value is ABSENT else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
