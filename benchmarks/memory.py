"""Figure 5, memory: the worker's RSS and the bytes each open complaint costs it (ΔRSS / N),
against the same worker before loading and against the bytes of the case's JSON (what the table
stored before its values were packed; docs/performance.md, "Memory", has the breakdown)."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.report import Row
from benchmarks.streams import Message
from events.codec import decode_keyed_event
from projections.case import Rulebook, accept_event, dump_case
from services.cases import encode_stored

FIGURE = "5 memory"
MIB = 1024 * 1024


def stored_bytes(messages: list[Message], rules: Rulebook, sample: int = 2000) -> tuple[float, float]:
    """Mean sizes of a freshly received case: its JSON, and its value in the complaints table (packed)."""
    cases = [
        accept_event(None, decode_keyed_event(key, value), rules, published_at=datetime.now(UTC))
        for key, value in messages[:sample]
    ]
    return (
        sum(len(dump_case(case)) for case in cases) / len(cases),
        sum(len(encode_stored(0, case)) for case in cases) / len(cases),
    )


def rows(
    rss_empty: int, rss_open: int, complaints: int, stored: tuple[float, float], rss_restored: int | None
) -> list[Row]:
    case_json, packed = stored
    restored = "" if rss_restored is None else f"; {rss_restored / MIB:,.0f} MiB after a restart restored them"
    return [
        Row(FIGURE, f"worker RSS, {complaints:,} open", rss_open / MIB, "MiB", rss_empty / MIB, "same worker, 0 open",
            f"VmRSS{restored}"),
        Row(FIGURE, "bytes per open complaint", (rss_open - rss_empty) / complaints, "bytes", case_json,
            "the case's JSON",
            f"ΔRSS / N; the case ({packed:,.0f} bytes packed in the in-memory table), its place in the workload "
            "shares' tally, the HTTP read model's packed copy of its state record, the SLA deadline index"),
    ]  # fmt: skip
