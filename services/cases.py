"""The complaints table's values, and the deadline index the SLA timer walks.

A table value is the complaint's `Case` plus the number of the complaints.events partition it
lives in: a timer tick for the complaint must arrive on that same partition number, so the table
change it causes lands in the right changelog partition (Faust writes the changelog partition of
the message being processed), whatever partitioner the upstream channel used.

Three formats, told apart by the first byte (a format 0 value always starts with a digit):

- format 0, the first: `<partition> US <case JSON>`, ~1.2 KB a fresh case;
- format 1: `\x01 <partition> US <case JSON zlib-packed with dictionaries.CASE_V1>`, ~140 bytes;
- format 2: `\x02 <partition> US <case JSON zstd-packed with dictionaries.CASE_V1>`, ~160 bytes,
  packed in a third of format 1's time (services/packing.py).

Values are written in format 2 and read in any: changelogs (and RocksDB stores) of running
deployments hold older values until their complaint changes again, or for ever once it closed.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from datetime import datetime
from typing import NamedTuple

from projections.case import Case, dump_case, load_case
from services.dictionaries import CASE_V1
from services.packing import Zlib, Zstd

SEPARATOR = b"\x1f"
PACKED_V1 = b"\x01"
PACKED_V2 = b"\x02"
_cases_v2 = Zstd(CASE_V1)
_UNPACKERS: dict[int, Zlib | Zstd] = {PACKED_V1[0]: Zlib(CASE_V1), PACKED_V2[0]: _cases_v2}
"""A packed value's format byte → what unpacks its case."""


class StoredCase(NamedTuple):
    partition: int
    case: Case


def encode_stored(partition: int, case: Case) -> bytes:
    return PACKED_V2 + str(partition).encode() + SEPARATOR + _cases_v2.pack(dump_case(case))


def stored_partition(raw: bytes) -> int:
    """The events partition a table value (any format) names, read without unpacking its case: the
    recovery rebuild skips the complaints of partitions another worker owns (a RocksDB store keeps
    its standby partitions' values beside its own) for a fraction of a microsecond each, where
    decoding one costs ~22 µs."""
    start = 0 if raw[:1].isdigit() else 1
    return int(raw[start : raw.index(SEPARATOR, start)])


def decode_stored(raw: bytes) -> StoredCase:
    """A table value in any format. A value in none raises ValueError: pydantic's ValidationError,
    or `packing.DamagedValue` if its packed case is damaged."""
    unpacker = _UNPACKERS.get(raw[0]) if raw else None  # None: format 0, a digit first
    partition, _, case = (raw if unpacker is None else raw[1:]).partition(SEPARATOR)
    return StoredCase(int(partition), load_case(case if unpacker is None else unpacker.unpack(case)))


class RecentCases:
    """The last `size` cases the worker decoded or encoded, each with the table value it was read
    from or written as: the next event of such a complaint skips decoding (unpacking, then
    pydantic's validation: ~22 µs CPU) when the table still holds exactly those bytes.

    It pays when a complaint's events come close together, as they do while a worker catches up
    after downtime: in figure 1's backlog the next event of a complaint came within the last
    1,000 complaints touched for 59 % of events (66 % within 2,000). A case in hand weighs ~6 KB,
    so the size is bounded (`COMPLAINTFLOW_CASE_CACHE_SIZE`). The table stays the truth: a value
    that changed since (recovery, a rebalance) is decoded afresh, and since `decode_stored`
    returns what `encode_stored` was given, a case reused is the case decoding would give."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        """Decodes skipped: the table held the bytes last seen for the complaint."""
        self.misses = 0
        self._held: OrderedDict[str, tuple[bytes, StoredCase]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def decode(self, complaint_id: str, raw: bytes) -> StoredCase:
        """`decode_stored(raw)`, from memory when `raw` is the value last seen for the complaint."""
        held = self._held.get(complaint_id)
        if held is not None and held[0] == raw:
            self.hits += 1
            self._held.move_to_end(complaint_id)
            return held[1]
        self.misses += 1
        stored = decode_stored(raw)
        self._remember(complaint_id, raw, stored)
        return stored

    def encode(self, complaint_id: str, partition: int, case: Case) -> bytes:
        """`encode_stored(partition, case)`, remembered with the case."""
        raw = encode_stored(partition, case)
        self._remember(complaint_id, raw, StoredCase(partition, case))
        return raw

    def clear(self) -> None:
        self._held.clear()

    def _remember(self, complaint_id: str, raw: bytes, stored: StoredCase) -> None:
        if self.size <= 0:
            return
        self._held[complaint_id] = (raw, stored)
        self._held.move_to_end(complaint_id)
        if len(self._held) > self.size:
            self._held.popitem(last=False)


class UnsavedCases:
    """The cases the complaint agent changed since the table last had them, decoded, each with its
    events partition: written to the table and its changelog once per Faust commit, not once per
    event (`services/commits.py` runs the save before every commit).

    In figure 1's backlog a complaint changes again within a commit interval (~4,800 events at the
    worker's rate) for ~60 % of events, and each of those skipped writes was an encode, a packing
    and a changelog record (docs/performance.md, "Writing the table once per commit"). Until a case
    is saved, the worker reads it from here, never from the table: `get` answers for the cases held
    and for those of a save under way, which leave one at a time as their values reach the store.
    A crash loses what is held, which is safe: its events were not committed, so they are
    delivered again and folded again from the table as last saved."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        """More cases held than this (~6 KB each) and the agent saves them at once, commit or not."""
        self.hits = 0
        """Cases the agent read from here: found decoded, as the table's cache would have (`RecentCases.hits`)."""
        self._changed: dict[str, StoredCase] = {}
        self._saving: dict[str, StoredCase] = {}

    def __len__(self) -> int:
        return len(self._changed) + len(self._saving)

    @property
    def full(self) -> bool:
        return len(self._changed) >= self.limit

    def hold(self, complaint_id: str, stored: StoredCase) -> None:
        self._changed[complaint_id] = stored

    def get(self, complaint_id: str) -> StoredCase | None:
        """The complaint's case as last changed here, if the table does not have it yet."""
        held = self._changed.get(complaint_id)
        return self._saving.get(complaint_id) if held is None else held

    def start_saving(self) -> None:
        """Every case held joins the save; the cases changed from now on wait for the next one."""
        self._saving.update(self._changed)
        self._changed = {}

    def next_to_save(self) -> tuple[str, StoredCase] | None:
        """A case of the save under way, which leaves it: the caller must write it to the table's store
        before it next awaits anything, or a step in between would read the table's older value."""
        return self._saving.popitem() if self._saving else None

    def clear(self) -> None:
        self._changed.clear()
        self._saving.clear()


class DeadlineIndex:
    """complaint → its next due instant, popped in time order: the timer costs O(log n) per due
    complaint instead of evaluating every clock every second.

    One tuple per schedule, (due instant, complaint, partition), held by both the heap and the dict
    (120 bytes a complaint with the dict's and heap's slots, where two entries took 168): a heap
    entry that is not the dict's current one for its complaint was rescheduled or cancelled since,
    and is skipped."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str, int]] = []
        self._due: dict[str, tuple[float, str, int]] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, complaint_id: str, partition: int, due_at: datetime | None) -> None:
        """Wake `complaint_id` at `due_at` (replacing any earlier schedule), or never if None."""
        if due_at is None:
            self._due.pop(complaint_id, None)
            return
        entry = (due_at.timestamp(), complaint_id, partition)
        self._due[complaint_id] = entry
        heapq.heappush(self._heap, entry)
        if len(self._heap) > 2 * len(self._due) + 1024:  # drop stale entries before they pile up
            self._heap = list(self._due.values())
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime) -> list[tuple[str, int, datetime]]:
        """Every (complaint, partition, due_at) due by `now`, earliest first; each leaves the index."""
        limit, due = now.timestamp(), []
        while self._heap and self._heap[0][0] <= limit:
            entry = heapq.heappop(self._heap)
            moment, complaint_id, partition = entry
            if self._due.get(complaint_id) is not entry:
                continue  # rescheduled or cancelled since: a stale heap entry
            del self._due[complaint_id]
            due.append((complaint_id, partition, datetime.fromtimestamp(moment, now.tzinfo)))
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()
