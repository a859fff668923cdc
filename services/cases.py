"""The complaints table's values, and the deadline index the SLA timer walks.

A table value is the complaint's `Case` plus the number of the complaints.events partition it
lives in: a timer tick for the complaint must arrive on that same partition number, so the table
change it causes lands in the right changelog partition (Faust writes the changelog partition of
the message being processed), whatever partitioner the upstream channel used.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import NamedTuple

from projections.case import Case, dump_case, load_case

SEPARATOR = b"\x1f"


class StoredCase(NamedTuple):
    partition: int
    case: Case


def encode_stored(partition: int, case: Case) -> bytes:
    return str(partition).encode() + SEPARATOR + dump_case(case)


def decode_stored(raw: bytes) -> StoredCase:
    partition, _, case = raw.partition(SEPARATOR)
    return StoredCase(int(partition), load_case(case))


class DeadlineIndex:
    """complaint → its next due instant, popped in time order: the timer costs O(log n) per due
    complaint instead of evaluating every clock every second."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, complaint_id: str, partition: int, due_at: datetime | None) -> None:
        """Wake `complaint_id` at `due_at` (replacing any earlier schedule), or never if None."""
        if due_at is None:
            self._due.pop(complaint_id, None)
            return
        moment = due_at.timestamp()
        self._due[complaint_id] = (moment, partition)
        heapq.heappush(self._heap, (moment, complaint_id))
        if len(self._heap) > 2 * len(self._due) + 1024:  # drop stale entries before they pile up
            self._heap = [(moment, cid) for cid, (moment, _) in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """Every (complaint, partition, due_at) due by `now`, earliest first; each leaves the index."""
        limit, due = now.timestamp(), []
        while self._heap and self._heap[0][0] <= limit:
            moment, complaint_id = heapq.heappop(self._heap)
            current = self._due.get(complaint_id)
            if current is None or current[0] != moment:
                continue  # rescheduled or cancelled since: a stale heap entry
            del self._due[complaint_id]
            due.append((complaint_id, current[1], datetime.fromtimestamp(moment, now.tzinfo)))
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()
