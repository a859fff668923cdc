"""An operator moves an open complaint to another SLA policy version (issue 3: "to open ones only
when an operator says so explicitly"): the `policy_adopted` event and `complaintflow adopt-policy`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from events.codec import decode_event
from events.errors import ImpossibleTransition, UnknownPolicyVersion
from projections import case as cases
from projections.calendar import parse_calendar
from projections.case import Case, Rulebook
from projections.policy import parse_policy
from services.adopt import adoption_events, open_complaints_not_on
from services.rules import SHIPPED_CALENDAR, SHIPPED_POLICY
from tests.wire import T0, assigned, followed_up, minutes, paid, received, ruled

SHIPPED = SHIPPED_POLICY.read_text(encoding="utf-8")
OLD = parse_policy(SHIPPED)
STRICTER = parse_policy(
    re.sub(r'(?m)^version = ".*"$', 'version = "2027-01-strict"', SHIPPED).replace(
        'budgets = [{ budget = "30m" }]', 'budgets = [{ budget = "10m" }]', 1
    )
)
CALENDAR = parse_calendar(SHIPPED_CALENDAR.read_text(encoding="utf-8"))
BEFORE = Rulebook(current=OLD, calendar=CALENDAR)
AFTER = Rulebook(current=STRICTER, earlier={OLD.version: OLD}, calendar=CALENDAR)


def adopted(complaint_id: str, version: str, *, at: datetime) -> dict[str, Any]:
    [event] = adoption_events([complaint_id], version, "board decision", actor="ops-li", at=at)
    return event


def fold(rules: Rulebook, *wire_events: dict[str, Any], case: Case | None = None) -> Case:
    for wire_event in wire_events:
        case = cases.accept_event(case, decode_event(orjson.dumps(wire_event)), rules)
    assert case is not None
    return case


def assignment(case: Case, rules: Rulebook, now: datetime) -> Any:
    return {view.name: view for view in cases.clocks(case, rules, now)}["assignment"]


def test_a_complaint_keeps_its_policy_when_a_new_one_is_deployed() -> None:
    case = fold(BEFORE, received("C-1"))

    assert case.sla.policy_version == OLD.version
    assert assignment(case, AFTER, T0 + minutes(15)).status == "running", "30 minutes under its own version"


def test_an_adopted_policy_judges_the_open_complaint_from_then_on() -> None:
    case = fold(BEFORE, received("C-1"))

    moved = fold(AFTER, adopted("C-1", STRICTER.version, at=T0 + minutes(5)), case=case)

    assert moved.sla.policy_version == STRICTER.version
    assert moved.complaint.stage == "received" and moved.complaint.version == 2
    view = assignment(moved, AFTER, T0 + minutes(15))
    assert view.status == "breached" and view.deadline == T0 + minutes(10), "counted from receipt, not adoption"
    assert moved.sla.clocks == case.sla.clocks, "the recorded instants stay"


def test_the_adoption_is_idempotent_and_its_event_ids_are_stable() -> None:
    case = fold(BEFORE, received("C-1"))
    event = adopted("C-1", STRICTER.version, at=T0 + minutes(5))
    moved = fold(AFTER, event, case=case)

    assert fold(AFTER, event, case=moved) is moved
    assert adopted("C-1", STRICTER.version, at=T0 + minutes(9))["event_id"] == event["event_id"]


def test_adopting_the_version_already_in_force_is_refused() -> None:
    case = fold(BEFORE, received("C-1"))

    with pytest.raises(ImpossibleTransition, match="already judged by policy"):
        fold(BEFORE, adopted("C-1", OLD.version, at=T0 + minutes(5)), case=case)


def test_a_version_the_workers_have_not_loaded_is_an_unknown_policy_version() -> None:
    case = fold(BEFORE, received("C-1"))

    with pytest.raises(UnknownPolicyVersion, match="2027-01-strict"):
        fold(BEFORE, adopted("C-1", STRICTER.version, at=T0 + minutes(5)), case=case)


def test_a_closed_complaint_keeps_the_verdicts_it_was_given() -> None:
    case = fold(
        BEFORE,
        received("C-1", amount="300.00"),
        assigned("C-1", "客服中心", at=T0 + minutes(5)),
        ruled("C-1", amount="300.00", at=T0 + minutes(20)),
        paid("C-1", amount="300.00", at=T0 + minutes(30)),
        followed_up("C-1", at=T0 + minutes(40)),
    )

    with pytest.raises(ImpossibleTransition, match="closed"):
        fold(AFTER, adopted("C-1", STRICTER.version, at=T0 + timedelta(days=1)), case=case)


def test_all_open_selects_open_complaints_on_another_version_in_order() -> None:
    states = {
        b"C-3": {"complaint_id": "C-3", "open": True, "policy_version": OLD.version},
        b"C-1": {"complaint_id": "C-1", "open": True, "policy_version": OLD.version},
        b"C-2": {"complaint_id": "C-2", "open": False, "policy_version": OLD.version},
        b"C-4": {"complaint_id": "C-4", "open": True, "policy_version": STRICTER.version},
    }

    assert open_complaints_not_on(states, STRICTER.version) == ["C-1", "C-3"]
