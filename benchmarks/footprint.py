"""`python -m benchmarks.footprint [N]`: what each structure a worker keeps costs per open complaint.

Figure 5 gives the whole (ΔRSS / N); this splits the Python-visible part, by tracemalloc, over N
freshly received complaints (the figure's traffic), each structure filled alone as the worker fills
it: the complaints table (keys, values, dict slots), the SLA deadline index, the read model
(state records, standings, history positions) and the workload shares' tallies. Keys and ids are made afresh inside
each measurement, as the worker makes them from what it decodes, so none is shared with the input.
What ΔRSS holds beyond the sum is the allocator's: memory freed by the transient objects of
processing but not returned to the system. Then the µs per call of the codecs that keep it small.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from benchmarks import streams
from events.codec import decode_keyed_event
from projections import case as cases
from projections.workload import Standing
from services.cases import DeadlineIndex, decode_stored, encode_stored
from services.readmodel import ReadModel
from services.rules import load_rulebook
from services.settings import Settings
from services.shares import PartitionShares

SEPARATOR = b"\x1f"


@dataclass(frozen=True)
class Held:
    key: bytes
    partition: int
    case: cases.Case
    record: bytes
    standing: Standing
    due_at: datetime | None


def complaints(n: int) -> list[Held]:
    """N complaints as the worker has them after their `received`: case, state record, standing."""
    rules, now = load_rulebook(Settings()), datetime.now(UTC)
    held = []
    for offset, (key, value) in enumerate(streams.encode(streams.open_complaints(21, n, now))):
        assessed = cases.assess(
            cases.accept_event(None, decode_keyed_event(key, value), rules, published_at=now), rules, now
        )
        case = assessed.settled.case
        record = orjson.dumps(cases.to_record(case, rules, now, assessed.views))
        standing = cases.standing(case, rules, now, assessed.views)
        held.append(Held(key, offset % 4, case, record, standing, assessed.next_due_at))
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

    def workload_shares() -> PartitionShares:
        shares = PartitionShares()
        shares.rebuild(
            (item.partition, decode_stored(encode_stored(item.partition, item.case))[1], item.standing) for item in held
        )  # fmt: skip  (cases decoded afresh, as the recovery reads them)
        return shares

    parts = [
        ("complaints table (key, packed case, dict slot)", complaints_table),
        ("SLA deadline index (heap and dict)", deadlines),
        ("read model: state records and standings", read_model_states),
        ("read model: history positions", read_model_history),
        ("workload shares' tallies (open_since and its heap)", workload_shares),
    ]
    return [(name, traced(fill)[0] / len(held)) for name, fill in parts]


def per_call(operation: Callable[[object], object], items: list[object], rounds: int = 5) -> float:
    """µs per call, the best of `rounds` passes over `items` (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            operation(item)
        best = min(best, (time.perf_counter() - started) / len(items) * 1e6)
    return best


def codec_costs(held: list[Held]) -> list[tuple[str, float]]:
    """µs per call of what the worker does per event to keep its state small."""
    sample = held[:2000]
    model = ReadModel()
    for item in sample:
        model.take_state(item.record)
    stored = [encode_stored(item.partition, item.case) for item in sample]
    calls: list[tuple[str, Callable[[Any], object], list[Any]]] = [
        ("encode_stored (case → table value)", lambda item: encode_stored(item.partition, item.case), sample),
        ("decode_stored (table value → case)", decode_stored, stored),
        ("read model take_state", lambda item: ReadModel().take_state(item.record), sample),
        ("read model complaint() (GET /complaints/{id})", model.complaint, [item.case.complaint_id for item in sample]),
    ]
    return [(name, per_call(operation, items)) for name, operation, items in calls]


def main(n: int) -> None:
    held = complaints(n)
    rows = breakdown(held)
    for name, size in rows:
        print(f"{name:56s} {size:7,.0f} bytes")
    print(f"{'sum':56s} {sum(size for _, size in rows):7,.0f} bytes per open complaint ({n:,} complaints)")
    for name, micros in codec_costs(held):
        print(f"{name:56s} {micros:7.1f} µs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
