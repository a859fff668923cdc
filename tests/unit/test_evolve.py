"""The fold's cheap copy builds what `_replace` would: an equal record, the same table bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from conftest import assigned, fold, inspected, received, ruled

from projections.case import _case, dump_case, load_case
from projections.clocks import ClockRecord, Period, _record, _started
from projections.evolve import evolve, evolved
from projections.sla import _clock_alert, _notice, _retraction, _Threshold
from projections.state import Alert, Case, Membership
from projections.tally import membership
from services.rules import load_rulebook
from services.settings import Settings
from tests.folding import cases_of, dump_state, load_state

COPIES = {
    "keywords": lambda record, changes: evolve(record, **changes),
    "dict": evolved,  # the fold's own copy (`complaint.accept`)
}


@pytest.mark.parametrize("copy", COPIES.values(), ids=COPIES.keys())
def test_evolve_is_replace_with_the_changes(copy: Any) -> None:
    state = fold(received())

    changed = copy(state, {"handler": "li", "version": 2})

    assert changed == state._replace(handler="li", version=2)
    assert type(changed) is type(state)
    assert (state.handler, state.version) == (None, 1), "the original is left as it was"


@pytest.mark.parametrize("copy", COPIES.values(), ids=COPIES.keys())
def test_evolve_refuses_a_field_the_record_does_not_have(copy: Any) -> None:
    with pytest.raises(KeyError):
        copy(fold(received()), {"handlr": "li"})


def test_evolve_after_a_fold_round_trips_through_the_table() -> None:
    state = evolve(fold(received(), assigned(minute=5)), handler="wang")

    assert load_state(dump_state(state)) == state


def test_a_stored_record_reads_by_field_name_whatever_order_its_fields_come_in() -> None:
    """The reader builds each record from its validated fields in the record's order, however the
    table value lists them (every writer so far wrote them in order; a hand-edited or foreign one
    need not)."""
    case = cases_of(
        [received(), assigned(minute=5), inspected(kind="lab", status="requested", minute=9), ruled(minute=30)],
        load_rulebook(Settings()),
    )[-1]
    reordered = orjson.dumps(_reversed(orjson.loads(dump_case(case))))

    assert reordered != dump_case(case)
    assert load_case(reordered) == case


def _reversed(value: Any) -> Any:
    """`value` with the keys of every object in it in reverse order."""
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value


def test_the_records_the_fold_builds_by_position_are_those_built_by_name() -> None:
    """`_started`, `_record` (projections/clocks.py), `_case` (projections/case.py) and `membership`
    (projections/tally.py) build records from their fields in order, which is cheaper than a named
    tuple's own `__new__`: a field added to or moved in projections/state.py must fail here rather
    than shift a value into another."""
    started, stopped = datetime(2026, 12, 6, 10, tzinfo=UTC), datetime(2026, 12, 7, 9, tzinfo=UTC)
    period = Period(started_at=started)
    case = cases_of([received(), assigned(minute=5)], load_rulebook(Settings()))[-1]

    assert _started(started) == period and type(_started(started)) is Period
    assert _record((period,)) == ClockRecord(periods=(period,)) and type(_record((period,))) is ClockRecord
    assert _record((period,), stopped_at=stopped) == ClockRecord(periods=(period,), stopped_at=stopped)
    built = _case(case.complaint, case.sla, 7)
    assert built == Case(complaint=case.complaint, sla=case.sla, revision=7) and type(built) is Case
    state = case.complaint
    member = membership(state, state.department, version=3, standing="at_risk")
    assert type(member) is Membership
    assert member == Membership(
        department=state.department,
        complaint_id=state.complaint_id,
        version=3,
        handling=True,
        owned=state.owner_department == state.department,
        stage=state.stage,
        handler=state.handler,
        standing="at_risk",
        received_at=state.received_at,
    )


def test_the_alerts_the_settle_builds_by_position_are_those_built_by_name() -> None:
    """The settle builds each alert from its fields in order too (projections/sla.py)."""
    rules = load_rulebook(Settings())
    case = cases_of([received()], rules)[-1]
    state, policy = case.complaint, rules.policy(case.sla.policy_version)
    clock, due, deadline = policy.clocks[0], datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 10, tzinfo=UTC)

    escalated = _clock_alert(state, clock, _Threshold("escalated", 2, due, deadline, notify="the store manager"))
    notice = _notice(state, policy, "buck_passing", due)
    retraction = _retraction(f"{state.complaint_id}:{clock.name}:breached:0", due)

    assert [type(alert) for alert in (escalated, notice, retraction)] == [Alert, Alert, Alert]
    assert escalated == Alert(
        alert_id=f"{state.complaint_id}:{clock.name}:escalated:2",
        complaint_id=state.complaint_id,
        kind="escalated",
        clock=clock.name,
        level=2,
        deadline=deadline,
        due_at=due,
        reason=escalated.reason,
    )
    assert "report to the store manager (level 2)" in escalated.reason
    assert notice == Alert(
        alert_id=f"{state.complaint_id}:-:buck_passing:0",
        complaint_id=state.complaint_id,
        kind="buck_passing",
        clock=None,
        level=0,
        deadline=None,
        due_at=due,
        reason=notice.reason,
    )
    assert retraction == Alert(
        alert_id=f"{state.complaint_id}:{clock.name}:breached:0:retracted",
        complaint_id=state.complaint_id,
        kind="retracted",
        clock=clock.name,
        level=0,
        deadline=None,
        due_at=due,
        reason=retraction.reason,
    )


@pytest.mark.parametrize("kind", ["late", "retracted"])
def test_an_alert_of_a_kind_no_rule_makes_is_refused(kind: str) -> None:
    """A notice's kind is read back from the table: one that no rule makes is a bug to report, not
    an alert with another kind's reason."""
    rules = load_rulebook(Settings())
    case = cases_of([received()], rules)[-1]
    policy = rules.policy(case.sla.policy_version)
    due = datetime(2026, 12, 7, 9, tzinfo=UTC)

    with pytest.raises(ValueError, match="no notice of kind"):
        _notice(case.complaint, policy, kind, due)
    with pytest.raises(ValueError, match="no clock alert of kind"):
        _clock_alert(case.complaint, policy.clocks[0], _Threshold(kind, 0, due, due))
