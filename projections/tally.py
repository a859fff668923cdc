"""A department's workload counted in place: what one complaint counts for there (`membership`),
and the counts it adds up to (`Tally`).

The live worker counts every step of every complaint into the tally of its partition and
department (services/shares.py): two to six memberships built and compared per event, and a
tally changed for about half of them. Compiled with mypyc (setup.py), apart from the pydantic
models of the records they add up to (projections/workload.py, which builds those from a tally).
"""

from __future__ import annotations

import heapq
from datetime import datetime

from projections.evolve import new_record
from projections.state import ComplaintState, Membership, Standing

UNASSIGNED = "(unassigned)"


def membership(
    state: ComplaintState, department: str, *, version: int | None = None, standing: Standing = "ok"
) -> Membership:
    """The complaint's place in `department` (possibly none at all: both flags false). `version`
    defaults to the complaint's; the live system passes its case revision."""
    is_open = state.is_open
    return new_record(
        Membership,
        (
            department,
            state.complaint_id,
            state.version if version is None else version,
            is_open and state.department == department,
            is_open and state.owner_department == department,
            state.stage,
            state.handler,
            standing if is_open else "ok",
            state.received_at,
        ),
    )


def counted(state: ComplaintState, department: str, standing: Standing) -> Membership:
    """What a complaint in `state` counts for in a partition's tally of `department`: its standing
    counts only where it is handled, and the version is left out (the tally holds the latest)."""
    return membership(state, department, version=0, standing=standing if state.department == department else "ok")


class Tally:
    """A department's workload updated in place, O(log n) per membership: what the complaint agent
    keeps per partition and department (services/shares.py), and what `workload.apply` and
    `workload.rebuild` fold with. Mutable on purpose: a department holds thousands of open
    complaints, and an immutable view copied (and re-validated) its `open_since` index on every
    membership, which made loading 100,000 open complaints quadratic."""

    def __init__(self, department: str) -> None:
        self.department = department
        self.open = 0
        self.owned = 0
        self.at_risk = 0
        self.breached = 0
        self.by_stage: dict[str, int] = {}
        self.handlers: dict[str, int] = {}
        self.open_since: dict[str, datetime] = {}
        """complaint_id → received_at of each open complaint handled here."""
        self._oldest: list[tuple[datetime, str]] = []
        """A heap of (received_at, complaint_id), entries no longer in `open_since` dropped lazily."""

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
            if member.standing == "at_risk":
                self.at_risk += sign
            elif member.standing == "breached":
                self.breached += sign
            if sign > 0:
                self.opened(member.complaint_id, member.received_at)
            else:
                self.open_since.pop(member.complaint_id, None)

    def add_counts(
        self, open: int, owned: int, at_risk: int, breached: int, by_stage: dict[str, int], handlers: dict[str, int]
    ) -> None:
        """Another partition's counts for the same department (`open_since` stays this tally's own)."""
        self.open += open
        self.owned += owned
        self.at_risk += at_risk
        self.breached += breached
        for name, count in by_stage.items():
            _bump(self.by_stage, name, count)
        for name, count in handlers.items():
            _bump(self.handlers, name, count)

    def oldest(self) -> datetime | None:
        """When the longest-open complaint handled here was received."""
        heap = self._oldest
        while heap and self.open_since.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def counts(self) -> dict[str, object]:
        """The counted fields, as `workload.Counts` and its subclasses take them."""
        return {
            "department": self.department,
            "open": self.open,
            "owned": self.owned,
            "at_risk": self.at_risk,
            "breached": self.breached,
            "by_stage": dict(sorted(self.by_stage.items())),
            "handlers": dict(sorted(self.handlers.items())),
        }

    def opened(self, complaint_id: str, received_at: datetime) -> None:
        """An open complaint handled here since `received_at`."""
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
