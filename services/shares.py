"""What the complaints of this worker's partitions count for in each department, kept as they change.

The complaint agent holds every case of its partitions, so it can count them per department
itself: one `Tally` per (partition, department), updated in place with each step (the case before
out, the case after in). What changed is published as `Share`s at most once per interval, and the
workload agent adds up the latest share of every partition. Department workloads then cost a
message per department and interval instead of a membership per event through a second agent
(which was 43 % of the worker's CPU on the dev broker; docs/performance.md).

Nothing here is stored: the tallies are a function of the complaints table, rebuilt from it after
every recovery (start, rebalance) and then published whole, so a crash between saving a case and
publishing a share loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.case import Case
from projections.tally import Tally, counted
from projections.workload import Share, Standing, share_of

Key = tuple[int, str]
"""(complaints.events partition, department)"""


class PartitionShares:
    def __init__(self) -> None:
        self._tallies: dict[Key, Tally] = {}
        self._standing: dict[str, Standing] = {}
        """complaint_id → the standing it is counted with, for complaints not counted as "ok"."""
        self._changed: set[Key] = set()

    def count(
        self, partition: int, before: Case | None, after: Case, departments: Iterable[str], standing: Standing
    ) -> None:
        """`after` (with its standing now) replaces `before` (as it was counted) in `departments`."""
        complaint_id = after.complaint_id
        was = self._standing.pop(complaint_id, "ok")
        if standing != "ok" and after.complaint.is_open:
            self._standing[complaint_id] = standing
        for department in dict.fromkeys(departments):
            old = None if before is None else counted(before.complaint, department, was)
            new = counted(after.complaint, department, standing)
            if old != new:
                self._tally(partition, department).replace(old, new)
                self._changed.add((partition, department))

    def rebuild(self, held: Iterable[tuple[int, Case, Standing]]) -> None:
        """Count every case held from scratch, then publish every share."""
        rebuilt = PartitionShares()
        for partition, case, standing in held:
            rebuilt.hold(partition, case, standing)
        self.take_over(rebuilt)

    def hold(self, partition: int, case: Case, standing: Standing) -> None:
        """Count a case found in the table after a recovery (into a fresh count), and give every
        department it has seen a share, possibly empty: a department it has left may still have
        an earlier share counting it."""
        for department in case.complaint.departments_seen:
            self._tally(partition, department)
        self.count(partition, None, case, [case.complaint.owner_department, case.complaint.department], standing)

    def take_over(self, rebuilt: PartitionShares) -> None:
        """Count what `rebuilt` counted (in place of what this counted), every share due for
        publishing: a rebuild made apart and swapped in whole, so no share is published counted halfway."""
        self._tallies, self._standing = rebuilt._tallies, rebuilt._standing
        self.mark_all_changed()  # and what `rebuilt` marked is this one's now

    def mark_all_changed(self) -> None:
        """Every share is due for publishing (after a rebuild: a crash may have lost any of them)."""
        self._changed = set(self._tallies)

    def take_changed(self) -> list[Share]:
        """The shares changed since the last call, in a stable order; they are no longer marked changed."""
        changed, self._changed = sorted(self._changed), set()
        return [share_of(self._tallies[key], key[0]) for key in changed]

    def mark_changed(self, shares: Iterable[Share]) -> None:
        """Shares that could not be published: publish them again next time."""
        self._changed.update((share.partition, share.department) for share in shares)

    def clear(self) -> None:
        self._tallies.clear()
        self._standing.clear()
        self._changed.clear()

    def _tally(self, partition: int, department: str) -> Tally:
        key = (partition, department)
        if key not in self._tallies:
            self._tallies[key] = Tally(department)
        return self._tallies[key]


class Recount:
    """The shares counted afresh from the complaints held after a recovery, while the agent goes on
    folding: the walk reaches the complaints held one by one, yielding between chunks. A complaint
    the agent steps before the walk reaches it is not counted by the agent: the walk counts it as it
    then is (changed and not saved yet, or as the table has it). One the agent steps after is
    counted by the agent into the recount, as usual. When the walk has reached every complaint, the
    recount holds what a walk of the complaints as they stand then would count, and is taken over
    whole (`PartitionShares.take_over`)."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self.counted = PartitionShares()
        self._unreached = set(keys)

    def __len__(self) -> int:
        """The complaints the walk has yet to reach."""
        return len(self._unreached)

    def reach(self, key: bytes) -> None:
        """The walk is at `key` now: from here on the agent counts its steps."""
        self._unreached.discard(key)

    def counting(self, key: bytes) -> PartitionShares | None:
        """Where the agent counts a step of complaint `key`: None before the walk reaches it."""
        return None if key in self._unreached else self.counted
