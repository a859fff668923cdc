"""`python -m benchmarks.footprint [N]`: what each structure a worker keeps costs per open complaint.

Figure 5 gives the whole (ΔRSS / N); this splits the Python-visible part, by tracemalloc, over N
freshly received complaints (the figure's traffic), each structure filled alone as the worker fills
it: the two tables (keys, values, dict slots), the SLA deadline index, the read model (state
records, standings, history positions) and the workload view. Keys and ids are made afresh inside
each measurement, as the worker makes them from what it decodes, so none is shared with the input. What ΔRSS holds beyond the sum is the
allocator's: memory freed by the transient objects of processing but not returned to the system.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from benchmarks import streams
from events.codec import decode_keyed_event
from projections import case as cases
from projections import workload
from projections.workload import Membership
from services.cases import DeadlineIndex, encode_stored
from services.memberships import encode_membership
from services.readmodel import ReadModel
from services.rules import load_rulebook
from services.settings import Settings

SEPARATOR = b"\x1f"


@dataclass(frozen=True)
class Held:
    key: bytes
    partition: int
    case: cases.Case
    record: bytes
    members: list[Membership]
    due_at: datetime | None


def complaints(n: int) -> list[Held]:
    """N complaints as the worker has them after their `received`: case, state record, memberships."""
    rules, now = load_rulebook(Settings()), datetime.now(UTC)
    held = []
    for offset, (key, value) in enumerate(streams.encode(streams.open_complaints(21, n, now))):
        assessed = cases.assess(
            cases.accept_event(None, decode_keyed_event(key, value), rules, published_at=now), rules, now
        )
        case = assessed.settled.case
        record = orjson.dumps(cases.to_record(case, rules, now, assessed.views))
        members = cases.memberships(case, rules, now, cases.departments_touched(None, case), assessed.views)
        held.append(Held(key, offset % 4, case, record, members, assessed.next_due_at))
    return held


def traced(fill: Callable[[], object]) -> tuple[int, object]:
    """Bytes allocated (and still held) by `fill`, and what it built (kept alive while measured)."""
    gc.collect()
    tracemalloc.start()
    try:
        built = fill()
        gc.collect()
        return tracemalloc.get_traced_memory()[0], built
    finally:
        tracemalloc.stop()


def breakdown(held: list[Held]) -> list[tuple[str, float]]:
    def complaints_table() -> dict[bytes, bytes]:
        return {item.case.complaint_id.encode(): encode_stored(item.partition, item.case) for item in held}

    def memberships_table() -> dict[bytes, bytes]:
        return {
            member.department.encode() + SEPARATOR + member.complaint_id.encode(): encode_membership(member)
            for item in held
            for member in item.members
        }

    def deadlines() -> DeadlineIndex:
        index = DeadlineIndex()
        for item in held:
            index.schedule(item.key.decode(), item.partition, item.due_at)
        return index

    def read_model_states() -> ReadModel:
        model = ReadModel()
        for item in held:
            model.take_state(item.record)
        return model

    def read_model_history() -> ReadModel:
        model = ReadModel()
        for offset, item in enumerate(held):
            model.take_event_position(item.key, item.partition, offset)
        return model

    def workload_views() -> list[workload.DepartmentWorkload]:
        by_department: dict[str, list[Membership]] = {}
        for item in held:
            for member in item.members:
                wire = Membership.model_validate_json(member.model_dump_json())  # as fold_workload reads it
                by_department.setdefault(member.department, []).append(wire)
        return [workload.rebuild(department, members) for department, members in by_department.items()]

    parts = [
        ("complaints table (key, packed case, dict slot)", complaints_table),
        ("memberships table (key, packed membership, dict slot)", memberships_table),
        ("SLA deadline index (heap and dict)", deadlines),
        ("read model: state records and standings", read_model_states),
        ("read model: history positions", read_model_history),
        ("workload views (open_since: complaint → received_at)", workload_views),
    ]
    return [(name, traced(fill)[0] / len(held)) for name, fill in parts]


def main(n: int) -> None:
    rows = breakdown(complaints(n))
    for name, size in rows:
        print(f"{name:56s} {size:7,.0f} bytes")
    print(f"{'sum':56s} {sum(size for _, size in rows):7,.0f} bytes per open complaint ({n:,} complaints)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
