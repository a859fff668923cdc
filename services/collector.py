"""Python's cyclic garbage collector in a worker: kept off what the worker holds for good, and
timed, so that /metrics shows what it costs.

The collector took 24-27 µs of a worker's CPU per event on figure 1's backlog, about 6 %
(docs/performance.md, "The collector in the worker"). Each event leaves a few dozen young
containers (the fold's records, Faust's message and event, delivery futures), and every full
collection walked the whole heap (~170,000 objects, 80-140 ms each), half of it the modules,
classes and functions of the imports.
"""

from __future__ import annotations

import gc
import time
from typing import Any

YOUNG_GENERATION = 10_000
"""Container objects allocated (less those freed) before the collector looks at the youngest
generation again; Python's default is 700."""
GENERATIONS = len(gc.get_count())
"""Python's collector's generations (3), youngest first."""


class CollectorTime:
    """CPU seconds and collections of the cyclic collector, per generation, counted from
    `gc.callbacks`. A collection runs in the thread that triggered it, start to stop, holding the
    interpreter: that thread's CPU time between the two callbacks is the collection's."""

    def __init__(self) -> None:
        self.seconds = [0.0] * GENERATIONS
        self.collections = [0] * GENERATIONS
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        generation = info["generation"]
        self.seconds[generation] += time.thread_time() - self._started
        self.collections[generation] += 1

    @property
    def installed(self) -> bool:
        return self in gc.callbacks


collector_time = CollectorTime()
"""This process's collections, once `spare_the_collector` installed it (GET /metrics)."""


def spare_the_collector() -> None:
    """Freeze what is alive now and collect the youngest generation less often; time every
    collection from now on. For a worker, once its modules are imported.

    The imports are frozen (`gc.freeze`: moved to a generation no collection walks; they live as
    long as the process anyway), and the youngest generation is collected every
    `YOUNG_GENERATION` allocations instead of 700: the same young objects examined in fewer,
    larger collections (a few ms each), and far fewer collections of the older generations, which
    examine again what survived. Garbage without cycles is freed by reference counting, at once,
    as before; garbage in cycles waits a little longer."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, oldest)
    if not collector_time.installed:
        gc.callbacks.append(collector_time)
