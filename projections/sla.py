"""Evaluate a complaint's clocks at `now`: statuses, deadlines, escalation, and the alerts due.

Pure: the same SLA state, complaint, policy and `now` always give the same views and alerts.
Thresholds of a period: at_risk at the warning ratio of its budget, breached at its deadline,
escalation level k at deadline + `after` of level k; a threshold counts once the period's running
time reached it (a pause or stop freezes the period, a restart opens a new one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from projections.clocks import Alert, ClockRecord, ClockView, Period, SlaState, Status, WorkingDays
from projections.complaint import ComplaintState
from projections.evolve import evolve
from projections.policy import ClockPolicy, Policy


class _Threshold(NamedTuple):  # a tuple: several per clock period, built at every step
    kind: str
    level: int
    at: datetime
    deadline: datetime
    notify: str | None = None


Due = dict[str, tuple[datetime, Callable[[], Alert]]]
"""alert_id → (due_at, how to build the alert)"""


def evaluate(
    sla: SlaState, complaint: ComplaintState, policy: Policy, now: datetime, calendar: WorkingDays | None = None
) -> list[ClockView]:
    """Every started clock as it stands at `now`, in policy order."""
    return Judge(sla, complaint, policy, calendar).views(now)


def due_alerts(
    sla: SlaState, complaint: ComplaintState, policy: Policy, now: datetime, calendar: WorkingDays | None = None
) -> list[Alert]:
    """Every alert due at `now`, each at the first instant it became due, sorted by (due_at, id)."""
    due = Judge(sla, complaint, policy, calendar).due(now)
    return [make() for _, (_, make) in sorted(due.items(), key=lambda item: (item[1][0], item[0]))]


def settle(
    sla: SlaState, complaint: ComplaintState, policy: Policy, now: datetime, calendar: WorkingDays | None = None
) -> tuple[list[Alert], list[Alert]]:
    """`changes(sla, due_alerts(...))`, building only the alerts that are new: the hot path."""
    return Judge(sla, complaint, policy, calendar).settle(now)


def next_due_at(
    sla: SlaState, complaint: ComplaintState, policy: Policy, now: datetime, calendar: WorkingDays | None = None
) -> datetime | None:
    """The next instant after `now` at which a running clock crosses a threshold: what a timer
    must index, so it never evaluates every clock every second."""
    return Judge(sla, complaint, policy, calendar).next_due_at(now)


def changes(sla: SlaState, due: list[Alert]) -> tuple[list[Alert], list[Alert]]:
    """(alerts to raise now, retractions of raised alerts that are no longer due)."""
    due_ids = {alert.alert_id for alert in due}
    new = [alert for alert in due if alert.alert_id not in sla.raised]
    retracted = [
        _retraction(alert_id, due_at) for alert_id, due_at in sorted(sla.raised.items()) if alert_id not in due_ids
    ]
    return new, retracted


RETRACTION_SUFFIX = ":retracted"


def retracted_alert_id(retraction_id: str) -> str | None:
    """The id of the alert a retraction withdraws; None if `retraction_id` is not a retraction's."""
    return retraction_id.removesuffix(RETRACTION_SUFFIX) if retraction_id.endswith(RETRACTION_SUFFIX) else None


def record_raised(sla: SlaState, new: list[Alert], retracted: list[Alert]) -> SlaState:
    """Remember what was raised (and forget what was retracted), so nothing is raised twice."""
    cancelled = {retracted_alert_id(r.alert_id) for r in retracted}
    raised = {alert_id: at for alert_id, at in sla.raised.items() if alert_id not in cancelled}
    raised.update({alert.alert_id: alert.due_at for alert in new})
    return evolve(sla, raised=raised)


class Judge:
    """A complaint's clocks under its policy, each period's thresholds computed once: one judge
    serves a whole step (settle, views, next due instant). Raising alerts changes nothing it
    computes, so it stays valid after `record_raised`."""

    def __init__(self, sla: SlaState, complaint: ComplaintState, policy: Policy, calendar: WorkingDays | None) -> None:
        self.sla, self.complaint, self.policy, self.calendar = sla, complaint, policy, calendar
        self._thresholds: dict[tuple[str, int], list[_Threshold]] = {}
        self._judged: tuple[datetime, Due, dict[str, int]] | None = None

    def started(self) -> list[tuple[ClockPolicy, ClockRecord]]:
        return [(clock, self.sla.clocks[clock.name]) for clock in self.policy.clocks if clock.name in self.sla.clocks]

    def thresholds(self, clock: ClockPolicy, record: ClockRecord, index: int) -> list[_Threshold]:
        key = (clock.name, index)
        if key not in self._thresholds:
            self._thresholds[key] = _thresholds(clock, record, index, self.complaint, self.calendar, self.policy)
        return self._thresholds[key]

    def view(self, clock: ClockPolicy, record: ClockRecord, now: datetime) -> ClockView:
        return _view(clock, record, now, self, self._judge(now)[1].get(clock.name, 0))

    def views(self, now: datetime) -> list[ClockView]:
        return [self.view(clock, record, now) for clock, record in self.started()]

    def settle(self, now: datetime) -> tuple[list[Alert], list[Alert]]:
        due = self.due(now)
        ordered = sorted(due.items(), key=lambda item: (item[1][0], item[0]))
        new = [make() for alert_id, (_, make) in ordered if alert_id not in self.sla.raised]
        retracted = [
            _retraction(alert_id, at) for alert_id, at in sorted(self.sla.raised.items()) if alert_id not in due
        ]
        return new, retracted

    def next_due_at(self, now: datetime) -> datetime | None:
        """The first instant after `now` at which something falls due: a threshold a period will
        still reach (running, or stopped or paused later than it: an event can be dated up to the
        allowed clock skew ahead of the wall clock), or a notice dated after `now`."""
        upcoming = [at for at in self.sla.notices.values() if at > now]
        for clock, record in self.started():
            for index, period in enumerate(record.periods):
                frozen = period.ended_at or period.paused_at
                if frozen is not None and frozen <= now:
                    continue  # ran its course before now: nothing of it can still fall due
                upcoming += [
                    t.at
                    for t in self.thresholds(clock, record, index)
                    if t.at > now and (frozen is None or t.at < frozen)
                ]
        return min(upcoming, default=None)

    def due(self, now: datetime) -> Due:
        """alert_id → (due_at, how to build the alert) for every alert due at `now`."""
        return self._judge(now)[0]

    def _judge(self, now: datetime) -> tuple[Due, dict[str, int]]:
        """Every threshold reached by `now`, once for a step's settle and views: the alerts due,
        and each clock's escalation level (the highest `escalated` threshold reached)."""
        if self._judged is not None and self._judged[0] == now:
            return self._judged[1], self._judged[2]
        due: Due = {}
        levels: dict[str, int] = {}
        complaint_id = self.complaint.complaint_id
        for clock, record in self.started():
            for index, period in enumerate(record.periods):
                cut, inclusive = _reach(period, now)
                for threshold in self.thresholds(clock, record, index):
                    if threshold.at <= cut if inclusive else threshold.at < cut:
                        alert_id = f"{complaint_id}:{clock.name}:{threshold.kind}:{threshold.level}"
                        if alert_id not in due or threshold.at < due[alert_id][0]:
                            due[alert_id] = (threshold.at, partial(_clock_alert, self.complaint, clock, threshold))
                        if threshold.kind == "escalated" and threshold.level > levels.get(clock.name, 0):
                            levels[clock.name] = threshold.level
        for kind, at in self.sla.notices.items():
            if at <= now:
                alert_id = f"{complaint_id}:-:{kind}:0"
                if alert_id not in due or at < due[alert_id][0]:
                    due[alert_id] = (at, partial(_notice, self.complaint, self.policy, kind, at))
        self._judged = (now, due, levels)
        return due, levels


def _view(clock: ClockPolicy, record: ClockRecord, now: datetime, judge: Judge, level: int) -> ClockView:
    at_risk, breached, *_ = judge.thresholds(clock, record, len(record.periods) - 1)
    deadline, current = breached.at, record.periods[-1]
    if record.stopped_at is not None:
        remaining = (deadline - (current.ended_at or record.stopped_at)).total_seconds()
        status: Status = "met" if remaining >= 0 else "breached"
    elif current.paused_at is not None:
        remaining, status = (deadline - current.paused_at).total_seconds(), "paused"
    else:
        remaining = (deadline - now).total_seconds()
        status = "breached" if remaining <= 0 else "at_risk" if now >= at_risk.at else "running"
    return ClockView(
        name=clock.name,
        status=status,
        deadline=None if status == "paused" else deadline,
        remaining_seconds=remaining,
        escalation_level=level,
    )


def _thresholds(
    clock: ClockPolicy,
    record: ClockRecord,
    index: int,
    complaint: ComplaintState,
    calendar: WorkingDays | None,
    policy: Policy,
) -> list[_Threshold]:
    period = record.periods[index]
    deadline = _deadline(clock, record, index, complaint, calendar)
    ratio = clock.warning_ratio or policy.warning_ratio
    warning_at = (
        period.started_at
        + timedelta(seconds=period.paused_seconds)
        + (deadline - period.started_at - timedelta(seconds=period.paused_seconds)) * ratio
    )
    return [
        _Threshold("at_risk", 0, warning_at, deadline),
        _Threshold("breached", 0, deadline, deadline),
        *_escalations(clock, deadline),
    ]


def _escalations(clock: ClockPolicy, deadline: datetime) -> list[_Threshold]:
    return [
        _Threshold("escalated", step.level, deadline + timedelta(seconds=step.after), deadline, step.notify)
        for step in clock.escalation
    ]


def _deadline(
    clock: ClockPolicy, record: ClockRecord, index: int, complaint: ComplaintState, calendar: WorkingDays | None
) -> datetime:
    period = record.periods[index]
    budget = clock.budget_for(complaint.claim_amount, complaint.category, restarted=index > 0)
    if clock.calendar == "working_days":
        if calendar is None:
            raise ValueError(f"clock {clock.name} counts working days: pass the working-day calendar")
        base = calendar.add_working_days(period.started_at, round(budget / 86400))
    else:
        base = period.started_at + timedelta(seconds=budget)
    return base + timedelta(seconds=period.paused_seconds)


def _reach(period: Period, now: datetime) -> tuple[datetime, bool]:
    """How far a period's running time reached by `now`, as (cut, inclusive): an instant `at` is
    reached if `at <= cut` when inclusive, `at < cut` otherwise. A running period reaches `at` at
    that very instant (a deadline that is now is breached); a period that ended or paused reaches
    it only if it ran past it: settling exactly at the deadline meets it, as the clock's status
    says (`met` when no time is left over, `breached` only beyond)."""
    frozen = period.ended_at or period.paused_at
    if frozen is not None and frozen <= now:
        return frozen, False
    return now, True


def _clock_alert(complaint: ComplaintState, clock: ClockPolicy, threshold: _Threshold) -> Alert:
    deadline = threshold.deadline.isoformat()
    reasons = {
        "at_risk": f"{clock.name} clock is at risk: most of its budget is used, deadline {deadline}",
        "breached": f"{clock.name} clock breached: its deadline {deadline} passed before it was settled",
        "escalated": (
            f"{clock.name} clock still not settled after its deadline {deadline}: "
            f"report to {threshold.notify} (level {threshold.level})"
        ),
    }
    return Alert(
        alert_id=f"{complaint.complaint_id}:{clock.name}:{threshold.kind}:{threshold.level}",
        complaint_id=complaint.complaint_id,
        kind=threshold.kind,
        clock=clock.name,
        level=threshold.level,
        deadline=threshold.deadline,
        due_at=threshold.at,
        reason=reasons[threshold.kind],
    )


def _notice(complaint: ComplaintState, policy: Policy, kind: str, at: datetime) -> Alert:
    changed, owner = complaint.department_changes, complaint.owner_department
    reasons = {
        "personal_injury": (
            "R6 personal injury: notify the duty manager and the relevant departments at once; report to the insurer"
        ),
        "major_claim": (
            f"R5 major claim: {complaint.claim_amount} CNY is above {policy.major_claim_threshold} CNY; "
            "report to senior management level by level"
        ),
        "buck_passing": f"R12 buck passing: the handling department changed {changed} times (owner {owner})",
    }
    return Alert(
        alert_id=f"{complaint.complaint_id}:-:{kind}:0",
        complaint_id=complaint.complaint_id,
        kind=kind,
        clock=None,
        level=0,
        deadline=None,
        due_at=at,
        reason=reasons[kind],
    )


def _retraction(alert_id: str, due_at: datetime) -> Alert:
    complaint_id, clock, kind, level = alert_id.rsplit(":", 3)
    return Alert(
        alert_id=f"{alert_id}{RETRACTION_SUFFIX}",
        complaint_id=complaint_id,
        kind="retracted",
        clock=None if clock == "-" else clock,
        level=int(level),
        deadline=None,
        due_at=due_at,
        reason=f"retracts {alert_id}: a late event shows the {kind} alert was not due after all",
    )
