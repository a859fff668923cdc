"""Evaluate a complaint's clocks at `now`: statuses, deadlines, escalation, and the alerts due.

Pure: the same SLA state, complaint, policy and `now` always give the same views and alerts.
Thresholds of a period: at_risk at the warning ratio of its budget, breached at its deadline,
escalation level k at deadline + `after` of level k; a threshold counts once the period's running
time reached it (a pause or stop freezes the period, a restart opens a new one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from typing import NamedTuple

from events.codec import isoformat
from events.types import in_zone
from projections.clocks import Alert, ClockRecord, ClockView, Period, SlaState, Status, WorkingDays
from projections.complaint import ComplaintState
from projections.derived import worked_out
from projections.evolve import evolve, new_record
from projections.policy import ClockPolicy, Policy, Tier


class _Threshold(NamedTuple):  # a tuple: several per clock period, built at every step
    kind: str
    level: int
    at: datetime
    deadline: datetime
    notify: str | None = None
    suffix: str = ""
    """`:{clock}:{kind}:{level}`: what follows the complaint id in the alert's id."""


class _Budget:
    """One of a clock's budgets as its plan holds it: when it applies (the claim below, or at
    least, an amount; the categories), its seconds, and those as a span and as the span its
    warning ratio allows (a `timedelta` times a float is the slowest part of a threshold). A plain
    class, which mypyc compiles into a struct."""

    def __init__(self, tier: Tier | None, seconds: float, ratio: float) -> None:
        self.claim_below = None if tier is None else tier.claim_below
        self.claim_at_least = None if tier is None else tier.claim_at_least
        self.categories = None if tier is None or tier.categories is None else frozenset(tier.categories)
        self.seconds = seconds
        self.span = timedelta(seconds=seconds)
        self.share = self.span * ratio

    def fits(self, claim: Decimal, category: str) -> bool:
        return (
            (self.claim_below is None or claim < self.claim_below)
            and (self.claim_at_least is None or claim >= self.claim_at_least)
            and (self.categories is None or category in self.categories)
        )


_Step = tuple[str, int, timedelta | None, str | None, str]
"""A threshold as a clock's plan sets it: (kind, level, how long after the deadline, or None for
the warning instant; who is told; id suffix)."""
_NO_DELAY = timedelta(0)


class _Plan:
    """A clock's thresholds as its policy sets them, worked out once per policy (`worked_out`):
    its warning ratio, its budgets, and its steps: at risk, breached, then the escalations by their
    delay after the deadline. So a period's thresholds come out in time order: at risk, breached (at
    or after it), then escalations. A plain class, as `_Budget`: the judge reads it, not the
    clock's pydantic model."""

    def __init__(self, clock: ClockPolicy, policy: Policy) -> None:
        steps = sorted(clock.escalation, key=lambda step: step.after)  # stable: equal delays keep their order
        self.clock = clock
        self.ratio: float = clock.warning_ratio or policy.warning_ratio
        self.working_days = clock.calendar == "working_days"
        self.budgets = tuple(_Budget(tier, tier.budget, self.ratio) for tier in clock.budgets)
        self.restart = None if clock.restart_budget is None else _Budget(None, clock.restart_budget, self.ratio)
        self.steps: tuple[_Step, ...] = (
            ("at_risk", 0, None, None, f":{clock.name}:at_risk:0"),
            ("breached", 0, _NO_DELAY, None, f":{clock.name}:breached:0"),
            *(
                ("escalated", step.level, _span(step.after), step.notify, f":{clock.name}:escalated:{step.level}")
                for step in steps
            ),
        )

    def budget(self, claim: Decimal, category: str, *, restarted: bool) -> _Budget:
        """The budget of a period, as `ClockPolicy` states the rule (tests/property/test_budgets.py)."""
        if restarted and self.restart is not None:
            return self.restart
        for budget in self.budgets:
            if budget.fits(claim, category):
                return budget
        return self.budgets[-1]


Due = dict[str, tuple[datetime, Callable[[], Alert]]]
"""alert_id → (due_at, how to build the alert)"""


class _Walk(NamedTuple):
    """One walk of a complaint's thresholds at an instant (`Judge._walk`): the instant as asked and
    as compared (in the complaint's zone), the alerts due, each clock's escalation level, the
    first instant after it something falls due, and each clock's current period's warning instant
    and deadline (what its view reads)."""

    asked: datetime
    local: datetime
    due: Due
    levels: dict[str, int]
    upcoming: datetime | None
    current: dict[str, tuple[datetime, datetime]]


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
    """A complaint's clocks under its policy: one judge serves a whole step (settle, views, next due
    instant), and one walk of the thresholds at an instant gives all three. Raising alerts changes
    nothing it computes, so it stays valid after `record_raised`."""

    def __init__(self, sla: SlaState, complaint: ComplaintState, policy: Policy, calendar: WorkingDays | None) -> None:
        self.sla, self.complaint, self.policy, self.calendar = sla, complaint, policy, calendar
        self._plans = worked_out(policy, _plans)
        clocks = sla.clocks
        self._planned = [(plan, clocks[name]) for name, plan in self._plans.items() if name in clocks]
        self._walked: _Walk | None = None

    def started(self) -> list[tuple[ClockPolicy, ClockRecord]]:
        return [(plan.clock, record) for plan, record in self._planned]

    def thresholds(self, clock: ClockPolicy, record: ClockRecord, index: int) -> list[_Threshold]:
        """A period's thresholds, in time order (the first two: at risk, breached): each instant
        the walk compares, as the walk works it out."""
        plan = self._plans[clock.name]
        warning_at, deadline = _marks(plan, record.periods[index], index, self.complaint, self.calendar)
        return [
            new_record(_Threshold, (kind, level, _instant(warning_at, deadline, after), deadline, notify, suffix))
            for kind, level, after, notify, suffix in plan.steps
        ]

    def views(self, now: datetime) -> list[ClockView]:
        walk = self._walk(now)
        local, levels = walk.local, walk.levels
        current = walk.current
        return [
            _view(plan.clock, record, local, current[plan.clock.name], levels.get(plan.clock.name, 0))
            for plan, record in self._planned
        ]

    def settle(self, now: datetime) -> tuple[list[Alert], list[Alert]]:
        due = self.due(now)
        raised = self.sla.raised
        fresh = sorted((at, alert_id, make) for alert_id, (at, make) in due.items() if alert_id not in raised)
        new = [make() for _, _, make in fresh]  # by (due_at, alert_id): ids are unique, so `make` is never compared
        retracted = [_retraction(alert_id, at) for alert_id, at in sorted(raised.items()) if alert_id not in due]
        return new, retracted

    def next_due_at(self, now: datetime) -> datetime | None:
        """The first instant after `now` at which something falls due: a threshold a period will
        still reach (running, or stopped or paused later than it: an event can be dated up to the
        allowed clock skew ahead of the wall clock), or a notice dated after `now`."""
        return self._walk(now).upcoming

    def due(self, now: datetime) -> Due:
        """alert_id → (due_at, how to build the alert) for every alert due at `now`."""
        return self._walk(now).due

    def _walk(self, now: datetime) -> _Walk:
        """Every threshold reached by `now`, once for a step's settle, views and next due instant:
        the alerts due, each clock's escalation level (the highest `escalated` threshold reached),
        and the first instant after `now` something falls due. A period's thresholds are in time
        order and reached up to an instant, so the walk of a period stops at the first one not
        reached: the next one it will reach, if it still runs then."""
        if self._walked is not None and self._walked.asked == now:
            return self._walked
        # `now` in the zone of the complaint's instants, compared ~15 times faster when both share a
        # zone object (`events.types.in_shared_zone`); only compared and subtracted, never written.
        asked, now = now, in_zone(now, self.complaint.received_at.tzinfo)
        due: Due = {}
        levels: dict[str, int] = {}
        upcoming: datetime | None = None
        current: dict[str, tuple[datetime, datetime]] = {}
        complaint, calendar = self.complaint, self.calendar
        complaint_id = complaint.complaint_id
        for kind, at in self.sla.notices.items():
            if at <= now:
                alert_id = f"{complaint_id}:-:{kind}:0"
                if alert_id not in due or at < due[alert_id][0]:
                    due[alert_id] = (at, partial(_notice, complaint, self.policy, kind, at))
            elif upcoming is None or at < upcoming:
                upcoming = at
        for plan, record in self._planned:
            clock = plan.clock
            last = len(record.periods) - 1
            for index, period in enumerate(record.periods):
                # How far its running time reached by `now`: a running period reaches an instant at
                # that very instant (a deadline that is now is breached); one that ended or paused
                # reached only what it ran past: settling exactly at the deadline meets it, as the
                # clock's status says (`met` when no time is left over, `breached` only beyond).
                frozen = period.ended_at or period.paused_at
                running = frozen is None or frozen > now
                cut = now if frozen is None or running else frozen
                marks = _marks(plan, period, index, complaint, calendar)
                if index == last:
                    current[clock.name] = marks
                warning_at, deadline = marks
                # Each threshold is worked out only if the one before it was reached: most walks
                # stop at a period's first or second.
                for kind, level, after, notify, suffix in plan.steps:
                    at = _instant(warning_at, deadline, after)
                    if not (at <= cut if running else at < cut):
                        if running and (frozen is None or at < frozen) and (upcoming is None or at < upcoming):
                            upcoming = at
                        break
                    alert_id = complaint_id + suffix
                    if alert_id not in due or at < due[alert_id][0]:
                        threshold = new_record(_Threshold, (kind, level, at, deadline, notify, suffix))
                        due[alert_id] = (at, partial(_clock_alert, complaint, clock, threshold))
                    if kind == "escalated" and level > levels.get(clock.name, 0):
                        levels[clock.name] = level
        self._walked = new_record(_Walk, (asked, now, due, levels, upcoming, current))
        return self._walked


def _view(
    clock: ClockPolicy, record: ClockRecord, now: datetime, marks: tuple[datetime, datetime], level: int
) -> ClockView:
    warning_at, deadline = marks
    current = record.periods[-1]
    if record.stopped_at is not None:
        remaining = (deadline - (current.ended_at or record.stopped_at)).total_seconds()
        status: Status = "met" if remaining >= 0 else "breached"
    elif current.paused_at is not None:
        remaining, status = (deadline - current.paused_at).total_seconds(), "paused"
    else:
        remaining = (deadline - now).total_seconds()
        status = "breached" if remaining <= 0 else "at_risk" if now >= warning_at else "running"
    return ClockView(
        name=clock.name,
        status=status,
        deadline=None if status == "paused" else deadline,
        remaining_seconds=remaining,
        escalation_level=level,
    )


def _marks(
    plan: _Plan, period: Period, index: int, complaint: ComplaintState, calendar: WorkingDays | None
) -> tuple[datetime, datetime]:
    """(warning instant, deadline) of a clock's period, from which every threshold of it follows:
    index 0 is the first period, a later one a restart."""
    budget = plan.budget(complaint.claim_amount, complaint.category, restarted=index > 0)
    paused = period.paused_seconds
    begun = period.started_at + _span(paused) if paused else period.started_at  # its running time's start
    if plan.working_days:
        deadline = _working_deadline(plan.clock, period, budget.seconds, calendar)
        return begun + (deadline - begun) * plan.ratio, deadline
    # deadline - begun is the budget, to the microsecond: its warning share is the same at every step
    return begun + budget.share, begun + budget.span


def _instant(warning_at: datetime, deadline: datetime, after: timedelta | None) -> datetime:
    """When a step of a period's plan falls: the warning instant, or this long after the deadline."""
    if after is None:
        return warning_at
    return deadline + after if after else deadline


def _plans(policy: Policy) -> dict[str, _Plan]:
    """Each of the policy's clocks by name (unique in a policy: `parse_policy`) → its `_Plan`, in the
    policy's order."""
    return {clock.name: _Plan(clock, policy) for clock in policy.clocks}


@lru_cache(maxsize=256)
def _span(seconds: float) -> timedelta:
    """`timedelta(seconds=seconds)`, for the values that recur (paused times, escalation delays)."""
    return timedelta(seconds=seconds)


def _working_deadline(clock: ClockPolicy, period: Period, budget: float, calendar: WorkingDays | None) -> datetime:
    if calendar is None:
        raise ValueError(f"clock {clock.name} counts working days: pass the working-day calendar")
    return calendar.add_working_days(period.started_at, round(budget / 86400)) + _span(period.paused_seconds)


def _clock_alert(complaint: ComplaintState, clock: ClockPolicy, threshold: _Threshold) -> Alert:
    deadline = isoformat(threshold.deadline)  # the same text, written by orjson where it can
    kind, name = threshold.kind, clock.name
    if kind == "at_risk":
        reason = f"{name} clock is at risk: most of its budget is used, deadline {deadline}"
    elif kind == "breached":
        reason = f"{name} clock breached: its deadline {deadline} passed before it was settled"
    elif kind == "escalated":
        reason = (
            f"{name} clock still not settled after its deadline {deadline}: "
            f"report to {threshold.notify} (level {threshold.level})"
        )
    else:
        raise ValueError(f"no clock alert of kind {kind!r}")
    alert_id = f"{complaint.complaint_id}:{name}:{kind}:{threshold.level}"
    return new_record(
        Alert, (alert_id, complaint.complaint_id, kind, name, threshold.level, threshold.deadline, threshold.at, reason)
    )


def _notice(complaint: ComplaintState, policy: Policy, kind: str, at: datetime) -> Alert:
    if kind == "personal_injury":
        reason = (
            "R6 personal injury: notify the duty manager and the relevant departments at once; report to the insurer"
        )
    elif kind == "major_claim":
        reason = (
            f"R5 major claim: {complaint.claim_amount} CNY is above {policy.major_claim_threshold} CNY; "
            "report to senior management level by level"
        )
    elif kind == "buck_passing":
        changed, owner = complaint.department_changes, complaint.owner_department
        reason = f"R12 buck passing: the handling department changed {changed} times (owner {owner})"
    else:  # a notice's kind is read from the table: one no rule makes is a bug, as before
        raise ValueError(f"no notice of kind {kind!r}")
    alert_id = f"{complaint.complaint_id}:-:{kind}:0"
    return new_record(Alert, (alert_id, complaint.complaint_id, kind, None, 0, None, at, reason))


def _retraction(alert_id: str, due_at: datetime) -> Alert:
    complaint_id, clock, kind, level = alert_id.rsplit(":", 3)
    reason = f"retracts {alert_id}: a late event shows the {kind} alert was not due after all"
    retraction_id, clock_name = f"{alert_id}{RETRACTION_SUFFIX}", None if clock == "-" else clock
    return new_record(Alert, (retraction_id, complaint_id, "retracted", clock_name, int(level), None, due_at, reason))
