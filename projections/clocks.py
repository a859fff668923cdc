"""SLA clocks: a pure fold of events into start/pause/restart/stop instants, and a pure evaluation
of those instants at a given `now` (DOMAIN.md R2, R3, R5, R6, R8, R11, R12).

`track(sla, event, complaint, policy)` records instants from `occurred_at` (business time, so a
late event is judged by when it happened). `evaluate(...)` and `due_alerts(...)` take `now` as an
argument: live mode passes the wall clock, replay passes event time or `--as-of`, and the same
inputs give the same answer. Each restart opens a new period; an alert is due once per complaint,
clock, kind and level, at the first instant any period reached it. An alert raised earlier that is
no longer due (a late event changed the facts) is answered with a `retracted` alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from events.models import ComplaintEvent
from projections.complaint import ComplaintState
from projections.derived import worked_out
from projections.evolve import evolve, new_record
from projections.policy import ClockPolicy, Policy, Trigger
from projections.state import Alert as Alert
from projections.state import AlertKind as AlertKind
from projections.state import ClockRecord as ClockRecord
from projections.state import ClockView as ClockView
from projections.state import Period as Period
from projections.state import SlaState as SlaState
from projections.state import Status as Status
from projections.triggers import Where, holds


class WorkingDays(Protocol):
    def add_working_days(self, start: datetime, days: int) -> datetime: ...


def opened(policy: Policy) -> SlaState:
    """A new complaint is judged by the policy in force when it was received, for good."""
    return SlaState(policy_version=policy.version, clocks={}, notices={}, raised={})


def track(sla: SlaState, event: ComplaintEvent, complaint: ComplaintState, policy: Policy) -> SlaState:
    """Record the instants `event` means for each clock and the notices it makes due; `sla` itself
    when it means none (most events concern a clock or two of the policy)."""
    clocks = sla.clocks
    for concern in _concerns(policy).get(event.type, ()):
        only = concern.only_categories
        if only is not None and complaint.category not in only:
            continue
        before = clocks.get(concern.name)
        record = _step(concern, before, event)
        if record is not before and record is not None:
            if clocks is sla.clocks:
                clocks = dict(clocks)
            clocks[concern.name] = record
    notices = sla.notices
    for kind in _notices(complaint, policy):
        if kind not in notices:
            notices = {**notices, kind: event.occurred_at}
    if clocks is sla.clocks and notices is sla.notices:
        return sla
    return evolve(sla, clocks=clocks, notices=notices)


_When = Literal[True] | tuple[Where, ...]
"""Whether an event of one type moves a clock one way: `True` when a trigger names that type with no
condition on its data (every such event does), else the conditions of the triggers that name it,
one of which it must meet (an empty tuple: none ever does). Worked out once per policy, so the fold
looks at an event's data only where a condition asks it to, and never at a trigger's fields
through pydantic."""


class _Concern:
    """A clock's triggers of one event type, by what they do to it, and what `track` reads of the
    clock: its name, and the categories it is limited to. A plain class, which mypyc compiles to
    a struct read field by field (a named tuple's fields, and the policy's pydantic models, are
    read through Python's attribute lookup, six to eight times per event)."""

    def __init__(
        self, clock: ClockPolicy, start: _When, stop: _When, restart: _When, pause: _When, resume: _When
    ) -> None:
        self.name: str = clock.name
        self.only_categories: frozenset[str] | None = (
            None if clock.only_categories is None else frozenset(clock.only_categories)
        )
        self.start, self.stop, self.restart, self.pause, self.resume = start, stop, restart, pause, resume


def _concerns(policy: Policy) -> dict[str, list[_Concern]]:
    """event type → each clock (in policy order) with a trigger of that type, and those triggers:
    an event no trigger of a clock names cannot start, stop, pause, resume or restart it, and
    `track` looks at no other. Worked out once per policy object (`worked_out`)."""
    return worked_out(policy, _concerns_of)


def _concerns_of(policy: Policy) -> dict[str, list[_Concern]]:
    concerns: dict[str, list[_Concern]] = {}
    for clock in policy.clocks:
        actions = (clock.start, clock.stop, clock.restart, clock.pause, clock.resume)
        for kind in dict.fromkeys(trigger.event for triggers in actions for trigger in triggers):
            of_kind = (_when(tuple(trigger for trigger in triggers if trigger.event == kind)) for triggers in actions)
            concerns.setdefault(kind, []).append(_Concern(clock, *of_kind))
    return concerns


def _when(triggers: tuple[Trigger, ...]) -> _When:
    """`triggers` (all of one event type) as a `_When`."""
    return True if any(not trigger.where for trigger in triggers) else tuple(trigger.where for trigger in triggers)


def _step(concern: _Concern, record: ClockRecord | None, event: ComplaintEvent) -> ClockRecord | None:
    at = event.occurred_at
    if record is None:
        return _record((_started(at),)) if _met(concern.start, event) else None
    if record.stopped_at is not None:
        return record
    current = record.periods[-1]
    if _met(concern.stop, event):
        return _record((*record.periods[:-1], _ended(current, at)), stopped_at=at)
    if _met(concern.restart, event):
        return _record((*record.periods[:-1], _ended(current, at), _started(at)))
    if current.paused_at is None:
        if _met(concern.pause, event):
            return _record((*record.periods[:-1], evolve(current, paused_at=at)))
    elif _met(concern.resume, event):
        return _record((*record.periods[:-1], _resumed(current, at)))
    return record


def _started(at: datetime) -> Period:
    """`Period(started_at=at)`, through `new_record` (one or two records per clock an event moves)."""
    return new_record(Period, (at, 0.0, None, None))


def _record(periods: tuple[Period, ...], stopped_at: datetime | None = None) -> ClockRecord:
    """`ClockRecord(periods=periods, stopped_at=stopped_at)`, through `new_record`."""
    return new_record(ClockRecord, (periods, stopped_at))


def _ended(period: Period, at: datetime) -> Period:
    """A period that is paused when it ends stopped running when it paused: its running time (and
    so its thresholds, already judged while it ran) must not move by a pause it never came back from."""
    return evolve(period, ended_at=period.paused_at or at)


def _resumed(period: Period, at: datetime) -> Period:
    assert period.paused_at is not None
    paused = max(0.0, (at - period.paused_at).total_seconds())
    return evolve(period, paused_at=None, paused_seconds=period.paused_seconds + paused)


def _met(when: _When, event: ComplaintEvent) -> bool:
    if when is True:
        return True
    data = event.data.__dict__  # the data's fields, compared as they are written on the wire
    return any(holds(where, data) for where in when)


def _notices(complaint: ComplaintState, policy: Policy) -> list[str]:
    kinds = []
    if complaint.personal_injury or complaint.category == "personal_injury":
        kinds.append("personal_injury")
    if complaint.claim_amount > policy.major_claim_threshold:
        kinds.append("major_claim")
    if complaint.department_changes >= policy.buck_passing_department_changes:
        kinds.append("buck_passing")
    return kinds
