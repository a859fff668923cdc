"""`complaintflow replay`: the projections as they stood at any moment, rebuilt from the event log.

Reads complaints.events (or an export file) with a plain aiokafka consumer: manual assignment, no
group id (it never joins the live group, commits nothing, and produces nothing), partition by
partition from the beginning to the end the log had when the replay started. That end is
verified by a fetch (`services.recovery.verified_end_offsets`): the dev broker under-reports
ListOffsets after batched writes, and on Apache Kafka the two agree. Records are folded one at a
time by `services.history.History`, which keeps one case per complaint, never the log.

Output is a pure function of the log, the policy files and `--as-of`: sorted by complaint and
department, JSON with sorted keys, no wall clock unless `--as-of` is left to default to now.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from events.errors import ComplaintflowError
from projections.workload import DepartmentWorkload
from projections.workload import to_record as workload_record
from services.clients import UnknownTopic, read_topic
from services.history import ExportFileError, History, Horizon, LoggedEvent, Step, parse_line
from services.progress import Progress
from services.recovery import verified_end_offsets
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import EVENTS, REJECTED

Format = Literal["table", "json", "csv"]
FETCH_BYTES = 64 << 20
"""Per fetch and per partition: a message of several MB (complaints.events keeps hostile input too) must fit."""
STALL_SECONDS = 30.0


class LogReadError(ComplaintflowError):
    """The log could not be read to its end (the broker stopped answering for a partition)."""


class UnknownComplaintId(ComplaintflowError):
    """`--complaint` names a complaint the log does not mention."""


class ReplayOptionsError(ComplaintflowError):
    """Options that cannot be combined; the message says why."""


@dataclass(frozen=True)
class ReplayRequest:
    as_of: datetime | None = None
    """None: now (and the output then says when now was)."""
    complaint: str | None = None
    department: str | None = None
    from_file: Path | None = None
    format: Format = "table"
    rejected: bool = False


class EventLog(Protocol):
    total: int

    def events(self) -> AsyncIterator[LoggedEvent]: ...


class KafkaLog:
    """complaints.events from its beginning to the end it had when entered, partition by partition."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(EVENTS.name)
        self.ranges: dict[int, tuple[int, int]] = {}
        self.total = 0
        self._consumer = _consumer(settings)

    async def __aenter__(self) -> KafkaLog:
        await self._consumer.start()
        try:
            await self._consumer.topics()  # loads the cluster's metadata
            partitions = self._consumer.partitions_for_topic(self.topic)
            if not partitions:
                raise UnknownTopic(
                    f"topic {self.topic} does not exist on {self.settings.bootstrap_servers}: nothing to read "
                    "(check KAFKA_BOOTSTRAP_SERVERS and COMPLAINTFLOW_TOPIC_PREFIX)"
                )
            assignment = [TopicPartition(self.topic, partition) for partition in sorted(partitions)]
            listed = await self._consumer.end_offsets(assignment)
            ends = await verified_end_offsets(lambda: _consumer(self.settings), listed)
            beginnings = await self._consumer.beginning_offsets(assignment)
        except BaseException:
            await self._consumer.stop()
            raise
        self.ranges = {tp.partition: (beginnings[tp], ends[tp]) for tp in assignment}
        self.total = sum(max(0, end - beginning) for beginning, end in self.ranges.values())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for partition, (beginning, end) in sorted(self.ranges.items()):
            if end > beginning:
                async for entry in self._partition(TopicPartition(self.topic, partition), beginning, end):
                    yield entry

    async def _partition(self, partition: TopicPartition, beginning: int, end: int) -> AsyncIterator[LoggedEvent]:
        self._consumer.assign([partition])
        self._consumer.seek(partition, beginning)
        stalled = 0.0
        while await self._consumer.position(partition) < end:
            batch = (await self._consumer.getmany(partition, timeout_ms=500, max_records=5000)).get(partition, [])
            stalled = 0.0 if batch else stalled + 0.5
            if stalled > STALL_SECONDS:
                position = await self._consumer.position(partition)
                raise LogReadError(
                    f"{self.topic}[{partition.partition}] stopped answering at offset {position} before its end "
                    f"{end}; is the broker at {self.settings.bootstrap_servers} healthy?"
                )
            for record in batch:
                if record.offset >= end:  # written after the replay started
                    return
                yield LoggedEvent(record.partition, record.offset, record.timestamp, record.key, record.value or b"")


class FileLog:
    """An export file read back as a log (`replay --from-file`), one line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0

    async def __aenter__(self) -> FileLog:
        try:
            with self.path.open("rb") as lines:
                self.total = sum(1 for line in lines if line.strip())
        except OSError as error:
            raise ExportFileError(f"cannot read {self.path}: {error.strerror}") from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for entry in self.entries():
            yield entry

    def entries(self) -> Iterator[LoggedEvent]:
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield parse_line(line, where=f"{self.path}:{number}")


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    """No group: nothing joins, nothing is committed; the live group never sees a replay."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.app_id}-replay",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES,
    )


async def fold_log(log: EventLog, history: History, progress: Progress, *, only_key: bytes | None = None) -> None:
    """Feed every entry of `log` to `history` (with `only_key`, only that key's: one complaint's timeline)."""
    async for entry in log.events():
        progress.advance()
        if only_key is None or entry.key == only_key:
            history.feed(entry)
    progress.close()


def constant(horizon: Horizon) -> Callable[[str], Horizon]:
    """The same horizon for every complaint (replay and export; verify gives each its own)."""
    return lambda _complaint_id: horizon


async def run_replay(settings: Settings, request: ReplayRequest, stdout: TextIO, stderr: TextIO) -> int:
    """`complaintflow replay`: projections (or a timeline, or the rejections) on `stdout`; the
    progress bar and a one-line summary on `stderr`."""
    if request.rejected:
        if request.from_file is not None:
            raise ReplayOptionsError(
                "--rejected lists complaints.rejected on the cluster; an export file holds accepted events only"
            )
        await list_rejected(settings, request, stdout)
        return 0
    as_of = request.as_of or datetime.now(UTC)
    history = History(load_rulebook(settings), constant(Horizon(as_of, occurred_by=as_of)), watch=request.complaint)
    log: FileLog | KafkaLog = FileLog(request.from_file) if request.from_file else KafkaLog(settings)
    async with log:
        only_key = None if request.complaint is None else request.complaint.encode()
        await fold_log(log, history, Progress(stderr, "replay", log.total), only_key=only_key)
    if request.complaint is not None:
        write_timeline(stdout, history, request.complaint, as_of, request.format)
    else:
        write_projections(stdout, history, as_of, request.department, request.format)
    print(summary(history, as_of), file=stderr)
    return 0


def summary(history: History, as_of: datetime) -> str:
    counts = history.counts
    return (
        f"replayed {sum(counts.values()):,} events as of {as_of.isoformat()}: {counts['accepted']:,} accepted, "
        f"{counts['duplicate']:,} repeats, {counts['rejected']:,} rejected, {counts['later']:,} after --as-of; "
        f"{len(history.complaint_ids()):,} complaints"
    )


# --- projections ---------------------------------------------------------------------------------


def selected(history: History, department: str | None) -> Iterator[dict[str, Any]]:
    """Complaint records in id order; with a department, those it handles or owns."""
    for record in history.records():
        if department is None or department in (record["department"], record["owner_department"]):
            yield record


def workload_records(history: History, as_of: datetime, department: str | None) -> list[dict[str, Any]]:
    views: dict[str, DepartmentWorkload] = history.workloads()
    return [workload_record(view, as_of) for name, view in views.items() if department in (None, name)]


def write_projections(out: TextIO, history: History, as_of: datetime, department: str | None, form: Format) -> None:
    complaints = selected(history, department)
    workloads = workload_records(history, as_of, department)
    if form == "json":
        out.write(f'{{"as_of":{_json(as_of.isoformat())},"complaints":[')
        _write_json_lines(out, complaints)
        out.write('],"workload":[')
        _write_json_lines(out, workloads)
        out.write("]}\n")
    elif form == "csv":
        _write_csv(out, list(complaints))
        out.write("\n")
        _write_csv(out, workloads)
    else:
        rows = [_complaint_row(record) for record in complaints]
        out.write(f"complaints as of {as_of.isoformat()}: {len(rows)}\n")
        _write_table(out, COMPLAINT_COLUMNS, rows)
        out.write(f"\nworkload as of {as_of.isoformat()}: {len(workloads)} departments\n")
        _write_table(out, WORKLOAD_COLUMNS, [_workload_row(record) for record in workloads])


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
        out.write(f'{{"as_of":{_json(as_of.isoformat())},"complaint":{_json(record)},"timeline":[')
        _write_json_lines(out, steps)
        out.write("]}\n")
    elif form == "csv":
        _write_csv(out, steps)
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


# --- rejected messages ---------------------------------------------------------------------------

REJECTED_COLUMNS = (
    "source_partition",
    "source_offset",
    "reason_code",
    "complaint_id",
    "event_id",
    "key",
    "rejected_at",
    "value_size",
    "value_sha256",
    "reason",
)


async def list_rejected(settings: Settings, request: ReplayRequest, out: TextIO) -> None:
    """complaints.rejected, sorted by source position (then time), filtered by --complaint and --as-of."""
    found = []
    async for message in read_topic(settings, settings.topic(REJECTED.name)):
        if message.value is None:
            continue
        record = orjson.loads(message.value)
        if _rejection_matches(record, request):
            found.append(record)
    found.sort(key=lambda r: (r["source_topic"], r["source_partition"], r["source_offset"], r["rejected_at"]))
    if request.format == "json":
        out.write('{"rejected":[')
        _write_json_lines(out, found)
        out.write("]}\n")
    elif request.format == "csv":
        _write_csv(out, [{name: record.get(name) for name in REJECTED_COLUMNS} for record in found])
    else:
        rows = [
            [
                f"{r['source_partition']}@{r['source_offset']}",
                r["reason_code"],
                r.get("complaint_id") or r.get("key") or "-",
                r.get("event_id") or "-",
                r["rejected_at"],
                r["reason"],
            ]
            for r in found
        ]
        out.write(f"rejected messages: {len(rows)}\n")
        _write_table(out, ("POSITION", "REASON_CODE", "COMPLAINT", "EVENT", "REJECTED_AT", "REASON"), rows)


def _rejection_matches(record: dict[str, Any], request: ReplayRequest) -> bool:
    if request.complaint is not None and request.complaint not in (record.get("complaint_id"), record.get("key")):
        return False
    return request.as_of is None or datetime.fromisoformat(record["rejected_at"]) <= request.as_of


# --- writers -------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _write_json_lines(out: TextIO, records: Iterable[dict[str, Any]]) -> None:
    """One record a line inside a JSON array: valid JSON, and line-diffable."""
    for index, record in enumerate(records):
        out.write(("\n" if index == 0 else ",\n") + _json(record))
    out.write("\n")


def _write_csv(out: TextIO, records: list[dict[str, Any]]) -> None:
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
        return _json(value)
    return "" if value is None else str(value)


def _write_table(out: TextIO, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    widths = [max([len(column), *(_width(row[index]) for row in rows)]) for index, column in enumerate(columns)]
    for row in [list(columns), *rows]:
        cells = (cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _width(text: str) -> int:
    """Columns a terminal gives `text`: Chinese characters (department names) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _shown(moment: datetime, zone: tzinfo | None) -> str:
    return moment.astimezone(zone).isoformat() if zone is not None else moment.isoformat()
