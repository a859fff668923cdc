"""Department workload: open complaints by stage and handler, folded from memberships.

A complaint's effect on a department is one `Membership` (handling it? owning it? at which stage,
by which handler?) stamped with the complaint's `version`. The workload agent keeps the latest
membership per (department, complaint) and folds each newer one into the department's counts:
`apply(view, before, after)` takes `before`'s contribution out and puts `after`'s in. An older or
repeated membership changes nothing, so redelivery never counts a complaint twice, and the counts
are always rebuildable from the memberships alone (`rebuild`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from projections.complaint import ComplaintState, Stage

UNASSIGNED = "(unassigned)"
Standing = Literal["ok", "at_risk", "breached"]


class Membership(NamedTuple):
    """What one complaint contributes to one department, as of the complaint's `version` (its
    case revision in the live system, which also grows when an alert changes its standing).

    A `NamedTuple`, built only by `membership` from a typed state, never read from the wire: the
    live agent builds two to six per event to count its shares (a frozen pydantic model, validated
    at each build, cost ~3 µs each: docs/performance.md)."""

    department: str
    complaint_id: str
    version: int
    handling: bool
    owned: bool
    stage: Stage
    handler: str | None
    standing: Standing
    """The complaint's worst clock: at_risk or breached (counted where it is handled), else ok."""
    received_at: datetime


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
    """Replace `before`'s contribution to the department with `after`'s; stale input changes nothing.
    Copies the view (O(open complaints)): the live agent keeps a `Tally` instead."""
    if not supersedes(after, before):
        return view
    tally = Tally.of(view)
    tally.replace(before, after)
    return tally.freeze()


def rebuild(department: str, members: Iterable[Membership]) -> DepartmentWorkload:
    """The department's workload from its memberships alone (after a restart or rebalance)."""
    return Tally.of(DepartmentWorkload(department=department), members).freeze()


def to_record(view: DepartmentWorkload, now: datetime | None = None) -> dict[str, Any]:
    """The record published on `complaints.workload`, keyed by department, as of `now` (which
    only `oldest_open_seconds` depends on; without it that field is null)."""
    return _record(view, min(view.open_since.values(), default=None), now)


def _record(view: Counts, oldest: datetime | None, now: datetime | None) -> dict[str, Any]:
    return {
        **view.model_dump(mode="json", exclude={"open_since"}),
        "oldest_open_seconds": None if oldest is None or now is None else round((now - oldest).total_seconds(), 3),
        "evaluated_at": None if now is None else now.isoformat(),
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
        total.add_share(share)
        if share.oldest_received_at is not None:
            oldest.append(share.oldest_received_at)
    return _record(Counts(**total.counts()), min(oldest, default=None), now)


class Tally:
    """A department's workload updated in place, O(log n) per membership: what the complaint agent
    keeps per partition and department (services/shares.py), and what `apply` and `rebuild` fold
    with. Mutable on purpose: a department holds thousands of open complaints, and an immutable
    view copied (and re-validated) its `open_since` index on every membership, which made loading
    100,000 open complaints quadratic."""

    def __init__(self, department: str) -> None:
        self.department = department
        self.open = self.owned = 0
        self.standing = {"at_risk": 0, "breached": 0}
        self.by_stage: dict[str, int] = {}
        self.handlers: dict[str, int] = {}
        self.open_since: dict[str, datetime] = {}
        self._oldest: list[tuple[datetime, str]] = []
        """A heap of (received_at, complaint_id), entries no longer in `open_since` dropped lazily."""

    @classmethod
    def of(cls, view: DepartmentWorkload, members: Iterable[Membership] = ()) -> Tally:
        """A tally starting from `view`, with `members` added."""
        tally = cls(view.department)
        tally.open, tally.owned = view.open, view.owned
        tally.standing = {"at_risk": view.at_risk, "breached": view.breached}
        tally.by_stage, tally.handlers, tally.open_since = dict(view.by_stage), dict(view.handlers), {}
        for complaint_id, received_at in view.open_since.items():
            tally._open(complaint_id, received_at)
        for member in members:
            tally.add(member, +1)
        return tally

    def replace(self, before: Membership | None, after: Membership) -> None:
        """`after` takes the place of `before` (what the complaint counted for until now)."""
        if before is not None:
            self.add(before, -1)
        self.add(after, +1)

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
                self._open(member.complaint_id, member.received_at)
            else:
                self.open_since.pop(member.complaint_id, None)

    def add_share(self, share: Share) -> None:
        """Another partition's counts for the same department (`open_since` is the shares' own)."""
        self.open, self.owned = self.open + share.open, self.owned + share.owned
        self.standing["at_risk"] += share.at_risk
        self.standing["breached"] += share.breached
        for name, count in share.by_stage.items():
            _bump(self.by_stage, name, count)
        for name, count in share.handlers.items():
            _bump(self.handlers, name, count)

    def oldest(self) -> datetime | None:
        """When the longest-open complaint handled here was received."""
        heap = self._oldest
        while heap and self.open_since.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def share(self, partition: int) -> Share:
        """This tally as the share of one complaints partition."""
        return Share(**self.counts(), partition=partition, oldest_received_at=self.oldest())

    def freeze(self) -> DepartmentWorkload:
        return DepartmentWorkload(**self.counts(), open_since=dict(self.open_since))

    def counts(self) -> dict[str, Any]:
        """The counted fields, as `Counts` and its subclasses take them."""
        return {
            "department": self.department,
            "open": self.open,
            "owned": self.owned,
            "at_risk": self.standing["at_risk"],
            "breached": self.standing["breached"],
            "by_stage": dict(sorted(self.by_stage.items())),
            "handlers": dict(sorted(self.handlers.items())),
        }

    def _open(self, complaint_id: str, received_at: datetime) -> None:
        self.open_since[complaint_id] = received_at
        heapq.heappush(self._oldest, (received_at, complaint_id))
        if len(self._oldest) > 2 * len(self.open_since) + 1024:  # drop stale entries before they pile up
            self._oldest = [(at, cid) for cid, at in self.open_since.items()]
            heapq.heapify(self._oldest)


def _bump(counts: dict[str, int], name: str, sign: int) -> None:
    value = counts.get(name, 0) + sign
    if value:
        counts[name] = value
    else:
        counts.pop(name, None)
