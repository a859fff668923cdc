"""verify's comparison: every differing leaf named by its path, list items matched by identity,
`revision` left out, and a replayed record equal to what the live worker publishes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from events.codec import decode_keyed_event
from projections import case as cases
from projections.case import Case
from projections.history import History, Horizon, Horizons
from services.verify import ABSENT, Difference, VerifyReport, compare, differences
from tests.unit.test_replay import RULES, logged
from tests.wire import T0, assigned, minutes, received


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "complaint_id": "C-1",
        "stage": "assigned",
        "clocks": [
            {"name": "assignment", "status": "met", "remaining_seconds": 1500.0},
            {"name": "resolution", "status": "running", "remaining_seconds": 3300.0},
        ],
        "alerts": [{"alert_id": "C-1:-:major_claim:0", "due_at": "2026-11-22T09:00:00+08:00"}],
        "customer": {"name": "张三", "phone": "138****5678"},
        "revision": 3,
    }
    return {**base, **changes}


def test_equal_records_have_no_differences() -> None:
    assert differences(record(), record()) == []


def test_a_changed_field_is_named_with_both_values() -> None:
    assert differences(record(stage="paid"), record()) == [("stage", "paid", "assigned")]
    assert differences(record(customer={"name": "李四", "phone": "138****5678"}), record()) == [
        ("customer.name", "李四", "张三")
    ]


def test_clocks_are_matched_by_name_and_alerts_by_id() -> None:
    live = record()
    live["clocks"] = [live["clocks"][1] | {"status": "breached"}, live["clocks"][0]]  # order does not matter
    live["alerts"] = []

    assert differences(live, record()) == [
        ("clocks[resolution].status", "breached", "running"),
        ("alerts[C-1:-:major_claim:0]", ABSENT, record()["alerts"][0]),
    ]


def test_lists_of_plain_values_compare_whole() -> None:
    assert differences({"departments": ["a", "b"]}, {"departments": ["b", "a"]}) == [
        ("departments", ["a", "b"], ["b", "a"])
    ]


def test_a_missing_field_is_absent_on_one_side() -> None:
    live = record()
    del live["customer"]

    assert differences(live, record()) == [("customer", ABSENT, record()["customer"])]


def test_revision_is_not_compared_and_values_are_compared_as_json() -> None:
    replayed = record(revision=5, clocks=tuple(record()["clocks"]))

    assert compare("complaint C-1", record(), replayed) == []
    assert compare("complaint C-1", record(stage="ruled"), replayed) == [
        Difference("complaint C-1", "stage", "ruled", "assigned")
    ]


def test_a_difference_reads_as_subject_field_live_and_replayed_values() -> None:
    difference = Difference("complaint C-1", "clocks[resolution].status", "breached", ABSENT)

    assert difference.describe() == 'complaint C-1  clocks[resolution].status: live "breached", replayed (absent)'


def test_the_summary_says_what_was_checked() -> None:
    clean = VerifyReport(complaints=3, departments=2, events=12)
    drifted = VerifyReport(differences=[Difference("complaint C-1", "stage", "a", "b")], complaints=3, events=12)

    assert clean.summary() == "no drift: 3 complaints (12 events) and 2 departments checked"
    assert drifted.summary().startswith("drift: 1 differences in 1 records;")


def test_a_replayed_record_equals_what_the_live_worker_published_at_the_same_instant() -> None:
    """The live worker: settle after each event at its processing time, and at each due instant."""
    events = [received("C-1", amount="300.00"), assigned("C-1", "客服中心", at=T0 + minutes(5))]
    evaluated_at = T0 + timedelta(hours=2, seconds=0.25)
    live = live_record(events, [T0 + minutes(48), T0 + minutes(60)], evaluated_at)

    history = History(RULES, Horizons(Horizon(evaluated_at, version=live["version"])))
    for entry in logged(*events):
        history.feed(entry)

    assert orjson.loads(orjson.dumps(history.record("C-1"))) == live


def live_record(events: list[dict[str, Any]], ticks: list[datetime], evaluated_at: datetime) -> dict[str, Any]:
    case: Case | None = None
    for raw in events:
        event = decode_keyed_event(raw["complaint_id"].encode(), orjson.dumps(raw))
        case = cases.settle(cases.accept_event(case, event, RULES), RULES, event.occurred_at).case
    assert case is not None
    for tick in ticks:
        case = cases.settle(case, RULES, tick).case
    case = cases.settle(case, RULES, evaluated_at).case
    result: dict[str, Any] = orjson.loads(orjson.dumps(cases.to_record(case, RULES, evaluated_at)))
    return result
