"""Department workload: open complaints by stage and handler, folded from memberships.

A complaint's effect on a department is one `Membership` (handling it? owning it? at which stage,
by which handler?) stamped with the complaint's `version`. The workload agent keeps the latest
membership per (department, complaint) and folds each newer one into the department's counts:
`apply(view, before, after)` takes `before`'s contribution out and puts `after`'s in. An older or
repeated membership changes nothing, so redelivery never counts a complaint twice, and the counts
are always rebuildable from the memberships alone (`rebuild`).

The memberships and the counting in place (`Membership`, `membership`, `Tally`) live in
projections/tally.py, which is compiled (the live worker counts every step); this module holds the
pydantic models of the records published, and builds them from a tally.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from events.codec import isoformat
from projections.complaint import ComplaintState
from projections.state import Membership as Membership
from projections.state import Standing as Standing
from projections.tally import UNASSIGNED as UNASSIGNED
from projections.tally import Tally as Tally
from projections.tally import membership as membership


class Counts(BaseModel):
    """Open complaints a department handles now (`open`) and owns by first contact (`owned`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    open: int = 0
    owned: int = 0
    at_risk: int = 0
    breached: int = 0
    by_stage: dict[str, int] = {}
    handlers: dict[str, int] = {}


class DepartmentWorkload(Counts):
    """A department's counts over all its complaints, and when each open one was received."""

    open_since: dict[str, datetime] = {}
    """complaint_id → received_at of each open complaint handled here: its minimum is the oldest."""


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
    """Replace `before`'s contribution to the department with `after`'s; stale input changes nothing.
    Copies the view (O(open complaints)): the live agent keeps a `Tally` instead."""
    if not supersedes(after, before):
        return view
    tally = tally_of(view)
    tally.replace(before, after)
    return frozen(tally)


def rebuild(department: str, members: Iterable[Membership]) -> DepartmentWorkload:
    """The department's workload from its memberships alone (after a restart or rebalance)."""
    return frozen(tally_of(DepartmentWorkload(department=department), members))


def to_record(view: DepartmentWorkload, now: datetime | None = None) -> dict[str, Any]:
    """The record published on `complaints.workload`, keyed by department, as of `now` (which
    only `oldest_open_seconds` depends on; without it that field is null)."""
    return _record(view, min(view.open_since.values(), default=None), now)


def _record(view: Counts, oldest: datetime | None, now: datetime | None) -> dict[str, Any]:
    return {
        **view.model_dump(mode="json", exclude={"open_since"}),
        "oldest_open_seconds": None if oldest is None or now is None else round((now - oldest).total_seconds(), 3),
        "evaluated_at": None if now is None else isoformat(now),
    }


class Share(Counts):
    """A department's workload over the complaints of one complaints.events partition: what the
    worker owning that partition counts, and publishes on complaints.workload-shares. The workload
    agent adds up the latest share of every partition (`combined_record`)."""

    partition: int
    oldest_received_at: datetime | None = None
    """When the longest-open complaint of this partition handled here was received."""


def combined_record(department: str, shares: Iterable[Share], now: datetime | None = None) -> dict[str, Any]:
    """The department's record on `complaints.workload` from the latest share of each partition:
    the same record `to_record` gives for the department's memberships from every partition."""
    total, oldest = Tally(department), []
    for share in shares:
        _add(total, share)
        if share.oldest_received_at is not None:
            oldest.append(share.oldest_received_at)
    return _record(Counts(**total.counts()), min(oldest, default=None), now)


def tally_of(view: DepartmentWorkload, members: Iterable[Membership] = ()) -> Tally:
    """A tally starting from `view`, with `members` added."""
    tally = Tally(view.department)
    _add(tally, view)
    for complaint_id, received_at in view.open_since.items():
        tally.opened(complaint_id, received_at)
    for member in members:
        tally.add(member, +1)
    return tally


def share_of(tally: Tally, partition: int) -> Share:
    """`tally` as the share of one complaints partition."""
    return Share(**tally.counts(), partition=partition, oldest_received_at=tally.oldest())


def frozen(tally: Tally) -> DepartmentWorkload:
    return DepartmentWorkload(**tally.counts(), open_since=dict(tally.open_since))


def _add(tally: Tally, counts: Counts) -> None:
    """`counts` (a view, or another partition's share) added to `tally`'s counts."""
    tally.add_counts(counts.open, counts.owned, counts.at_risk, counts.breached, counts.by_stage, counts.handlers)
