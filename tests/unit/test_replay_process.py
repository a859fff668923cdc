"""What `complaintflow replay` does to its process: what it imports, and the garbage collector.

Faust (and aiohttp and mode under it) was a quarter of a second of every replay's start-up, pulled
in by modules the replay path shares with the worker; the import check runs in a fresh
interpreter, since this test session has imported Faust long before. A long fold keeps its cases
out of the cyclic collector's sight, and must give them back whatever happens.
benchmarks/replay_split.py measures both."""

from __future__ import annotations

import gc
import io
from collections.abc import AsyncIterator

import orjson
import pytest

from projections.history import LoggedEvent
from services.progress import Progress
from services.replay import FREEZE_EVERY, YOUNG_GENERATION, fold_log
from tests.fresh import run_fresh

WORKER_ONLY = ("faust", "mode", "aiohttp")


def loaded_after(*modules: str) -> set[str]:
    """Top-level packages in sys.modules of a fresh interpreter after importing `modules`."""
    script = f"import sys\nimport {', '.join(modules)}\nprint(__import__('json').dumps(sorted(sys.modules)))"
    return {name.split(".")[0] for name in orjson.loads(run_fresh(script))}


def test_the_replay_path_imports_no_faust_web_server_or_service_framework() -> None:
    loaded = loaded_after("services.cli", "services.replay", "projections.history", "services.render")

    assert "aiokafka" in loaded and "events" in loaded, "the check sees what the path does import"
    assert loaded.isdisjoint(WORKER_ONLY), sorted(loaded & set(WORKER_ONLY))


def test_the_worker_side_still_gets_faust_where_it_needs_it() -> None:
    assert "faust" in loaded_after("services.recovery"), "the table-recovery hook patches Faust itself"


class Log:
    """`count` log entries, then (with `fail_at`) a broken connection."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.total, self.fail_at = count, fail_at

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for offset in range(self.total):
            if offset == self.fail_at:
                raise ConnectionError("the broker went away")
            yield LoggedEvent(0, offset, 0, b"C-1", b"{}")


class Recorded:
    """A history that notes, for each entry fed, its offset and how many objects were frozen then,
    and the collector's thresholds it ran under."""

    def __init__(self) -> None:
        self.fed: list[tuple[int, int]] = []
        self.thresholds: set[tuple[int, int, int]] = set()

    def feed(self, entry: LoggedEvent) -> None:
        self.fed.append((entry.offset, gc.get_freeze_count()))
        self.thresholds.add(gc.get_threshold())


async def test_a_long_fold_keeps_what_it_holds_out_of_the_collector_then_gives_it_back() -> None:
    history, log, before = Recorded(), Log(FREEZE_EVERY + 2), gc.get_threshold()

    await fold_log(log, history, Progress(io.StringIO(), "replay", log.total))  # type: ignore[arg-type]

    assert [offset for offset, _ in history.fed] == list(range(FREEZE_EVERY + 2)), "every entry, in order"
    assert history.fed[FREEZE_EVERY - 1][1] == 0 and history.fed[FREEZE_EVERY][1] > 0
    assert history.thresholds == {(YOUNG_GENERATION, *before[1:])}, "the young generation collected less often"
    assert gc.get_freeze_count() == 0, "nothing stays frozen after the fold"
    assert gc.get_threshold() == before, "and the collector's thresholds are as they were"


async def test_a_fold_that_fails_half_way_leaves_nothing_frozen() -> None:
    log, before = Log(FREEZE_EVERY + 2, fail_at=FREEZE_EVERY + 1), gc.get_threshold()

    with pytest.raises(ConnectionError):
        await fold_log(log, Recorded(), Progress(io.StringIO(), "replay", log.total))  # type: ignore[arg-type]

    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


CYCLES_IN_A_FOLD = """
import gc, json, weakref
from services.replay import YOUNG_GENERATION, spared_collector


class Node:
    pass


watched = []
with spared_collector() as keep:
    keep()
    for _ in range(3 * YOUNG_GENERATION):  # garbage in cycles, as a rejection's traceback makes
        node = Node()
        node.itself = node
        watched.append(weakref.ref(node))
        del node
    freed = sum(ref() is None for ref in watched)
print(json.dumps({"young": YOUNG_GENERATION, "freed": freed}))
"""


def test_cycles_made_during_a_fold_are_still_collected_unasked() -> None:
    # in a fresh interpreter: freezing this session's heap would hide the suite's garbage
    seen = orjson.loads(run_fresh(CYCLES_IN_A_FOLD))

    assert seen["freed"] >= 2 * seen["young"], "at most one young generation's worth waits"
