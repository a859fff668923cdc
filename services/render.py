"""How replay shows what it rebuilt: complaint and workload tables, JSON and CSV, one complaint's
timeline. Pure text from records: no I/O but the stream it is given, no clock (instants come from
the records and `--as-of`), so the same log and `--as-of` print the same bytes.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from typing import Any, Literal, TextIO

import orjson

from events.errors import ComplaintflowError
from projections.history import Folded, History, Step
from projections.workload import DepartmentWorkload
from projections.workload import to_record as workload_record

Format = Literal["table", "json", "csv"]


class UnknownComplaintId(ComplaintflowError):
    """`--complaint` names a complaint the log does not mention."""


# --- projections ---------------------------------------------------------------------------------


def selected(history: Folded, department: str | None) -> Iterator[dict[str, Any]]:
    """Complaint records in id order; with a department, those it handles or owns."""
    for record in history.records():
        if department is None or department in (record["department"], record["owner_department"]):
            yield record


def workload_records(history: Folded, as_of: datetime, department: str | None) -> list[dict[str, Any]]:
    views: dict[str, DepartmentWorkload] = history.workloads()
    return [workload_record(view, as_of) for name, view in views.items() if department in (None, name)]


def write_projections(out: TextIO, history: Folded, as_of: datetime, department: str | None, form: Format) -> None:
    complaints = selected(history, department)
    workloads = workload_records(history, as_of, department)
    if form == "json":
        out.write(f'{{"as_of":{json_text(as_of.isoformat())},"complaints":[')
        write_json_lines(out, complaints)
        out.write('],"workload":[')
        write_json_lines(out, workloads)
        out.write("]}\n")
    elif form == "csv":
        write_csv(out, list(complaints))
        out.write("\n")
        write_csv(out, workloads)
    else:
        rows = [_complaint_row(record) for record in complaints]
        out.write(f"complaints as of {as_of.isoformat()}: {len(rows)}\n")
        write_table(out, COMPLAINT_COLUMNS, rows)
        out.write(f"\nworkload as of {as_of.isoformat()}: {len(workloads)} departments\n")
        write_table(out, WORKLOAD_COLUMNS, [_workload_row(record) for record in workloads])


COMPLAINT_COLUMNS = ("COMPLAINT", "STAGE", "DEPARTMENT", "HANDLER", "OWNER", "CLAIM", "PAID", "CLOCKS", "ESC", "ALERTS")
WORKLOAD_COLUMNS = ("DEPARTMENT", "OPEN", "OWNED", "AT_RISK", "BREACHED", "OLDEST_OPEN", "BY_STAGE", "HANDLERS")
STATUS_ORDER = {"breached": 0, "at_risk": 1, "running": 2, "paused": 3, "met": 4}


def _complaint_row(record: dict[str, Any]) -> list[str]:
    return [
        record["complaint_id"],
        record["stage"],
        record["department"],
        record["handler"] or "-",
        record["owner_department"],
        record["claim_amount"],
        record["paid_amount"],
        clocks_text(record["clocks"], compact=True),
        str(record["escalation_level"]),
        str(len(record["alerts"])),
    ]


def _workload_row(record: dict[str, Any]) -> list[str]:
    oldest = record["oldest_open_seconds"]
    return [
        record["department"],
        str(record["open"]),
        str(record["owned"]),
        str(record["at_risk"]),
        str(record["breached"]),
        "-" if oldest is None else duration(oldest),
        _counts_text(record["by_stage"]),
        _counts_text(record["handlers"]),
    ]


def clocks_text(clocks: list[dict[str, Any]], *, compact: bool = False) -> str:
    """Worst clock first: `resolution breached 2h over, ruling running 2d left, assignment met`;
    `compact` counts the met clocks instead of naming them (`..., +1 met`)."""
    ordered = sorted(clocks, key=lambda clock: (STATUS_ORDER.get(clock["status"], 9), clock["name"]))
    met = sum(clock["status"] == "met" for clock in ordered) if compact else 0
    shown = [_clock_text(clock) for clock in ordered if not (compact and clock["status"] == "met")]
    return ", ".join([*shown, *([f"+{met} met"] if met else [])]) or "-"


def _clock_text(clock: dict[str, Any]) -> str:
    remaining = clock["remaining_seconds"]
    if clock["status"] == "met":
        return f"{clock['name']} met"
    side = "over" if remaining < 0 else "left"
    return f"{clock['name']} {clock['status']} {duration(abs(remaining))} {side}"


def duration(seconds: float) -> str:
    """Coarse, for people: `2d 3h`, `3h 5m`, `45m`, `30s`."""
    whole = int(abs(seconds))
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{whole}s"


def _counts_text(counts: dict[str, int]) -> str:
    return " ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "-"


# --- one complaint's timeline --------------------------------------------------------------------


def write_timeline(out: TextIO, history: History, complaint_id: str, as_of: datetime, form: Format) -> None:
    known = complaint_id in history.complaint_ids()
    if not known and not history.timeline:
        raise UnknownComplaintId(
            f"no event of complaint {complaint_id} in the log"
            f"{'' if history.counts['later'] == 0 else ' by --as-of'} (ids are case-sensitive)"
        )
    record = history.record(complaint_id) if known else None
    timeline = sorted(history.timeline, key=lambda step: step.at)  # the final wake-ups are worked out last
    steps = [step_record(step, as_of.tzinfo) for step in timeline]
    if form == "json":
        out.write(f'{{"as_of":{json_text(as_of.isoformat())},"complaint":{json_text(record)},"timeline":[')
        write_json_lines(out, steps)
        out.write("]}\n")
    elif form == "csv":
        write_csv(out, steps)
    else:
        _write_timeline_text(out, complaint_id, as_of, record, timeline)


def step_record(step: Step, zone: tzinfo | None) -> dict[str, Any]:
    """A timeline step as JSON-ready data; instants shown in the --as-of time zone."""
    state = step.state or {}
    return {
        "settled_at": _shown(step.at, zone),
        "step": step.kind,
        "event_type": step.event_type,
        "event_id": step.event_id,
        "position": step.position,
        "occurred_at": None if step.occurred_at is None else _shown(step.occurred_at, zone),
        "changes": {name: list(change) for name, change in step.changes.items()},
        "clocks": state.get("clocks"),
        "alerts_raised": list(step.raised),
        "alerts_retracted": list(step.retracted),
        "alerts_outstanding": [alert["alert_id"] for alert in state.get("alerts", [])],
        "reason": step.reason,
    }


TIMELINE_FIELDS = (
    "stage",
    "department",
    "handler",
    "owner_department",
    "claim_amount",
    "lab_inspection_pending",
    "ruling",
    "paid_amount",
    "satisfied",
    "department_changes",
)
"""What an event's `changes` line shows in the table view (the JSON has every changed field)."""
STEP_NOTES = {
    "event": "",
    "sla": "",
    "duplicate": "  [a repeat: changed nothing]",
    "rejected": "  [rejected]",
    "later": "  [occurred after --as-of: left out]",
    "beyond": "  [past the live record]",
}
OPENING_FIELDS = ("stage", "department", "category", "claim_amount")
"""What the table view shows of a `received` event, which sets every field."""


def _write_timeline_text(
    out: TextIO, complaint_id: str, as_of: datetime, record: dict[str, Any] | None, steps: list[Step]
) -> None:
    if record is None:
        out.write(f"complaint {complaint_id} as of {as_of.isoformat()}: no accepted event\n")
    else:
        out.write(
            f"complaint {complaint_id} as of {as_of.isoformat()}: {record['stage']}, {record['department']} "
            f"(handler {record['handler'] or '-'}), escalation level {record['escalation_level']}, "
            f"revision {record['revision']}\n"
        )
    for step in steps:
        when = _shown(step.at, as_of.tzinfo)
        if step.kind == "sla":
            out.write(f"{when}  SLA wake-up\n")
        else:
            occurred = "" if step.occurred_at is None else f", occurred {_shown(step.occurred_at, as_of.tzinfo)}"
            label = step.event_type or "(undecodable)"
            out.write(f"{when}  {label} {step.event_id or ''} at {step.position}{occurred}{STEP_NOTES[step.kind]}\n")
        fields = OPENING_FIELDS if "complaint_id" in step.changes else TIMELINE_FIELDS
        shown = {name: step.changes[name] for name in fields if name in step.changes}
        if shown:
            out.write("    changed  " + "; ".join(_change_text(name, *shown[name]) for name in shown) + "\n")
        if step.state is not None:
            out.write(f"    clocks   {clocks_text(step.state['clocks'])}\n")
        for alert_id in step.raised:
            out.write(f"    raised   {alert_id}\n")
        for alert_id in step.retracted:
            out.write(f"    retracted {alert_id}\n")
        if step.reason:
            out.write(f"    reason   {step.reason}\n")


def _change_text(name: str, before: Any, after: Any) -> str:
    def text(value: Any) -> str:
        if isinstance(value, dict):
            return " ".join(f"{key}={item}" for key, item in value.items())
        return "-" if value is None else str(value)

    return f"{name} {text(after)}" if before is None else f"{name} {text(before)} → {text(after)}"


# --- writers -------------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def write_json_lines(out: TextIO, records: Iterable[dict[str, Any]]) -> None:
    """One record a line inside a JSON array: valid JSON, and line-diffable."""
    for index, record in enumerate(records):
        out.write(("\n" if index == 0 else ",\n") + json_text(record))
    out.write("\n")


def write_csv(out: TextIO, records: list[dict[str, Any]]) -> None:
    """Columns in record order; nested values as compact JSON with sorted keys."""
    if not records:
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(records[0].keys())
    for record in records:
        writer.writerow(_cell(value) for value in record.values())
    out.write(buffer.getvalue())


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json_text(value)
    return "" if value is None else str(value)


def write_table(out: TextIO, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    widths = [max([len(column), *(_width(row[index]) for row in rows)]) for index, column in enumerate(columns)]
    for row in [list(columns), *rows]:
        cells = (cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _width(text: str) -> int:
    """Columns a terminal gives `text`: Chinese characters (department names) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _shown(moment: datetime, zone: tzinfo | None) -> str:
    return moment.astimezone(zone).isoformat() if zone is not None else moment.isoformat()
