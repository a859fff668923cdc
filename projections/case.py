"""A complaint as both the live worker and replay hold it: the state machine's state, the SLA
engine's instants, and a `revision` that counts every change (accepted events and raised alerts).

Two pure steps, the only two the services call:

- `accept_event(case, event, rules)` folds one event (the state machine, then the clocks);
- `settle(case, rules, now)` raises the alerts due at `now` and retracts those no longer due.

The live worker settles with the wall clock after every event and on every timer tick; replay
settles with event time or `--as-of`. Records (`to_record`, `alert_record`, `memberships`) are
pure functions of a case and a `now`, so live records and replayed ones compare byte for byte
once evaluated at the same instant (`evaluated_at` travels in every record).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from events.codec import isoformat
from events.errors import FromTheFuture, ImpossibleTransition, UnknownPolicyVersion
from events.models import ComplaintEvent, PolicyAdopted
from events.types import in_zone
from projections import complaint, sla
from projections.case_codec import case_json, plain_instant
from projections.clocks import ClockView, SlaState, WorkingDays, opened, track
from projections.evolve import evolve, new_record
from projections.policy import Policy
from projections.state import Alert, ComplaintState
from projections.state import Case as Case
from projections.state import Settled as Settled
from projections.workload import Membership, Standing, membership


@dataclass(frozen=True)
class Rulebook:
    """The policy in force for new complaints, every earlier version still judging older ones,
    and the working-day calendar. Built from files by the services; the core never reads files."""

    current: Policy
    earlier: Mapping[str, Policy] = field(default_factory=dict)
    calendar: WorkingDays | None = None
    max_clock_skew: timedelta = timedelta(minutes=5)
    """How far an event's `occurred_at` may lie past its publication time (channels' clocks drift)."""

    @property
    def versions(self) -> list[str]:
        """Every policy version loaded, sorted."""
        return sorted({self.current.version, *self.earlier})

    def policy(self, version: str, *, complaint_id: str | None = None) -> Policy:
        if version == self.current.version:
            return self.current
        if version in self.earlier:
            return self.earlier[version]
        raise UnknownPolicyVersion(
            f"a complaint is pinned to policy version {version!r}, which is not loaded (known: {self.versions}); "
            "put that policy file in the policy history directory (COMPLAINTFLOW_POLICY_HISTORY_DIR), "
            "restart the worker, then redrive",
            complaint_id=complaint_id,
        )


def accept_event(
    case: Case | None, event: ComplaintEvent, rules: Rulebook, *, published_at: datetime | None = None
) -> Case:
    """Fold one event. A repeat returns `case` itself; a bad event raises a `Rejection`.

    `published_at` is the message's timestamp in the log (not the wall clock: a replay must see
    the same instant): an event claiming to have happened later than that, beyond the allowed
    clock skew, is `FromTheFuture`, since its clocks would start in the future."""
    # In the event's zone: the log time is UTC, and across zones Python asks each zone for its offset.
    # The log time itself is moved, which the settle moves too (`in_zone` remembers the last move).
    if (
        published_at is not None
        and event.occurred_at > in_zone(published_at, event.occurred_at.tzinfo) + rules.max_clock_skew
    ):
        raise FromTheFuture(
            f"occurred_at {event.occurred_at.isoformat()} is more than {rules.max_clock_skew} after the event was "
            f"published ({published_at.isoformat()}): fix the channel's clock or the timestamp, then republish",
            complaint_id=event.complaint_id,
            event_id=event.event_id,
        )
    before = None if case is None else case.complaint
    after = complaint.accept(before, event)
    if case is not None and after is before:
        return case
    clocks = opened(rules.current) if case is None else case.sla
    if isinstance(event, PolicyAdopted):
        clocks = _repinned(clocks, event, rules)
    clocks = track(clocks, event, after, rules.policy(clocks.policy_version, complaint_id=after.complaint_id))
    return _case(after, clocks, 1 if case is None else case.revision + 1)


def _case(state: ComplaintState, clocks: SlaState, revision: int) -> Case:
    """`Case(complaint=state, sla=clocks, revision=revision)`, through `new_record` (one per event)."""
    return new_record(Case, (state, clocks, revision))


def _repinned(sla: SlaState, event: PolicyAdopted, rules: Rulebook) -> SlaState:
    """An operator's explicit choice to judge an open complaint by another (loaded) policy from now
    on. The instants already recorded stay; clocks the new policy adds start with their next
    trigger; alerts the new policy no longer makes due are retracted at the next settle."""
    wanted = event.data.policy_version
    if wanted == sla.policy_version:
        raise ImpossibleTransition(
            f"cannot apply 'policy_adopted' to complaint {event.complaint_id}: it is already judged by policy "
            f"{wanted!r}",
            complaint_id=event.complaint_id,
            event_id=event.event_id,
        )
    rules.policy(wanted, complaint_id=event.complaint_id)  # an unknown version is a rejection, for redrive
    return evolve(sla, policy_version=wanted)


def settle(case: Case, rules: Rulebook, now: datetime) -> Settled:
    """Raise what became due by `now`, retract what a late event made undue; each alert once."""
    return assess(case, rules, now).settled


class Assessment:
    """One step of the live worker at `now`: the settled case, its clocks, and when it next needs
    settling. Computed with one judge, so each clock's thresholds are worked out once. The clocks'
    views are worked out when first read: the worker reads them at every step (state record,
    standing), replay only at its horizon and for a watched complaint's timeline, and they were a
    fifth of its settles."""

    __slots__ = ("_judge", "_now", "_views", "next_due_at", "settled")

    def __init__(self, settled: Settled, judge: sla.Judge, now: datetime) -> None:
        self.settled = settled
        self.next_due_at: datetime | None = judge.next_due_at(now)
        self._judge, self._now = judge, now
        self._views: list[ClockView] | None = None

    @property
    def views(self) -> list[ClockView]:
        if self._views is None:
            self._views = self._judge.views(self._now)
        return self._views


def assess(case: Case, rules: Rulebook, now: datetime) -> Assessment:
    judge = _judge(case, rules)
    raised, retracted = judge.settle(now)
    settled = Settled(case, [], [])
    if raised or retracted:
        clocks = sla.record_raised(case.sla, raised, retracted)
        settled = Settled(evolve(case, sla=clocks, revision=case.revision + 1), raised, retracted)
    return Assessment(settled, judge, now)


def next_due_at(case: Case, rules: Rulebook, now: datetime) -> datetime | None:
    """When this case next needs settling with no event arriving (what the live timer indexes)."""
    return _judge(case, rules).next_due_at(now)


def clocks(case: Case, rules: Rulebook, now: datetime) -> list[ClockView]:
    return _judge(case, rules).views(now)


def _judge(case: Case, rules: Rulebook) -> sla.Judge:
    policy = rules.policy(case.sla.policy_version, complaint_id=case.complaint.complaint_id)
    return sla.Judge(case.sla, case.complaint, policy, rules.calendar)


def judged_alike(before: Case, after: Case) -> bool:
    """Whether the SLA judge (`_judge`) sees `after` as it sees `before`: the same SLA state (its
    clocks, notices and alerts raised; `track` returns it unchanged when an event means nothing to
    it) and the same claim and category, which choose a period's budget (`sla._marks`). Nothing
    else the judge reads can change with an event, so at any instant both are judged alike."""
    return (
        after.sla is before.sla
        and after.complaint.claim_amount == before.complaint.claim_amount
        and after.complaint.category == before.complaint.category
    )


def standing(case: Case, rules: Rulebook, now: datetime, views: list[ClockView] | None = None) -> Standing:
    """How an open complaint counts in its department's workload: breached if any clock is.
    `views` are the clocks already evaluated at `now`, if the caller has them."""
    statuses = {view.status for view in (clocks(case, rules, now) if views is None else views)}
    return "breached" if "breached" in statuses else "at_risk" if "at_risk" in statuses else "ok"


def memberships(
    case: Case, rules: Rulebook, now: datetime, departments: Iterable[str], views: list[ClockView] | None = None
) -> list[Membership]:
    current = standing(case, rules, now, views) if case.complaint.is_open else "ok"
    return [
        membership(case.complaint, department, version=case.revision, standing=current)
        for department in dict.fromkeys(departments)
    ]


def departments_touched(before: Case | None, after: Case) -> list[str]:
    """Departments whose workload a change may move: the owner, the handler now, the one before."""
    touched = [after.complaint.owner_department, after.complaint.department]
    return touched if before is None else [*touched, before.complaint.department]


def to_record(
    case: Case,
    rules: Rulebook,
    now: datetime,
    views: list[ClockView] | None = None,
    *,
    instant: Callable[[datetime], Any] = isoformat,
) -> dict[str, Any]:
    """The read model on `complaints.state`: the complaint, its clocks and alerts as of `now`.

    Its instants are ISO 8601 text (`isoformat`). A record about to be written by orjson can take
    `instant=codec.for_orjson` instead: the same JSON, with most instants left for orjson to write
    (~7 a record, ~3,000 machine instructions each through `isoformat`)."""
    views = clocks(case, rules, now) if views is None else views
    return {
        **complaint.to_record(case.complaint, instant),
        "policy_version": case.sla.policy_version,
        "clocks": [_clock_record(view, instant) for view in views],
        "escalation_level": max((view.escalation_level for view in views), default=0),
        "alerts": [_raised_record(alert_id, due_at, instant) for alert_id, due_at in _by_due_time(case.sla.raised)],
        "revision": case.revision,
        "evaluated_at": instant(now),
    }


def alert_record(alert: Alert, raised_at: datetime) -> dict[str, Any]:
    """An alert on `complaints.alerts`; everything but `raised_at` is the same in live and replay.
    Its fields in order, its instants as pydantic wrote them when an alert was a pydantic model
    (`plain_instant`: a zero offset as "Z"), and `raised_at` as `isoformat()`."""
    deadline = alert.deadline
    return {
        "alert_id": alert.alert_id,
        "complaint_id": alert.complaint_id,
        "kind": alert.kind,
        "clock": alert.clock,
        "level": alert.level,
        "deadline": None if deadline is None else plain_instant(deadline),
        "due_at": plain_instant(alert.due_at),
        "reason": alert.reason,
        "raised_at": isoformat(raised_at),
    }


def dump_case(case: Case) -> bytes:
    """Table codec: Faust tables keep bytes, never models. An object of each record's fields in
    order, as the table has held them since its first format (`projections/case_codec.py`)."""
    return case_json(case)


_STORED = TypeAdapter(Case)


def load_case(raw: bytes) -> Case:
    """The case `raw` holds, validated: the table is read back after crashes and from old
    changelogs, so anything else raises ValueError (pydantic's ValidationError): an unknown or
    missing field, a value of the wrong type, an impossible stage (`projections.evolve.stored`)."""
    return _STORED.validate_json(raw)


def _clock_record(view: ClockView, instant: Callable[[datetime], Any]) -> dict[str, Any]:
    return {
        "name": view.name,
        "status": view.status,
        "deadline": None if view.deadline is None else instant(view.deadline),
        "remaining_seconds": round(view.remaining_seconds, 3),
        "escalation_level": view.escalation_level,
    }


def _by_due_time(raised: dict[str, datetime]) -> list[tuple[str, datetime]]:
    return sorted(raised.items(), key=lambda item: (item[1], item[0]))


def _raised_record(alert_id: str, due_at: datetime, instant: Callable[[datetime], Any]) -> dict[str, Any]:
    _, clock, kind, level = alert_id.rsplit(":", 3)
    return {
        "alert_id": alert_id,
        "kind": kind,
        "clock": None if clock == "-" else clock,
        "level": int(level),
        "due_at": instant(due_at),
    }
