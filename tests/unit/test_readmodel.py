"""The dashboards' read model: latest records, alert statuses, exact stream resumption, aged workloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import readmodel
from services.readmodel import ReadModel
from services.sse import format_alert, parse_seen, seen_id

T = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def state(
    complaint_id: str,
    version: int,
    *,
    revision: int | None = None,
    minute: int = 0,
    department: str = "家电部",
    is_open: bool = True,
) -> bytes:
    """A complaints.state record after `version` events, evaluated `minute` minutes after T."""
    return orjson.dumps(
        {
            "complaint_id": complaint_id,
            "version": version,
            "revision": version if revision is None else revision,
            "evaluated_at": (T + timedelta(minutes=minute)).isoformat(),
            "department": department,
            "open": is_open,
        }
    )


def alert(complaint_id: str, kind: str = "breached", *, level: int = 0, minute: int = 0) -> bytes:
    return orjson.dumps(
        {
            "alert_id": f"{complaint_id}:resolution:{kind}:{level}",
            "complaint_id": complaint_id,
            "kind": kind,
            "level": level,
            "raised_at": (T + timedelta(minutes=minute)).isoformat(),
        }
    )


def retraction(complaint_id: str, kind: str = "breached", level: int = 0) -> bytes:
    return orjson.dumps(
        {
            "alert_id": f"{complaint_id}:resolution:{kind}:{level}:retracted",
            "complaint_id": complaint_id,
            "kind": "retracted",
            "level": level,
            "raised_at": T.isoformat(),
        }
    )


def shown(model: ReadModel, complaint_id: str) -> tuple[int, int]:
    """(version, revision) of the complaint's record the model shows."""
    record = orjson.loads(model.complaint(complaint_id) or b"")
    return record["version"], record["revision"]


def test_an_older_record_read_after_a_newer_one_is_left_out() -> None:
    model = ReadModel()
    model.take_state(state("C-1", 3, department="服装部", minute=5))
    model.take_state(state("C-1", 2, department="家电部", minute=2))  # a late duplicate of an older publication
    model.take_state(state("C-1", 3, revision=2, department="家电部", minute=4))  # evaluated before the one held
    assert shown(model, "C-1") == (3, 3)
    assert model.handled_by["C-1"] == ("服装部", True, 3)


def test_a_timer_settle_of_the_same_events_replaces_the_record_it_follows() -> None:
    model = ReadModel()
    model.take_state(state("C-1", 2, minute=5))
    model.take_state(state("C-1", 2, revision=3, minute=65))  # the resolution clock's breach, raised by the timer
    assert shown(model, "C-1") == (2, 3)


def test_the_workers_own_records_hold_instants_and_are_ordered_as_records_read_back() -> None:
    """The agent hands the read model its state record as built for orjson (`codec.for_orjson`,
    services/agents.py): its `evaluated_at` an instant, where a record read from the topic has text."""
    model = ReadModel()
    model.take_state(state("C-1", 2, minute=5))

    for revision, minute in ((3, 65), (4, 64)):  # the second was evaluated before the one held
        own = orjson.loads(state("C-1", 2, revision=revision, minute=minute))
        own["evaluated_at"] = T + timedelta(minutes=minute)
        model.take_state_record(own, orjson.dumps(own))

    assert shown(model, "C-1") == (2, 3)


def test_after_a_crash_the_records_published_again_replace_those_published_before() -> None:
    """A worker raised two alerts in two timer settles (revisions 3 and 4), published them, and
    died before saving its table. Its successor processes the same events again later and raises
    both in one settle: revision 3, where the record published before the crash says 4. The next
    event (revision 4, version 3) must show too: a model keeping the highest revision showed the
    record from before the crash, a state the complaint had left, until the revisions caught up."""
    model = ReadModel()
    model.take_state(state("C-1", 2, minute=5))
    model.take_state(state("C-1", 2, revision=3, minute=48))
    model.take_state(state("C-1", 2, revision=4, minute=60))
    model.take_state(state("C-1", 2, revision=3, minute=70, department="服装部"))  # after the restart
    assert shown(model, "C-1") == (2, 3) and model.handled_by["C-1"].department == "服装部"
    model.take_state(state("C-1", 3, revision=4, minute=75, is_open=False))
    assert shown(model, "C-1") == (3, 4) and not model.handled_by["C-1"].open


def test_the_newest_records_are_kept_as_published_and_packed_once_newer_ones_push_them_out() -> None:
    model = ReadModel()
    first = state("C-0", 1)
    model.take_state(first)
    assert model.states == {}, "the newest records are not packed yet"
    for number in range(1, readmodel.UNPACKED_RECORDS + 1):
        model.take_state(state(f"C-{number}", 1))
    assert list(model.states) == ["C-0"] and model.states["C-0"] != first, "packed once pushed out"
    assert model.complaint("C-0") == first
    model.take_state(state("C-0", 2))
    assert "C-0" not in model.states, "its newest record is kept as published again"
    assert model.complaint("C-0") == state("C-0", 2) and model.complaints == readmodel.UNPACKED_RECORDS + 1


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 5), st.integers(0, 5)), max_size=60))
def test_every_complaint_shows_its_newest_record_however_its_records_were_kept(
    takes: list[tuple[int, int, int]],
) -> None:
    """The newest: of the most events, then evaluated last, then read last."""
    model = ReadModel()
    newest: dict[str, bytes] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readmodel, "UNPACKED_RECORDS", 3)  # a few complaints are packed, a few not
        for number, version, minute in takes:
            record = state(f"C-{number}", version, revision=len(takes) - minute, minute=minute)
            model.take_state(record)
            known = newest.get(f"C-{number}")
            if known is None or (orjson.loads(known)["version"], orjson.loads(known)["evaluated_at"]) <= (
                version,
                (T + timedelta(minutes=minute)).isoformat(),
            ):
                newest[f"C-{number}"] = record
    assert {complaint_id: model.complaint(complaint_id) for complaint_id in newest} == newest
    assert model.complaints == len(newest)


def test_an_alert_is_active_until_retracted_or_its_complaint_closes() -> None:
    model = ReadModel()
    model.take_state(state("C-1", 1))
    model.take_state(state("C-2", 1))
    model.take_alert(0, 0, alert("C-1"))
    model.take_alert(0, 1, alert("C-2"))
    assert [view["status"] for view in model.find_alerts()] == ["active", "active"]
    model.take_alert(0, 2, retraction("C-1"))
    model.take_state(state("C-2", 2, is_open=False))
    statuses = {view["alert"]["complaint_id"]: view["status"] for view in model.find_alerts()}
    assert statuses == {"C-1": "retracted", "C-2": "closed"}
    assert [view["alert"]["complaint_id"] for view in model.find_alerts(status="retracted")] == ["C-1"]


def test_alerts_are_filtered_by_the_department_handling_the_complaint_now_and_by_level_newest_first() -> None:
    model = ReadModel()
    model.take_state(state("C-1", 1, department="家电部"))
    model.take_state(state("C-2", 1, department="服装部"))
    model.take_alert(0, 0, alert("C-1", minute=1))
    model.take_alert(0, 1, alert("C-1", "escalated", level=1, minute=5))
    model.take_alert(1, 0, alert("C-2", minute=3))
    assert [v["alert"]["kind"] for v in model.find_alerts(department="家电部")] == ["escalated", "breached"]
    assert [v["alert"]["complaint_id"] for v in model.find_alerts(level=0)] == ["C-2", "C-1"]
    model.take_state(state("C-1", 2, department="服装部"))  # reassigned: its alerts follow it
    assert len(model.find_alerts(department="服装部")) == 3


def test_a_repeated_alert_is_not_news_but_one_raised_again_after_its_retraction_is() -> None:
    model = ReadModel()
    assert model.take_alert(0, 0, alert("C-1")) is not None
    assert model.take_alert(0, 1, alert("C-1")) is None  # at-least-once publishing
    assert model.repeated_alerts == 1
    model.take_alert(0, 2, retraction("C-1"))
    assert model.take_alert(0, 3, alert("C-1")) is not None
    assert [(logged.partition, logged.offset) for logged in model.raised_log] == [(0, 0), (0, 3)]
    assert model.alerts_read_to == {0: 4}


def test_a_stream_resumes_after_what_the_client_saw_on_every_partition() -> None:
    model = ReadModel()
    for partition, offset, complaint_id in [(0, 0, "A"), (1, 0, "B"), (0, 1, "C"), (1, 1, "D"), (2, 0, "E")]:
        model.take_alert(partition, offset, alert(complaint_id))
    resumed = model.raised_after({0: 1, 1: 2})
    assert [logged.record["complaint_id"] for logged in resumed] == ["C", "E"]


def test_stream_ids_name_the_position_and_read_back() -> None:
    seen = {1: 7, 0: 12}
    assert seen_id(seen) == "0:12,1:7"
    assert parse_seen(seen_id(seen)) == seen
    assert parse_seen(None) is None
    assert parse_seen("not-ours") is None
    frame = format_alert({"reason": "line one\nline two"}, seen)
    assert frame.startswith(b"id: 0:12,1:7\nevent: alert\ndata: ")
    assert frame.endswith(b"\n\n") and frame.count(b"\n") == 4  # the data stays on one line


def test_the_oldest_open_complaint_ages_with_the_clock() -> None:
    model = ReadModel()
    published = {"department": "家电部", "open": 1, "oldest_open_seconds": 60.0, "evaluated_at": T.isoformat()}
    model.take_workload(orjson.dumps(published))
    assert model.workload(T + timedelta(minutes=2))[0]["oldest_open_seconds"] == 180.0
    model.take_workload(orjson.dumps({**published, "oldest_open_seconds": None}))
    assert model.workload(T + timedelta(minutes=2))[0]["oldest_open_seconds"] is None


@pytest.mark.parametrize("partitions", [(0,), (0, 3)])
def test_event_positions_are_kept_once_each_in_the_order_read(partitions: tuple[int, ...]) -> None:
    model = ReadModel()
    positions = [(partition, offset) for partition in partitions for offset in (5, 9, 10**13)]
    for partition, offset in positions + positions[:1]:
        model.take_event_position(b"C-1", partition, offset)
    assert model.event_positions("C-1") == positions
    assert model.event_positions("C-2") == []
