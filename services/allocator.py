"""Give the memory a burst of work freed back to the system (glibc's `malloc_trim`), once idle.

A worker working through a burst (a backlog, a restart's catch-up, a load) allocates and frees
many short-lived objects: decoded events, models, fetched batches, produced buffers. glibc keeps
most of what is freed in its heaps, so the RSS stays near the burst's peak: in figure 5, ~1.6 KB
per complaint loaded, more than every structure the worker keeps for it. `malloc_trim(0)` returns
the free pages: 16 MiB of a 101 MiB worker after loading 10,000 complaints (docs/performance.md,
"Memory"). It blocks the event loop a few milliseconds (~20 ms on a heap full of freed pages, ~2 ms
after), so it runs only when the read model's feed finds nothing new after taking records (the
worker has just finished some work), and at most every `min_interval` seconds: at worst ~1 % of a
core, far less once little is left to return. Where there is no glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def glibc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim(0), or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    return None if trim is None else lambda: trim(0)


class Trimmer:
    """Decides when to trim: after at least `min_records` records since the last trim, once the
    feed is idle, and at most once every `min_interval` seconds (`now` is monotonic seconds)."""

    def __init__(self, trim: Callable[[], object] | None, *, min_records: int = 1, min_interval: float = 2.0) -> None:
        self._trim = trim
        self.min_records, self.min_interval = min_records, min_interval
        self._records = 0
        self._last: float | None = None

    def took(self, records: int) -> None:
        self._records += records

    def idle(self, now: float) -> bool:
        """The feed found nothing new: trim if due. True if it trimmed."""
        if self._trim is None or self._records < self.min_records:
            return False
        if self._last is not None and now - self._last < self.min_interval:
            return False
        started = time.perf_counter()
        self._trim()
        log.debug(
            "returned freed memory after %d records in %.1f ms", self._records, (time.perf_counter() - started) * 1e3
        )
        self._records, self._last = 0, now
        return True
