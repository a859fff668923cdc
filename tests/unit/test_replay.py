"""The replay engine (projections/history.py) on hand-made logs: as-of cuts, live-like settling,
repeats and rejections, the verify horizon, workload rebuilt from memberships, the export line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import orjson
import pytest

from events.codec import decode_keyed_event
from projections import case as cases
from projections import workload
from projections.case import Case
from projections.history import History, Horizon, Horizons, LoggedEvent
from services.export_file import ExportFileError, export_line, parse_line
from services.rules import load_rulebook
from services.settings import Settings
from services.shares import PartitionShares
from tests.wire import CHINA, T0, assigned, inspected, minutes, paid, received, ruled

RULES = load_rulebook(Settings())
DAY = timedelta(days=1)


def logged(*events: dict[str, Any], published: datetime | None = None, partition: int = 0) -> list[LoggedEvent]:
    """Log entries as the broker would hand them over; each is published when it occurred unless told."""
    return [
        LoggedEvent(
            partition,
            offset,
            int((published or datetime.fromisoformat(event["occurred_at"])).timestamp() * 1000),
            str(event["complaint_id"]).encode(),
            orjson.dumps(event),
        )
        for offset, event in enumerate(events)
    ]


def replay(entries: Iterable[LoggedEvent], as_of: datetime, *, watch: str | None = None) -> History:
    history = History(RULES, Horizons(Horizon(as_of, occurred_by=as_of)), watch=watch)
    for entry in entries:
        history.feed(entry)
    return history


def lifecycle(complaint_id: str = "C-1") -> list[dict[str, Any]]:
    return [
        received(complaint_id, amount="3000.00"),
        assigned(complaint_id, "客服中心", "h-7", at=T0 + minutes(10)),
        ruled(complaint_id, amount="3000.00", at=T0 + 2 * DAY),
        paid(complaint_id, amount="3000.00", at=T0 + 3 * DAY),
    ]


def test_a_complaint_ruled_on_day_2_and_paid_on_day_3_is_ruled_as_of_day_2_5() -> None:
    history = replay(logged(*lifecycle()), T0 + 2.5 * DAY)

    record = history.record("C-1")
    assert record["stage"] == "ruled" and record["paid_amount"] == "0"
    assert record["evaluated_at"] == (T0 + 2.5 * DAY).isoformat()
    assert history.counts == {"accepted": 3, "later": 1}
    assert replay(logged(*lifecycle()), T0 + 3.5 * DAY).record("C-1")["stage"] == "paid"


def test_the_as_of_cut_is_by_when_events_happened_not_when_they_were_logged() -> None:
    late = logged(*lifecycle(), published=T0 + 10 * DAY)

    assert replay(late, T0 + 2.5 * DAY).record("C-1")["stage"] == "ruled"


@pytest.mark.parametrize("as_of_zone", [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
def test_an_event_is_left_out_exactly_when_it_happened_after_as_of_in_whatever_offsets(as_of_zone: tzinfo) -> None:
    """The cut compares instants, not clock readings: events written at +08:00 against an `--as-of`
    given at any offset, the same horizon asked about events of both zones in turn."""
    ruled_at = T0 + 2 * DAY
    horizon = Horizon(T0 + 3 * DAY, occurred_by=ruled_at.astimezone(as_of_zone))
    for written in (CHINA, UTC, CHINA):
        assert not horizon.left_out(ruled_at.astimezone(written))
        assert horizon.left_out((ruled_at + timedelta(microseconds=1)).astimezone(written))
    assert replay(logged(*lifecycle()), ruled_at.astimezone(as_of_zone)).counts == {"accepted": 3, "later": 1}


def test_clocks_are_evaluated_at_as_of() -> None:
    record = replay(logged(*lifecycle()), T0 + 2.5 * DAY).record("C-1")

    resolution = next(clock for clock in record["clocks"] if clock["name"] == "resolution")
    assert resolution["deadline"] == (T0 + 3 * DAY).isoformat()
    assert resolution["remaining_seconds"] == 0.5 * DAY.total_seconds()
    assert resolution["status"] == "at_risk"


def test_alerts_are_raised_at_their_due_instants_as_the_live_timer_raises_them() -> None:
    """One settle per threshold instant: the revision counts them as a never-stopping worker would."""
    history = replay(
        logged(received("C-1", amount="300.00"), assigned("C-1", "客服中心", at=T0 + minutes(5))),
        T0 + timedelta(hours=3),
    )

    record = history.record("C-1")
    due = {alert["alert_id"]: alert["due_at"] for alert in record["alerts"]}
    assert due["C-1:resolution:at_risk:0"] == (T0 + minutes(48)).isoformat()
    assert due["C-1:resolution:breached:0"] == (T0 + minutes(60)).isoformat()
    assert record["revision"] == record["version"] + len(set(due.values()))


def test_a_late_lab_request_retracts_the_breach_it_prevented_and_the_timeline_shows_both() -> None:
    entries = logged(received("C-1", amount="300.00"), assigned("C-1", "客服中心", at=T0 + minutes(5)))
    entries += [
        LoggedEvent(
            0,
            2,
            int((T0 + minutes(90)).timestamp() * 1000),
            b"C-1",
            orjson.dumps(inspected("C-1", at=T0 + minutes(30))),
        )
    ]

    history = replay(entries, T0 + timedelta(hours=2), watch="C-1")

    steps = sorted(history.timeline, key=lambda step: step.at)
    breach = next(step for step in steps if "C-1:resolution:breached:0" in step.raised)
    retraction = next(step for step in steps if "C-1:resolution:breached:0" in step.retracted)
    assert breach.kind == "sla" and breach.at == T0 + minutes(60)
    assert retraction.kind == "event" and retraction.event_type == "inspected"
    assert retraction.changes["lab_inspection_pending"] == (False, True)
    assert "C-1:resolution:breached:0" not in {a["alert_id"] for a in history.record("C-1")["alerts"]}


def test_repeats_change_nothing_and_rejections_are_counted_not_folded() -> None:
    opened = received("C-1")
    conflicting = {**assigned("C-1", "物业部", at=T0 + minutes(3)), "event_id": opened["event_id"]}
    entries = logged(opened, opened, conflicting, assigned("C-2", "物业部"))
    entries.append(LoggedEvent(0, 9, None, b"C-1", b"not json"))

    history = replay(entries, T0 + DAY, watch="C-1")

    assert history.counts == {"accepted": 1, "duplicate": 1, "rejected": 3}
    assert history.complaint_ids() == ["C-1"]
    assert history.record("C-1")["version"] == 1
    noted = [
        (step.kind, (step.reason or "").split(":")[0]) for step in history.timeline if step.kind not in ("event", "sla")
    ]
    assert noted == [("duplicate", ""), ("rejected", "conflicting_duplicate"), ("rejected", "undecodable")]


def test_an_event_from_the_future_is_judged_by_its_log_time_as_live() -> None:
    entries = logged(received("C-1", at=T0 + timedelta(hours=1)), published=T0)

    history = replay(entries, T0 + DAY)

    assert history.counts == {"rejected": 1}


def test_a_version_horizon_stops_where_the_live_record_stands() -> None:
    history = History(RULES, Horizons(Horizon(T0 + DAY, version=2)))
    for entry in logged(*lifecycle()):
        history.feed(entry)

    assert history.record("C-1")["version"] == 2
    assert history.counts == {"accepted": 2, "beyond": 2}
    assert history.lagging == {"C-1"}


def test_workloads_rebuilt_from_final_cases_equal_the_live_incremental_fold() -> None:
    """What the workload agent folds from every published membership equals the rebuild replay does."""
    events = [
        received("C-1", department="服装部"),
        received("C-2", department="服装部", amount="300.00"),
        assigned("C-1", "客服中心", at=T0 + minutes(5)),
        assigned("C-2", "服装部", at=T0 + minutes(5)),
        assigned("C-1", "物业部", "h-2", at=T0 + minutes(50)),
        ruled("C-2", amount="300.00", at=T0 + minutes(70)),
    ]
    as_of = T0 + timedelta(hours=5)

    replayed = replay(logged(*events), as_of).workloads()

    assert {name: workload.to_record(view, as_of) for name, view in replayed.items()} == live_workloads(events, as_of)
    assert (replayed["服装部"].owned, replayed["服装部"].open, replayed["物业部"].open) == (2, 1, 1)


def live_workloads(events: list[dict[str, Any]], as_of: datetime) -> dict[str, Any]:
    """The live pipeline, by hand: settle after each event and at the end, count each step in the
    shares of the complaint's partition (two partitions), add up each department's shares."""
    cases_by_id: dict[str, Case] = {}
    shares = PartitionShares()
    partition_of: dict[str, int] = {}

    def publish(before: Case | None, after: Case, now: datetime) -> Case:
        assessment = cases.assess(after, RULES, now)
        case = assessment.settled.case
        partition = partition_of.setdefault(case.complaint_id, len(partition_of) % 2)
        standing = cases.standing(case, RULES, now, assessment.views)
        shares.count(partition, before, case, cases.departments_touched(before, case), standing)
        cases_by_id[case.complaint_id] = case
        return case

    for raw in events:
        event = decode_keyed_event(raw["complaint_id"].encode(), orjson.dumps(raw))
        before = cases_by_id.get(event.complaint_id)
        publish(before, cases.accept_event(before, event, RULES), event.occurred_at)
    for case in list(cases_by_id.values()):
        publish(case, case, as_of)
    latest = {(share.department, share.partition): share for share in shares.take_changed()}
    departments = sorted({department for department, _ in latest})
    return {
        name: workload.combined_record(name, [s for (d, _), s in latest.items() if d == name], as_of)
        for name in departments
    }


def test_an_export_line_reads_back_as_the_same_log_entry() -> None:
    pretty = orjson.dumps(received("C-1"), option=orjson.OPT_INDENT_2)
    entry = LoggedEvent(3, 41, 1_795_400_000_123, b"C-1", pretty)

    line = export_line(entry)
    back = parse_line(line, where="f:1")

    assert line.count(b"\n") == 1 and line.startswith(b'{"partition":3,"offset":41,"timestamp_ms":1795400000123,')
    assert (back.partition, back.offset, back.timestamp_ms, back.key) == (3, 41, 1_795_400_000_123, b"C-1")
    assert orjson.loads(back.value) == orjson.loads(pretty)
    assert back.published_at == entry.published_at


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"nope", "not JSON"),
        (b'{"partition": 0, "offset": 1}', "expected an object"),
        (b'{"partition": "0", "offset": 1, "timestamp_ms": null, "event": {}}', "must be integers"),
    ],
)
def test_a_bad_export_line_is_named_with_its_file_and_line(line: bytes, problem: str) -> None:
    with pytest.raises(ExportFileError, match=rf"events\.jsonl:7: .*{problem}"):
        parse_line(line, where="events.jsonl:7")


def test_an_assessment_works_out_its_clocks_views_only_when_they_are_read() -> None:
    """Replay settles after every event but reads the clocks only at its horizon: `assess` leaves
    them to the first read, which gives what `clocks` gives, and the same list on a second read."""
    case = None
    for raw in lifecycle()[:3]:
        case = cases.accept_event(case, decode_keyed_event(raw["complaint_id"].encode(), orjson.dumps(raw)), RULES)
    assert case is not None
    now = T0 + timedelta(hours=5)

    assessment = cases.assess(case, RULES, now)

    assert assessment._views is None
    assert assessment.views == cases.clocks(assessment.settled.case, RULES, now)
    assert assessment.views is assessment.views
    assert assessment.next_due_at == cases.next_due_at(assessment.settled.case, RULES, now)
