"""What dashboards read: the latest of every projection topic, held in memory by every worker.

Each worker reads all partitions of complaints.state, complaints.workload and complaints.alerts
(and the keys of complaints.events, for history) into one `ReadModel`, so any worker answers any
request with the same data: no request routing, and a worker that owns no partition still serves.
The model reads no clock: `now` is an argument wherever the answer depends on it. It is fed each
partition's records in log order, by services/feed.py or, for the partitions this worker owns, by
its own agent; feeding the same record twice changes nothing (at-least-once input, and the overlap
where the one hands a partition to the other).

Alert statuses: `active` (raised, not retracted, complaint still open), `retracted` (a later
event showed it was not due), `closed` (the complaint has been closed since).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson

from projections.sla import retracted_alert_id
from services.dictionaries import STATE_RECORD
from services.packing import Zstd

AlertStatus = Literal["active", "retracted", "closed"]
ALERT_STATUSES: tuple[AlertStatus, ...] = ("active", "retracted", "closed")
_OFFSET_BITS = 44
"""History positions pack (partition, offset) into one signed 64-bit integer, 8 bytes per event: offsets
below 2**44 (17 trillion), partitions below 2**19."""
_POSITION = 8
_records = Zstd(STATE_RECORD)
UNPACKED_RECORDS = 1_000
"""The newest state records are kept as published, and packed only once this many newer ones came:
in figure 1's backlog half of a complaint's records are replaced within 500 records (the median,
58), so half of them are never packed (docs/performance.md, "The read model's own partitions")."""


class Standing(NamedTuple):
    department: str
    """The department handling the complaint now."""
    open: bool
    version: int
    """How many events the record held has folded: what tells a newer record from an older one."""


@dataclass(slots=True)
class AlertEntry:
    record: dict[str, Any]
    retracted: bool = False


@dataclass(frozen=True, slots=True)
class LoggedAlert:
    """A newly raised alert, where it sits in complaints.alerts: the live stream's unit."""

    partition: int
    offset: int
    record: dict[str, Any]


@dataclass(slots=True)
class ReadModel:
    states: dict[str, bytes] = field(default_factory=dict)
    """complaint_id → its latest complaints.state record, as published, packed with a preset dictionary
    (services/packing.py): every worker holds every complaint, and a fresh one's 1.1 KB record keeps in
    ~150 bytes (a few µs to pack or unpack). Except the `UNPACKED_RECORDS` newest, in `_unpacked`."""
    _unpacked: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    """complaint_id → its latest record as published, if among the newest: oldest first."""
    handled_by: dict[str, Standing] = field(default_factory=dict)
    """complaint_id → where it stands: what alert filters and ordering need, without expanding a record.
    Department names are interned: a handful of names, shared by every complaint's entry."""
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, AlertEntry] = field(default_factory=dict)
    raised_log: list[LoggedAlert] = field(default_factory=list)
    """Every raise of an alert not active at the time, in the order read: what `/alerts/stream` replays."""
    repeated_alerts: int = 0
    """Raises of an alert already outstanding (the same alert_id: at-least-once after a crash)."""
    alerts_read_to: dict[int, int] = field(default_factory=dict)
    """complaints.alerts partition → the next offset to read: where a new stream client starts."""
    _history: dict[str, bytes] = field(default_factory=dict)
    """complaint_id → its packed positions (8 native-order bytes each): a bytes object costs 33 bytes
    plus the positions, an array 64 plus an over-allocated buffer, and most complaints have a few."""

    def take_state(self, value: bytes | None) -> None:
        if not value:
            return  # a tombstone: complaintflow never writes one, and there is nothing to show for it
        self.take_state_record(orjson.loads(value), value)

    def take_state_record(self, record: dict[str, Any], value: bytes) -> None:
        """`take_state` of a record already parsed: the worker's own, as its agent wrote `value`."""
        complaint_id = record["complaint_id"]
        current = self.handled_by.get(complaint_id)
        if current is not None and not self._newer(record, current):
            return
        unpacked = self._unpacked
        if unpacked.pop(complaint_id, None) is None:
            self.states.pop(complaint_id, None)
        unpacked[complaint_id] = value
        if len(unpacked) > UNPACKED_RECORDS:
            oldest, record_value = unpacked.popitem(last=False)
            self.states[oldest] = _records.pack(record_value)
        department = sys.intern(record["department"])
        self.handled_by[complaint_id] = Standing(department, bool(record["open"]), record["version"])

    def _newer(self, record: dict[str, Any], current: Standing) -> bool:
        """Whether `record` is at least as new as the complaint's record held (`current`): it folded
        more events, or as many and was evaluated no earlier (a timer's settle, or the same events
        processed again after a crash). Not its `revision`: a worker that crashed before saving its
        table processes the events since its last commit again, and raises in one settle the
        alerts its first pass raised in several, so its newer records can count fewer revisions than
        one published before the crash. An older record read after a newer one (at-least-once
        publishing; a complaint whose records moved partition, docs/operations.md) is left out."""
        version = record["version"]
        if version != current.version:
            return bool(version > current.version)
        held = self.complaint(record["complaint_id"])
        return held is None or _evaluated_at(record) >= _evaluated_at(orjson.loads(held))

    def take_workload(self, value: bytes | None) -> None:
        if value:
            record = orjson.loads(value)
            self.workloads[record["department"]] = record

    def take_alert(self, partition: int, offset: int, value: bytes | None) -> LoggedAlert | None:
        """Fold one complaints.alerts record; the alert if it is newly raised (for the live stream)."""
        self.alerts_read_to[partition] = max(offset + 1, self.alerts_read_to.get(partition, 0))
        if not value:
            return None
        record = orjson.loads(value)
        alert_id: str = record["alert_id"]
        if record["kind"] == "retracted":
            original = self.alerts.get(retracted_alert_id(alert_id) or alert_id)
            if original is not None:
                original.retracted = True
            return None
        known = self.alerts.get(alert_id)
        if known is not None and not known.retracted:
            self.repeated_alerts += 1
            return None  # the same alert again (at-least-once): not news
        self.alerts[alert_id] = AlertEntry(record)
        logged = LoggedAlert(partition, offset, record)
        self.raised_log.append(logged)
        return logged

    def take_event_position(self, key: bytes | None, partition: int, offset: int) -> None:
        """Remember where a complaint's events are; they are read back (and judged) on request."""
        if key is None:
            return
        complaint_id = key.decode("utf-8", errors="replace")
        known = self._history.get(complaint_id, b"")
        position = (partition << _OFFSET_BITS) | offset
        positions = memoryview(known).cast("q")
        if positions and positions[-1] >= position and position in positions:
            return  # read again (the feed restarted, or a redelivery): kept once
        self._history[complaint_id] = known + position.to_bytes(_POSITION, sys.byteorder, signed=True)

    def event_positions(self, complaint_id: str) -> list[tuple[int, int]]:
        """(partition, offset) of every message keyed by the complaint, in the order read."""
        mask = (1 << _OFFSET_BITS) - 1
        packed = memoryview(self._history.get(complaint_id, b"")).cast("q")
        return [(position >> _OFFSET_BITS, position & mask) for position in packed]

    @property
    def complaints(self) -> int:
        return len(self.handled_by)

    def complaint(self, complaint_id: str) -> bytes | None:
        unpacked = self._unpacked.get(complaint_id)
        if unpacked is not None:
            return unpacked
        stored = self.states.get(complaint_id)
        return None if stored is None else _records.unpack(stored)

    def outstanding_alerts(self) -> dict[str, set[str]]:
        """complaint_id → ids of its alerts raised and not retracted since."""
        outstanding: dict[str, set[str]] = {}
        for alert_id, entry in self.alerts.items():
            if not entry.retracted:
                outstanding.setdefault(entry.record["complaint_id"], set()).add(alert_id)
        return outstanding

    def alert_status(self, entry: AlertEntry) -> AlertStatus:
        if entry.retracted:
            return "retracted"
        standing = self.handled_by.get(entry.record["complaint_id"])
        return "active" if standing is None or standing.open else "closed"

    def alert_view(self, entry: AlertEntry) -> dict[str, Any]:
        """An alert as the API shows it: the record as published, its status now, and the department
        handling the complaint now."""
        standing = self.handled_by.get(entry.record["complaint_id"])
        department = None if standing is None else standing.department
        return {"alert": entry.record, "status": self.alert_status(entry), "department": department}

    def find_alerts(
        self, *, status: AlertStatus | None = None, department: str | None = None, level: int | None = None
    ) -> list[dict[str, Any]]:
        """Alerts matching every given filter, newest first (by raised_at, then alert_id)."""
        found = []
        for entry in self.alerts.values():
            if level is not None and entry.record["level"] != level:
                continue
            view = self.alert_view(entry)
            if status is not None and view["status"] != status:
                continue
            if department is not None and view["department"] != department:
                continue
            found.append(view)
        found.sort(key=lambda view: (view["alert"]["raised_at"], view["alert"]["alert_id"]), reverse=True)
        return found

    def workload(self, now: datetime) -> list[dict[str, Any]]:
        """Every department's workload, its oldest open complaint aged to `now`, by department name."""
        return [_aged(record, now) for _, record in sorted(self.workloads.items())]

    def raised_after(self, seen: dict[int, int]) -> list[LoggedAlert]:
        """Alerts raised past `seen` (partition → next offset the client has not seen): a
        reconnecting stream resumes exactly, whichever worker it reconnects to."""
        return [logged for logged in self.raised_log if logged.offset >= seen.get(logged.partition, 0)]


def _evaluated_at(record: dict[str, Any]) -> datetime:
    """A record read from the topic holds text; the worker's own, an instant left for orjson to
    write (`codec.for_orjson`), unless orjson would have written it otherwise."""
    written = record["evaluated_at"]
    return written if isinstance(written, datetime) else datetime.fromisoformat(written)


def _aged(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The workload record with `oldest_open_seconds` as of `now` rather than as of its publication."""
    oldest, evaluated_at = record.get("oldest_open_seconds"), record.get("evaluated_at")
    if oldest is None or evaluated_at is None:
        return record
    since = (now - _evaluated_at(record)).total_seconds()
    return {**record, "oldest_open_seconds": round(oldest + max(since, 0.0), 3)}
