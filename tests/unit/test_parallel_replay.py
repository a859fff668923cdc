"""`replay --jobs N` without processes: the shard of a key is stable, and shards folded apart and
merged print what one `History` prints (the processes, on a real broker: tests/integration)."""

from __future__ import annotations

import io
import os
import pickle
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from projections.history import History, Horizon, Horizons, LoggedEvent
from services.parallel_replay import EVENTS_PER_JOB, Merged, default_jobs, folded, shard_of
from services.render import write_projections
from services.replay import summary
from tests.fresh import run_fresh
from tests.unit.test_replay import RULES, replay
from tests.unit.test_replay_output import AS_OF, FORMATS, everything
from tests.wire import received


def test_the_shard_of_a_key_is_its_crc32_and_the_same_in_another_process() -> None:
    keys = [b"C-1", b"C-2", b"C-1001", "C-客服".encode()]
    script = f"from services.parallel_replay import shard_of; print([shard_of(key, 3) for key in {keys!r}])"
    other = run_fresh(script)

    assert [shard_of(key, 3) for key in keys] == [0, 2, 2, 1]
    assert [shard_of(key, 2) for key in keys] == [0, 0, 1, 0]
    assert other.strip() == "[0, 2, 2, 1]"
    assert shard_of(None, 3) == 0


def test_the_default_runs_one_job_on_a_small_log_and_never_more_than_the_cores_or_eight() -> None:
    assert default_jobs(0) == default_jobs(EVENTS_PER_JOB - 1) == 1
    assert 1 <= default_jobs(10**9) <= min(len(os.sched_getaffinity(0)), 8)


def test_horizons_reach_a_child_as_they_are_and_judge_alike_there() -> None:
    # a child receives its shard's horizons pickled; compiled, a frozen dataclass cannot be rebuilt
    # by pickle's attribute writes, so `Horizon` and `Horizons` say how to rebuild themselves
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    own = Horizon(now - timedelta(hours=1), occurred_by=now - timedelta(hours=2), version=3)
    horizons = Horizons(Horizon(now, occurred_by=now), {"C-2": own})
    assert horizons("C-2").left_out(now)  # its zones' cache filled before pickling: not carried

    back = pickle.loads(pickle.dumps(horizons))

    assert back == horizons
    assert back("C-1") == Horizon(now, occurred_by=now)
    assert back("C-2") == own
    assert back("C-2").left_out(now) and not back("C-2").left_out(now - timedelta(hours=3))


def sharded(entries: list[LoggedEvent], jobs: int) -> Merged:
    return Merged(
        [folded(replay([e for e in entries if shard_of(e.key, jobs) == shard], AS_OF)) for shard in range(jobs)]
    )


@pytest.mark.parametrize("department", [None, "物业部"])
@pytest.mark.parametrize("jobs", [2, 3])
def test_shards_folded_apart_and_merged_print_what_one_history_prints(jobs: int, department: str | None) -> None:
    first = everything()[0]
    entries = [
        *everything(),
        LoggedEvent(0, 99, None, None, b"not json"),
        LoggedEvent(1, 100, None, first.key, first.value),
    ]
    entries += [LoggedEvent(2, n, None, f"C-{n}".encode(), orjson.dumps(received(f"C-{n}"))) for n in range(10, 20)]
    one: History = replay(entries, AS_OF)
    merged = sharded(entries, jobs)

    for form in FORMATS:
        alone, together = io.StringIO(), io.StringIO()
        write_projections(alone, one, AS_OF, department, form)
        write_projections(together, merged, AS_OF, department, form)
        assert together.getvalue() == alone.getvalue()
    assert summary(merged, AS_OF) == summary(one, AS_OF)
    assert merged.complaint_ids() == one.complaint_ids()


def test_shards_with_a_horizon_per_complaint_merge_into_what_one_history_folds() -> None:
    """verify's fold: each complaint stops at its live record's version, so a live system that lags
    is compared where it stands; the complaints past it are counted as lagging in every shard."""
    entries = everything()
    complaint_ids = sorted({entry.key.decode() for entry in entries if entry.key is not None})
    horizons = Horizons(
        Horizon(AS_OF), {complaint_ids[0]: Horizon(AS_OF, version=1), complaint_ids[-1]: Horizon(AS_OF, version=2)}
    )

    def fold(part: list[LoggedEvent]) -> History:
        history = History(RULES, horizons)
        for entry in part:
            history.feed(entry)
        return history

    one = fold(entries)
    merged = Merged([folded(fold([e for e in entries if shard_of(e.key, 2) == shard])) for shard in range(2)])

    assert one.lagging == {complaint_ids[0], complaint_ids[-1]}, "both live records lag their log"
    assert merged.lagging == one.lagging and merged.counts == one.counts
    assert list(merged.records()) == list(one.records())
    assert merged.workloads() == one.workloads()


def test_a_shard_is_written_out_by_its_size_never_by_its_records() -> None:
    """A child's shard comes back through `asyncio.run`, which in Python 3.11 and 3.12 writes the
    repr of what it returns, twice: a shard's repr must not be its records."""
    entries = everything()
    shard = folded(replay(entries, AS_OF))

    text = repr(shard)

    assert text == f"<FoldedShard of {len(shard.complaint_ids):,} complaints, {len(entries):,} entries>"
    assert len(shard.complaint_ids) > 1 and not any(complaint_id in text for complaint_id in shard.complaint_ids)
