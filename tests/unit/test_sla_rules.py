"""DOMAIN.md's clock rules, case by case, with an injected `now` (issue 3's named cases)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.codec import decode_event
from projections import derived
from projections.clocks import SlaState, opened, track
from projections.complaint import ComplaintState, accept
from projections.policy import Policy, parse_policy
from projections.sla import Judge, changes, due_alerts, evaluate, next_due_at, record_raised
from tests.wire import T0, amended, assigned, inspected, minutes, paid, received, ruled

POLICY = parse_policy((Path(__file__).resolve().parents[2] / "projections/data/policy.toml").read_text())


def fold(*wire_events: dict[str, Any], policy: Policy = POLICY) -> tuple[ComplaintState, SlaState]:
    state, sla = None, opened(policy)
    for wire_event in wire_events:
        event = decode_event(orjson.dumps(wire_event))
        state = accept(state, event)
        sla = track(sla, event, state, policy)
    assert state is not None
    return state, sla


def clock(state: ComplaintState, sla: SlaState, name: str, now: datetime) -> Any:
    return {view.name: view for view in evaluate(sla, state, POLICY, now)}[name]


def kinds(state: ComplaintState, sla: SlaState, now: datetime) -> set[tuple[str, str | None, int]]:
    return {(alert.kind, alert.clock, alert.level) for alert in due_alerts(sla, state, POLICY, now)}


@pytest.mark.parametrize(("paid_after", "status"), [(50, "met"), (61, "breached")])
def test_a_small_claim_must_be_resolved_within_the_hour(paid_after: int, status: str) -> None:
    state, sla = fold(
        received("C-1", amount="300.00"),
        assigned("C-1", "客服中心", at=T0 + minutes(5)),
        ruled("C-1", amount="300.00", at=T0 + minutes(40)),
        paid("C-1", amount="300.00", at=T0 + minutes(paid_after)),
    )
    view = clock(state, sla, "resolution", T0 + timedelta(days=1))
    assert view.status == status
    assert view.deadline == T0 + minutes(60)
    assert view.remaining_seconds == (60 - paid_after) * 60
    assert (("breached", "resolution", 0) in kinds(state, sla, T0 + timedelta(days=1))) is (status == "breached")


def test_a_larger_claim_gets_three_days() -> None:
    state, sla = fold(received("C-2", amount="2000.00"))
    view = clock(state, sla, "resolution", T0 + timedelta(hours=2))
    assert view.deadline == T0 + timedelta(days=3) and view.status == "running"


def test_a_lab_report_restarts_the_full_three_days_from_the_report() -> None:
    now = T0 + timedelta(days=4)
    state, sla = fold(
        received("C-3", amount="5000.00"),
        assigned("C-3", "家电部", at=T0 + minutes(10)),
        inspected("C-3", "lab", "requested", at=now - timedelta(days=3.5)),
        inspected("C-3", "lab", "reported", at=now - timedelta(days=1)),
    )
    for name in ("ruling", "resolution"):
        view = clock(state, sla, name, now)
        assert view.status == "running", name
        assert view.remaining_seconds == pytest.approx(2 * 86400), name
    assert not {kind for kind in kinds(state, sla, now) if kind[0] == "breached"}


def test_a_lab_request_pauses_the_resolution_clock() -> None:
    state, sla = fold(
        received("C-4", amount="500.00"),
        assigned("C-4", "食品部", at=T0 + minutes(5)),
        inspected("C-4", "lab", "requested", at=T0 + minutes(20)),
    )
    view = clock(state, sla, "resolution", T0 + timedelta(days=2))
    assert view.status == "paused" and view.remaining_seconds == 40 * 60


def test_the_water_pump_case_breaches_escalates_and_flags_buck_passing() -> None:
    day = timedelta(days=1)
    state, sla = fold(
        received("C-5", department="维修部", amount="800.00"),
        assigned("C-5", "维修部", "师傅甲", at=T0 + minutes(20)),
        assigned("C-5", "工程部", "工程师乙", at=T0 + day),
        assigned("C-5", "销售部", "销售丙", at=T0 + 2 * day),
        assigned("C-5", "维修部", "师傅丁", at=T0 + 4 * day),
    )
    now = T0 + 5 * day
    assert state.owner_department == "维修部" and state.department_changes == 3
    assert clock(state, sla, "ruling", now).status == "breached"
    assert clock(state, sla, "ruling", now).escalation_level == 3
    due = kinds(state, sla, now)
    assert {("breached", "ruling", 0), ("escalated", "ruling", 1), ("escalated", "ruling", 2)} <= due
    assert ("buck_passing", None, 0) in due
    buck = next(a for a in due_alerts(sla, state, POLICY, now) if a.kind == "buck_passing")
    assert buck.due_at == T0 + 4 * day


def test_immediate_notices_for_injury_and_major_claims() -> None:
    state, sla = fold(received("C-6", amount="12000.00", personal_injury=True, category="personal_injury"))
    assert {("personal_injury", None, 0), ("major_claim", None, 0)} <= kinds(state, sla, T0)


def test_the_assignment_clock_warns_at_80_percent_then_breaches() -> None:
    state, sla = fold(received("C-7"))
    assert clock(state, sla, "assignment", T0 + minutes(23)).status == "running"
    assert clock(state, sla, "assignment", T0 + minutes(24)).status == "at_risk"
    assert clock(state, sla, "assignment", T0 + minutes(31)).status == "breached"
    assert next_due_at(sla, state, POLICY, T0) == T0 + minutes(24)


def test_alerts_are_raised_once_and_retracted_when_a_late_event_removes_them() -> None:
    state, sla = fold(received("C-8", amount="5000.00"), assigned("C-8", "家电部", at=T0 + minutes(5)))
    now = T0 + timedelta(days=3, hours=1)
    new, retracted = changes(sla, due_alerts(sla, state, POLICY, now))
    assert ("breached", "ruling") in {(a.kind, a.clock) for a in new} and not retracted
    sla = record_raised(sla, new, retracted)
    assert changes(sla, due_alerts(sla, state, POLICY, now)) == ([], [])

    late_request = inspected("C-8", "lab", "requested", at=T0 + timedelta(days=1))
    event = decode_event(orjson.dumps(late_request))
    state = accept(state, event)
    sla = track(sla, event, state, POLICY)
    new, retracted = changes(sla, due_alerts(sla, state, POLICY, now))
    assert "C-8:ruling:breached:0:retracted" in {a.alert_id for a in retracted}


def test_working_day_clocks_count_across_a_weekend_and_a_holiday() -> None:
    from projections.calendar import parse_calendar

    calendar = parse_calendar((Path(__file__).resolve().parents[2] / "projections/data/calendar-cn.toml").read_text())
    reported = T0.replace(year=2025, month=9, day=30, hour=10)  # Tuesday before the National Day holiday
    state, sla = fold(
        received("C-9", at=reported - minutes(60)),
        assigned("C-9", "服装部", at=reported - minutes(50)),
        inspected("C-9", "site", "reported", at=reported)
        | {"data": {"kind": "site", "status": "reported", "findings": "色牢度不合格", "liable_party": "manufacturer"}},
    )
    views = {view.name: view for view in evaluate(sla, state, POLICY, reported, calendar)}
    # 3 working days: Oct 1-8 are off, Sat Oct 11 is a 调休 working day → Oct 9, 10, 11.
    assert views["containment"].deadline == reported.replace(month=10, day=11)
    assert views["corrective"].deadline == reported.replace(month=10, day=21)


def test_a_claim_amended_above_2000_moves_resolution_to_three_days_from_the_original_start() -> None:
    state, sla = fold(
        received("C-7", amount="1500.00"),
        assigned("C-7", "家电部", at=T0 + minutes(5)),
        amended("C-7", "2600.00", at=T0 + minutes(40)),
    )
    view = clock(state, sla, "resolution", T0 + minutes(90))

    assert view.deadline == T0 + timedelta(days=3), "counted from receipt, not from the amendment"
    assert view.status == "running"
    assert ("breached", "resolution", 0) not in kinds(state, sla, T0 + minutes(90))


def test_a_claim_amended_below_2000_falls_back_to_the_hour_and_keeps_its_paused_time() -> None:
    state, sla = fold(
        received("C-8", amount="5000.00"),
        assigned("C-8", "家电部", at=T0 + minutes(5)),
        inspected("C-8", "site", "reported", at=T0 + minutes(10)),
        amended("C-8", "800.00", at=T0 + minutes(30)),
    )
    assert clock(state, sla, "resolution", T0 + minutes(45)).deadline == T0 + minutes(60)
    assert ("breached", "resolution", 0) in kinds(state, sla, T0 + minutes(61))


def test_an_amendment_during_a_lab_pause_keeps_the_pause() -> None:
    paused = fold(
        received("C-9", amount="1500.00"),
        assigned("C-9", "家电部", at=T0 + minutes(5)),
        inspected("C-9", "lab", "requested", at=T0 + minutes(20)),
    )
    amended_too = fold(
        received("C-9", amount="1500.00"),
        assigned("C-9", "家电部", at=T0 + minutes(5)),
        inspected("C-9", "lab", "requested", at=T0 + minutes(20)),
        amended("C-9", "2500.00", at=T0 + minutes(50)),
    )
    later = T0 + timedelta(hours=5)

    assert clock(*paused, "resolution", later).status == "paused"
    assert clock(*amended_too, "resolution", later).status == "paused"
    assert amended_too[1].clocks["resolution"] == paused[1].clocks["resolution"], "the amendment moves no instant"


def test_a_claim_amended_above_the_major_threshold_raises_the_major_claim_notice() -> None:
    state, sla = fold(received("C-10", amount="3000.00"), amended("C-10", "12000.00", at=T0 + minutes(15)))

    assert ("major_claim", None, 0) in kinds(state, sla, T0 + minutes(15))


def test_policies_loaded_again_and_again_are_each_followed_and_not_all_remembered() -> None:
    """A process that loads its rule book per request brings a new `Policy` every time: each
    tracks its clocks correctly and is judged correctly, and what the core works out per policy
    (the index `track` keeps, the clocks' thresholds) stays small."""
    text = (Path(__file__).resolve().parents[2] / "projections/data/policy.toml").read_text()
    for version in range(3 * derived._WORKED_OUT_KEPT):
        policy = parse_policy(text.replace('version = "2026-11-default"', f'version = "v{version}"'))

        state, sla = fold(received("C-9"), assigned("C-9", "维修部", at=T0 + minutes(10)), policy=policy)

        assert sla.policy_version == f"v{version}"
        assert sla.clocks["assignment"].stopped_at == T0 + minutes(10)
        assert set(sla.clocks) == {"assignment", "resolution", "ruling"}
        later = T0 + timedelta(days=2)
        assert [view.status for view in evaluate(sla, state, policy, later)] == ["met", "breached", "running"]
        assert due_alerts(sla, state, policy, later) == due_alerts(sla, state, POLICY, later)
    assert len(derived._WORKED_OUT) <= derived._WORKED_OUT_KEPT


def test_escalations_declared_out_of_time_order_are_judged_in_time_order() -> None:
    """A period's thresholds are walked in time order and the walk stops at the first not reached:
    a policy may declare its escalation steps in any order, and each is still raised when due."""
    text = (Path(__file__).resolve().parents[2] / "projections/data/policy.toml").read_text()
    shuffled = parse_policy(
        text.replace(
            'escalation = [{ level = 1, notify = "floor_supervisor", after = "0s" }]',
            'escalation = [{ level = 3, notify = "branch_company", after = "2h" }, '
            '{ level = 1, notify = "floor_supervisor", after = "0s" }, '
            '{ level = 2, notify = "store_manager", after = "1h" }]',
            1,  # the assignment clock's
        )
    )
    state, sla = fold(received("C-11"), policy=shuffled)
    deadline = T0 + minutes(30)

    thresholds = Judge(sla, state, shuffled, None).thresholds(shuffled.clock("assignment"), sla.clocks["assignment"], 0)
    assert [(t.kind, t.level, t.at) for t in thresholds] == [
        ("at_risk", 0, T0 + minutes(24)),
        ("breached", 0, deadline),
        ("escalated", 1, deadline),
        ("escalated", 2, deadline + timedelta(hours=1)),
        ("escalated", 3, deadline + timedelta(hours=2)),
    ]
    later = deadline + minutes(90)
    assignment = {(a.kind, a.level) for a in due_alerts(sla, state, shuffled, later) if a.clock == "assignment"}
    assert assignment == {("at_risk", 0), ("breached", 0), ("escalated", 1), ("escalated", 2)}
    assert {view.name: view.escalation_level for view in evaluate(sla, state, shuffled, later)}["assignment"] == 2
    assert next_due_at(sla, state, shuffled, later) == deadline + timedelta(hours=2)
