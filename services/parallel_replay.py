"""`complaintflow replay --jobs N` (and `verify --jobs N`): the fold spread over N processes, one
shard of complaints each.

Why: replay is CPU-bound in one process. Decoding, folding and settling cost ~100 µs an event
(~8.8k events/s on the benchmark's 113k-event log, against ~85k/s for a plain aiokafka
read-and-decode), and one Python process cannot go faster. Complaints are independent in the fold,
so each shard's complaints are folded apart, settled at their horizon (replay's `--as-of`, or for
verify the live record's), and their records and memberships worked out: shard 0 in the parent
itself, each other shard in a child process. The parent merges them and prints (or compares) with
the code a single process uses (services/render.py, services/verify.py).

How the shards stay consistent with `--jobs 1`, so the output is byte-identical:

- Sharded by complaint: shard = `zlib.crc32(key) % jobs` (no key: shard 0), never Python's salted
  `hash()`. All of a complaint's events land in one shard even if a channel published them to
  several partitions.
- One snapshot: the parent finds the log's ranges once (beginnings and verified ends, `KafkaLog`)
  and every shard reads exactly those, partition by partition in offset order, as `--jobs 1` does;
  a child never works out ends of its own (events appended meanwhile would make shards disagree).
  With `--from-file` every shard reads the whole file and keeps its lines.
- Each shard is folded with the same `History`, `Horizon` and collector discipline (`fold_log`), so a
  complaint's fold is the one `--jobs 1` makes. The parent merges the shards' records and
  memberships back into complaint order; workloads are rebuilt from them in that order.

Every shard reads (and skips most of) the whole log: reading is ~10× cheaper than folding, so this
costs less than routing entries from the parent. Children are spawned (never forked: the parent
runs an event loop), which costs each an interpreter start and imports (~0.3 s): a small log is
faster in one process, so the default (`default_jobs`) uses one job per `EVENTS_PER_JOB` events.
The parent folds shard 0 with the log it already has open, rather than waiting idle: one child fewer
to start, one read of the log fewer and one shard that is never pickled.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import io
import multiprocessing
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projections.history import Folded, History, Horizons, LoggedEvent, Outcome, workloads_of
from projections.workload import DepartmentWorkload, Membership
from services.progress import REDRAW_SECONDS, Progress
from services.replay import FileLog, KafkaLog, fold_log, spared_collector
from services.rules import load_rulebook
from services.settings import Settings

MAX_JOBS = 8
"""The default's ceiling: each shard reads the whole log, each child holds an interpreter (~60 MB)."""
EVENTS_PER_JOB = 20_000
"""The default runs one job per this many events (at least one): under that, a child's start-up
(~0.5 s of interpreter and imports) outweighs what it saves."""
POSITION_EVERY = 2_000
"""Entries a child reads between two updates of its position (the parent's progress bar)."""


def shard_of(key: bytes | None, jobs: int) -> int:
    """The shard of a log entry's key: the same in every process and on every run."""
    return 0 if key is None else zlib.crc32(key) % jobs


def default_jobs(events: int) -> int:
    """`--jobs` left out: a job per usable core, at most `MAX_JOBS`, fewer on a small log."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS, events // EVENTS_PER_JOB))


@dataclass(frozen=True)
class Shard:
    """What a child is asked to fold: its shard of the parent's snapshot of the log."""

    settings: Settings
    horizons: Horizons
    """Where each complaint's fold stops (replay: `--as-of` for all; verify: each live record's)."""
    index: int
    jobs: int
    ranges: dict[int, tuple[int, int]] | None
    """The parent's `KafkaLog.ranges`; None: `from_file`."""
    from_file: Path | None


@dataclass(frozen=True, repr=False)
class FoldedShard:
    """A shard's result: its counts, and its complaints' records and memberships at their horizons.

    Its repr names its size, not its contents: Python 3.11 and 3.12's `asyncio.run` writes the
    repr of the result it returns, twice, when it puts back the SIGINT handler (CPython issue
    112559, fixed in 3.13), and a child's shard returns through `asyncio.run`. The dataclass's own
    repr of 10,000 complaints' records took 0.28 s each time, on the way from the fold to the parent."""

    counts: Counter[Outcome]
    lagging: set[str]
    complaint_ids: list[str]
    records: list[dict[str, Any]]
    memberships: list[list[Membership]]

    def __repr__(self) -> str:
        return f"<FoldedShard of {len(self.complaint_ids):,} complaints, {sum(self.counts.values()):,} entries>"


class Merged:
    """The shards merged back into one view, in complaint order: what `write_projections` and
    `summary` read from a `History`."""

    def __init__(self, shards: Sequence[FoldedShard]) -> None:
        self.shards = shards
        self.counts: Counter[Outcome] = sum((shard.counts for shard in shards), Counter())
        self.lagging: set[str] = set().union(*(shard.lagging for shard in shards))

    def complaint_ids(self) -> list[str]:
        return list(heapq.merge(*(shard.complaint_ids for shard in self.shards)))

    def records(self) -> Iterator[dict[str, Any]]:
        return heapq.merge(*(shard.records for shard in self.shards), key=lambda record: record["complaint_id"])

    def workloads(self) -> dict[str, DepartmentWorkload]:
        per_complaint = heapq.merge(
            *(zip(shard.complaint_ids, shard.memberships, strict=True) for shard in self.shards),
            key=lambda pair: pair[0],
        )
        return workloads_of(memberships for _, memberships in per_complaint)


async def fold(
    settings: Settings,
    log: FileLog | KafkaLog,
    history: History,
    jobs: int | None,
    progress: Progress,
    *,
    wanted: Callable[[LoggedEvent], bool] | None = None,
) -> Folded:
    """`log` (entered) folded into `history` in this process, or with more than one job in shards,
    merged (`fold_in_parallel`). `jobs` None: `default_jobs`. What `wanted` picks (one complaint's
    timeline) is always folded here."""
    jobs = jobs or default_jobs(log.total)
    if jobs == 1 or wanted is not None:
        await fold_log(log, history, progress, wanted=wanted)
        return history
    return await fold_in_parallel(settings, log, history, jobs, progress)


async def fold_in_parallel(
    settings: Settings, log: FileLog | KafkaLog, history: History, jobs: int, progress: Progress
) -> Merged:
    """Fold `log` (entered: its ranges are the snapshot) in `jobs` shards and merge them: shard 0 into
    `history` here, with the log already open, while `jobs - 1` child processes fold the others (the
    parent would otherwise wait idle, and its shard needs no interpreter start, second read or
    pickling). The children receive `history`'s horizons."""
    horizons = history.horizon
    context = multiprocessing.get_context("spawn")
    positions = context.Array("q", jobs, lock=False)  # each shard's folder writes its own slot only
    ranges = log.ranges if isinstance(log, KafkaLog) else None
    from_file = log.path if isinstance(log, FileLog) else None
    shards = [Shard(settings, horizons, index, jobs, ranges, from_file) for index in range(jobs)]
    pool = ProcessPoolExecutor(jobs - 1, mp_context=context, initializer=_started, initargs=(positions,))
    futures: list[asyncio.Future[FoldedShard]] = []
    try:
        futures += [asyncio.wrap_future(pool.submit(fold_shard, shard)) for shard in shards[1:]]
        with spared_collector():  # thaws what shard 0 left frozen (`_fold`), once every shard is in
            futures.insert(0, asyncio.ensure_future(_fold(shards[0], log, positions, history)))
            await _wait_for(futures, positions, progress)
        results = [future.result() for future in futures]
    except BaseException:
        for future in futures:  # the others' outcome is moot: not left to be reported at exit
            if not future.cancel() and not future.cancelled():
                future.exception()
        _stop(pool)
        raise
    pool.shutdown()
    return Merged(results)


async def _wait_for(futures: list[asyncio.Future[FoldedShard]], positions: Any, progress: Progress) -> None:
    """Wait for every shard, drawing the slowest one's progress; raise the first failure."""
    pending: set[asyncio.Future[FoldedShard]] = set(futures)
    reading = True  # the bar, like `fold_log`'s, counts what is read and ends when all of it is
    while pending:
        _, pending = await asyncio.wait(pending, timeout=REDRAW_SECONDS, return_when=asyncio.FIRST_EXCEPTION)
        failed = [future for future in futures if future.done() and future.exception() is not None]
        if failed:
            raise failed[0].exception()  # type: ignore[misc]  # the shard's own exception (a child's, unpickled)
        if reading:
            progress.advance(min(positions) - progress.done)  # the slowest shard's position
            reading = progress.done < progress.total and bool(pending)
            if not reading:
                progress.close()


def _stop(pool: ProcessPoolExecutor) -> None:
    """No point finishing the other shards once one failed (or the replay was interrupted). The pool
    is shut down only once its processes are gone, and waited for: its manager thread, left to end
    on its own, raced the interpreter's exit, which now and then printed a "Bad file descriptor"."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way to stop running work
    for process in processes:
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


# --- folding a shard (in a child, or shard 0 in the parent) --------------------------------------

_positions: Any = None
"""The shared array of positions (inherited at start: it cannot travel with a task)."""


def _started(positions: Any) -> None:
    global _positions
    _positions = positions


def fold_shard(shard: Shard) -> FoldedShard:
    """A child's task: fold its shard with its own event loop and a log of its own."""
    return asyncio.run(_fold_with_own_log(shard))


async def _fold_with_own_log(shard: Shard) -> FoldedShard:
    log = FileLog(shard.from_file) if shard.from_file is not None else KafkaLog(shard.settings, shard.ranges)
    async with log:
        return await _fold(shard, log, _positions, History(load_rulebook(shard.settings), shard.horizons))


async def _fold(shard: Shard, log: FileLog | KafkaLog, positions: Any, history: History) -> FoldedShard:
    """Fold the shard's entries of `log` (entered, over the parent's snapshot) into `history` and
    settle them.

    What the process holds is then frozen out of the collector's sight, and left so: the shard is
    worked out with every case there (as `run_replay`'s output is), then pickled by a child's pool,
    or kept by the parent while the pool's thread unpickles the children's shards beside it. A full
    collection in either walked it all, to free nothing (0.1 s in a child, 0.36 s in the parent,
    for 10,000 complaints a side). A child never thaws it (its process ends once its shard is
    sent); the parent does once every shard is in (`fold_in_parallel`)."""

    def ours(entry: LoggedEvent) -> bool:
        return shard_of(entry.key, shard.jobs) == shard.index

    await fold_log(log, history, _Position(shard.index, positions), wanted=ours)
    gc.freeze()
    return folded(history)


def folded(history: History) -> FoldedShard:
    """What the parent needs of a shard's `History`: its complaints settled at their horizon, as
    records and memberships, worked out here in parallel (sending the cases would leave
    `to_record` to the parent). Measured for 10,000 complaints (2026-12-07): 6.4 MB of records and
    1.3 MB of memberships pickled, 0.25 s to pickle, 0.3 s to unpickle in the parent; records as
    orjson bytes would save ~0.1 s of it."""
    complaint_ids = history.complaint_ids()
    records = [history.record(complaint_id) for complaint_id in complaint_ids]
    memberships = [history.memberships(complaint_id) for complaint_id in complaint_ids]
    return FoldedShard(history.counts, history.lagging, complaint_ids, records, memberships)


class _Position(Progress):
    """A shard's progress: how far it has read, in its slot of the shared array; draws nothing."""

    def __init__(self, index: int, positions: Any) -> None:
        super().__init__(io.StringIO(), "replay", 0)
        self.index, self.positions = index, positions

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.done % POSITION_EVERY == 0 and self.positions is not None:
            self.positions[self.index] = self.done

    def close(self) -> None:
        if self.positions is not None:
            self.positions[self.index] = self.done
