"""Figure 5, memory: the worker's RSS and the bytes each open complaint costs it (ΔRSS / N),
against the same worker before loading and against the bytes of the case as its table stores it."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.report import Row
from benchmarks.streams import Message
from events.codec import decode_keyed_event
from projections.case import Rulebook, accept_event
from services.cases import encode_stored

FIGURE = "5 memory"
MIB = 1024 * 1024


def stored_bytes(messages: list[Message], rules: Rulebook, sample: int = 2000) -> float:
    """Mean size of a freshly received case as the complaints table stores it (the changelog value)."""
    sizes = [
        len(encode_stored(0, accept_event(None, decode_keyed_event(key, value), rules, published_at=datetime.now(UTC))))
        for key, value in messages[:sample]
    ]
    return sum(sizes) / len(sizes)


def rows(rss_empty: int, rss_open: int, complaints: int, stored: float, rss_restored: int | None) -> list[Row]:
    restored = "" if rss_restored is None else f"; {rss_restored / MIB:,.0f} MiB after a restart restored them"
    return [
        Row(FIGURE, f"worker RSS, {complaints:,} open", rss_open / MIB, "MiB", rss_empty / MIB, "same worker, 0 open",
            f"VmRSS{restored}"),
        Row(FIGURE, "bytes per open complaint", (rss_open - rss_empty) / complaints, "bytes", stored,
            "case bytes in the table",
            "ΔRSS / N; the case and its membership (JSON bytes in two in-memory tables), and the HTTP read "
            "model's compressed copy of its state record"),
    ]  # fmt: skip
