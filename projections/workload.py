"""Department workload: open complaints by stage and handler, folded from memberships.

A complaint's effect on a department is one `Membership` (handling it? owning it? at which stage,
by which handler?) stamped with the complaint's `version`. The workload agent keeps the latest
membership per (department, complaint) and folds each newer one into the department's counts:
`apply(view, before, after)` takes `before`'s contribution out and puts `after`'s in. An older or
repeated membership changes nothing, so redelivery never counts a complaint twice, and the counts
are always rebuildable from the memberships alone (`rebuild`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from projections.complaint import ComplaintState, Stage

UNASSIGNED = "(unassigned)"
Standing = Literal["ok", "at_risk", "breached"]


class Membership(BaseModel):
    """What one complaint contributes to one department, as of the complaint's `version` (its
    case revision in the live system, which also grows when an alert changes its standing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    complaint_id: str
    version: int
    handling: bool
    owned: bool
    stage: Stage
    handler: str | None
    standing: Standing = "ok"
    """The complaint's worst clock: at_risk or breached (counted where it is handled)."""
    received_at: datetime


class DepartmentWorkload(BaseModel):
    """Open complaints a department handles now (`open`) and owns by first contact (`owned`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    open: int = 0
    owned: int = 0
    at_risk: int = 0
    breached: int = 0
    by_stage: dict[str, int] = {}
    handlers: dict[str, int] = {}
    open_since: dict[str, datetime] = {}
    """complaint_id → received_at of each open complaint handled here: its minimum is the oldest."""


def membership(
    state: ComplaintState, department: str, *, version: int | None = None, standing: Standing = "ok"
) -> Membership:
    """The complaint's place in `department` (possibly none at all: both flags false). `version`
    defaults to the complaint's; the live system passes its case revision."""
    return Membership(
        department=department,
        complaint_id=state.complaint_id,
        version=state.version if version is None else version,
        handling=state.is_open and state.department == department,
        owned=state.is_open and state.owner_department == department,
        stage=state.stage,
        handler=state.handler,
        standing=standing if state.is_open else "ok",
        received_at=state.received_at,
    )


def memberships_changed(before: ComplaintState | None, after: ComplaintState) -> list[Membership]:
    """Memberships an accepted event may have changed: the owner, the handler now, the one before."""
    departments = dict.fromkeys([after.owner_department, after.department])
    if before is not None:
        departments[before.department] = None
    return [membership(after, department) for department in departments]


def every_membership(state: ComplaintState) -> list[Membership]:
    """Memberships in every department the complaint ever touched: re-sent after a redelivery,
    so a crash between saving state and publishing its consequences loses nothing."""
    return [membership(state, department) for department in state.departments_seen]


def supersedes(after: Membership, before: Membership | None) -> bool:
    return before is None or after.version > before.version


def apply(view: DepartmentWorkload, before: Membership | None, after: Membership) -> DepartmentWorkload:
    """Replace `before`'s contribution to the department with `after`'s; stale input changes nothing."""
    if not supersedes(after, before):
        return view
    counts = _Counts.of(view)
    if before is not None:
        counts.add(before, -1)
    counts.add(after, +1)
    return counts.freeze(view.department)


def rebuild(department: str, members: Iterable[Membership]) -> DepartmentWorkload:
    """The department's workload from its memberships alone (after a restart or rebalance)."""
    counts = _Counts.of(DepartmentWorkload(department=department))
    for member in members:
        counts.add(member, +1)
    return counts.freeze(department)


def to_record(view: DepartmentWorkload, now: datetime | None = None) -> dict[str, Any]:
    """The record published on `complaints.workload`, keyed by department, as of `now` (which
    only `oldest_open_seconds` depends on; without it that field is null)."""
    oldest = min(view.open_since.values(), default=None)
    return {
        **view.model_dump(mode="json", exclude={"open_since"}),
        "oldest_open_seconds": None if oldest is None or now is None else round((now - oldest).total_seconds(), 3),
        "evaluated_at": None if now is None else now.isoformat(),
    }


class _Counts:
    def __init__(self, view: DepartmentWorkload) -> None:
        self.open, self.owned = view.open, view.owned
        self.standing = {"at_risk": view.at_risk, "breached": view.breached}
        self.by_stage, self.handlers, self.open_since = dict(view.by_stage), dict(view.handlers), dict(view.open_since)

    @classmethod
    def of(cls, view: DepartmentWorkload) -> _Counts:
        return cls(view)

    def add(self, member: Membership, sign: int) -> None:
        if member.owned:
            self.owned += sign
        if member.handling:
            self.open += sign
            _bump(self.by_stage, member.stage, sign)
            _bump(self.handlers, member.handler or UNASSIGNED, sign)
            if member.standing != "ok":
                self.standing[member.standing] += sign
            if sign > 0:
                self.open_since[member.complaint_id] = member.received_at
            else:
                self.open_since.pop(member.complaint_id, None)

    def freeze(self, department: str) -> DepartmentWorkload:
        return DepartmentWorkload(
            department=department,
            open=self.open,
            owned=self.owned,
            at_risk=self.standing["at_risk"],
            breached=self.standing["breached"],
            by_stage=dict(sorted(self.by_stage.items())),
            handlers=dict(sorted(self.handlers.items())),
            open_since=self.open_since,
        )


def _bump(counts: dict[str, int], name: str, sign: int) -> None:
    value = counts.get(name, 0) + sign
    if value:
        counts[name] = value
    else:
        counts.pop(name, None)
