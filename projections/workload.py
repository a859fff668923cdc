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
from typing import Any

from pydantic import BaseModel, ConfigDict

from projections.complaint import ComplaintState, Stage

UNASSIGNED = "(unassigned)"


class Membership(BaseModel):
    """What one complaint contributes to one department, as of the complaint's `version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    complaint_id: str
    version: int
    handling: bool
    owned: bool
    stage: Stage
    handler: str | None


class DepartmentWorkload(BaseModel):
    """Open complaints a department handles now (`open`) and owns by first contact (`owned`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    open: int = 0
    owned: int = 0
    by_stage: dict[str, int] = {}
    handlers: dict[str, int] = {}


def membership(state: ComplaintState, department: str) -> Membership:
    """The complaint's standing in `department` (possibly none at all: both flags false)."""
    return Membership(
        department=department,
        complaint_id=state.complaint_id,
        version=state.version,
        handling=state.is_open and state.department == department,
        owned=state.is_open and state.owner_department == department,
        stage=state.stage,
        handler=state.handler,
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


def to_record(view: DepartmentWorkload) -> dict[str, Any]:
    """The record published on `complaints.workload`, keyed by department."""
    return view.model_dump(mode="json")


class _Counts:
    def __init__(self, open_: int, owned: int, by_stage: dict[str, int], handlers: dict[str, int]) -> None:
        self.open, self.owned, self.by_stage, self.handlers = open_, owned, by_stage, handlers

    @classmethod
    def of(cls, view: DepartmentWorkload) -> _Counts:
        return cls(view.open, view.owned, dict(view.by_stage), dict(view.handlers))

    def add(self, member: Membership, sign: int) -> None:
        if member.owned:
            self.owned += sign
        if member.handling:
            self.open += sign
            _bump(self.by_stage, member.stage, sign)
            _bump(self.handlers, member.handler or UNASSIGNED, sign)

    def freeze(self, department: str) -> DepartmentWorkload:
        return DepartmentWorkload(
            department=department,
            open=self.open,
            owned=self.owned,
            by_stage=dict(sorted(self.by_stage.items())),
            handlers=dict(sorted(self.handlers.items())),
        )


def _bump(counts: dict[str, int], name: str, sign: int) -> None:
    value = counts.get(name, 0) + sign
    if value:
        counts[name] = value
    else:
        counts.pop(name, None)
