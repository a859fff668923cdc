"""What a worker does to Python's garbage collector before Faust starts (services/collector.py).

The sparing is checked in a fresh interpreter, since freezing this test session's heap would hide
the rest of the suite's garbage from the collector."""

from __future__ import annotations

import gc

import orjson

from services.collector import CollectorTime
from tests.fresh import run_fresh

AFTER_SPARING = """
import gc, json, weakref
from services import agents, api, pages  # noqa: F401  (what run_worker imports)
from services.collector import YOUNG_GENERATION, collector_time, spare_the_collector

spare_the_collector()
frozen, threshold = gc.get_freeze_count(), gc.get_threshold()


class Node:
    pass


# Garbage in cycles made after start-up, as a worker makes it: the collector must still find it unasked.
watched = []
for _ in range(3 * YOUNG_GENERATION):
    node = Node()
    node.itself = node
    watched.append(weakref.ref(node))
    del node
print(json.dumps({
    "frozen": frozen,
    "threshold": threshold,
    "young": YOUNG_GENERATION,
    "cycles_freed": sum(ref() is None for ref in watched),
    "young_collections_timed": collector_time.collections[0],
}))
"""


def test_a_worker_freezes_its_imports_and_still_collects_the_cycles_it_makes_later() -> None:
    seen = orjson.loads(run_fresh(AFTER_SPARING))

    assert seen["frozen"] > 50_000, "the imports (Faust, aiokafka, pydantic, the app) are out of the collector's walks"
    assert seen["threshold"][0] == seen["young"] > 700, "collected less often than Python's 700"
    assert seen["cycles_freed"] >= 2 * seen["young"], "cyclic garbage made later is still collected, unasked"
    assert seen["young_collections_timed"] >= 2, "and each collection is counted for /metrics"


def test_each_collection_is_counted_under_its_generation() -> None:
    timed, was_enabled = CollectorTime(), gc.isenabled()
    gc.disable()  # only the collections asked for below
    gc.callbacks.append(timed)
    try:
        gc.collect(1)
        gc.collect(1)
        gc.collect(2)
    finally:
        gc.callbacks.remove(timed)
        if was_enabled:
            gc.enable()

    assert timed.collections == [0, 2, 1]
    assert timed.seconds[0] == 0.0 and timed.seconds[2] > 0.0, "none of the youngest alone; a full one takes time"
