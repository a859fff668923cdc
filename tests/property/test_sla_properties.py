"""Properties of the SLA engine (projections/case.py, sla.py, clocks.py) over generated valid histories,
under the shipped policy and working-day calendar: what the live worker, its timer and a replay rely on.

Everything here is pure: `now` is an argument, so each property picks its instants. Histories come
from `sla_strategies.sla_histories` (the lifecycle walk of `strategies.histories`, moved into the
calendar's years, with claims and findings that give every clock something to do).

Three properties found bugs in the SLA engine as of 2f3686a; each keeps its minimal counterexample
as an `@example`, run first every time (the test docstrings say what failed):
- `test_live_and_replayed_alerts_agree_on_when_each_fell_due`: due times moved after a lab report;
- `test_next_due_at_is_honest_when_a_channel_clock_runs_ahead`: notices and clocks frozen after
  `now` that the timer never woke for;
- `test_a_clock_is_breached_exactly_when_its_breach_alert_is_due`: a clock `met` exactly at its
  deadline, with its breach alert raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st
from sla_strategies import LiveRun, LoggedRun, Step, live_runs, logged_runs, sla_histories
from strategies import with_duplicates

from events.codec import decode_event, for_orjson
from events.errors import Rejection
from events.models import ComplaintEvent
from projections.calendar import parse_calendar
from projections.case import (
    Case,
    Rulebook,
    accept_event,
    alert_record,
    assess,
    clocks,
    dump_case,
    load_case,
    next_due_at,
    settle,
    to_record,
)
from projections.clocks import ClockView
from projections.history import History, Horizon, Horizons, LoggedEvent
from projections.policy import parse_policy
from projections.sla import Judge
from tests.wire import T0, amended, assigned, inspected, minutes, paid, received, ruled

DATA = Path(__file__).resolve().parents[2] / "projections" / "data"
RULES = Rulebook(
    current=parse_policy((DATA / "policy.toml").read_text(encoding="utf-8")),
    calendar=parse_calendar((DATA / "calendar-cn.toml").read_text(encoding="utf-8")),
)
PAUSED_BY_A_LAB = ("resolution", "ruling")
"""The clocks the shipped policy pauses on a lab request and restarts (full 3 days) on its report."""

SLA = settings(max_examples=80, deadline=None)

Events = tuple[dict[str, Any], ...]
histories = sla_histories().map(lambda history: history.events)
fractions = st.integers(0, 1000).map(lambda permille: permille / 1000)
instants = st.integers(-86400, 12 * 86400).map(lambda seconds: timedelta(seconds=seconds))
"""Where `now` falls, from a day before a history's last event to 12 days after it."""


def decode(document: dict[str, Any]) -> ComplaintEvent:
    return decode_event(orjson.dumps(document))


def occurred(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["occurred_at"])


def fold(documents: Iterable[dict[str, Any]]) -> list[Case]:
    """The case after each document, as the worker folds them: a rejected event changes nothing
    (the histories are valid, but the core's rules may grow stricter than the strategy's model)."""
    case: Case | None = None
    cases: list[Case] = []
    for document in documents:
        with suppress(Rejection):
            case = accept_event(case, decode(document), RULES)
        assert case is not None, "a history starts with its `received`"
        cases.append(case)
    return cases


def folded(documents: Sequence[dict[str, Any]]) -> Case:
    return fold(documents)[-1]


def by_name(views: list[ClockView]) -> dict[str, ClockView]:
    return {view.name: view for view in views}


def within(start: datetime, end: datetime, fraction: float) -> datetime:
    return start + (end - start) * fraction


# --- 1. pausing never shortens a deadline ---------------------------------------------------


def lab(complaint_id: str, status: str, at: datetime) -> dict[str, Any]:
    """A lab inspection that blames nobody: it pauses or restarts clocks and starts none (a report
    blaming the merchant or manufacturer would start the R8 clocks: new facts, not a pause)."""
    return {
        "event_id": f"{complaint_id}/lab-{status}",
        "complaint_id": complaint_id,
        "occurred_at": at.isoformat(),
        "source": "counter",
        "actor": "lab-desk",
        "schema_version": 1,
        "type": "inspected",
        "data": {"kind": "lab", "status": status, "findings": "", "liable_party": "undetermined"},
    }


def assert_no_deadline_earlier(with_lab: Case, without: Case, now: datetime, *, reported: bool) -> None:
    late, early = by_name(clocks(with_lab, RULES, now)), by_name(clocks(without, RULES, now))
    assert late.keys() == early.keys(), "a lab inspection blaming nobody starts no clock"
    for name, view in late.items():
        before = early[name].deadline
        if view.deadline is not None and before is not None:
            assert view.deadline >= before, f"{name}: {view.deadline} is earlier than {before} without the lab"
            event(f"{name}: {'moved' if view.deadline > before else 'kept'}")
        elif reported:
            assert view.deadline is not None or before is None, f"{name} is still paused after the lab report"


def may_wait_for_a_lab(document: dict[str, Any]) -> bool:
    """What may happen while a lab inspection is pending: reassignment, a site visit."""
    kind: str = document["type"]
    return kind == "assigned" or (kind == "inspected" and document["data"]["kind"] == "site")


@SLA
@given(events=histories, data=st.data())
def test_a_lab_inspection_never_brings_a_deadline_forward(events: Events, data: st.DataObject) -> None:
    """Inserting a lab inspection (requested, then maybe reported) into a history never makes any
    clock's deadline earlier, evaluated at any `now`.

    Why it holds under the shipped policy, and why it is not "the deadline moves by the pause": a
    lab request pauses resolution and ruling (no deadline while paused), and its report does not
    resume them, it *restarts* them with the full 3 days from the report (`restart_budget`). That
    new deadline, report + 3 days, is never before the old one, received + at most 3 days (plus
    earlier pauses, which a restart ends too). So the deadline may move by much more than the
    pause (a 1-hour small claim gets 3 days), never back. Clocks the lab does not touch
    (assignment, advance payment, follow-up, the R8 clocks) must not move at all, since every
    original event keeps its time; the inserted report blames nobody, so it starts no R8 clock.

    The request goes where a lab may be asked for (assigned or inspecting, none pending); its report
    comes before the next ruling or lab inspection of the history (reassignments and site visits may
    happen in between), or, when nothing but those follows, possibly never: the clocks then stay
    paused (no deadline to compare), so the report is also added at the end and compared then."""
    documents, complaint_id = list(events), events[0]["complaint_id"]
    cases = fold(documents)
    askable = [
        index
        for index, case in enumerate(cases)
        if case.complaint.stage in ("assigned", "inspecting") and not case.complaint.lab_inspection_pending
    ]
    assume(askable)
    asked = data.draw(st.sampled_from(askable), label="lab requested after event #")
    meanwhile = asked
    while meanwhile + 1 < len(documents) and may_wait_for_a_lab(documents[meanwhile + 1]):
        meanwhile += 1
    answered = data.draw(st.integers(asked, meanwhile), label="lab reported after event #")
    last = len(documents) - 1
    limit = occurred(documents[-1]) + timedelta(days=4)

    def next_instant(index: int) -> datetime:
        return occurred(documents[index + 1]) if index < last else limit

    requested_at = within(occurred(documents[asked]), next_instant(asked), data.draw(fractions, label="request"))
    report_from = max(requested_at, occurred(documents[answered]))
    reported_at = within(report_from, next_instant(answered), data.draw(fractions, label="report"))
    request, report = lab(complaint_id, "requested", requested_at), lab(complaint_id, "reported", reported_at)
    now = occurred(documents[-1]) + data.draw(instants, label="now - last event")
    without = cases[-1]

    if answered == last and data.draw(st.booleans(), label="report still pending"):
        pending = folded([*documents[: asked + 1], request, *documents[asked + 1 :]])
        assert set(pending.complaint.applied) == {*without.complaint.applied, request["event_id"]}
        assert_no_deadline_earlier(pending, without, now, reported=False)
        for name in PAUSED_BY_A_LAB:
            record = pending.sla.clocks.get(name)
            if record is not None and record.stopped_at is None:
                assert by_name(clocks(pending, RULES, now))[name].status == "paused"

    with_lab = folded(
        [*documents[: asked + 1], request, *documents[asked + 1 : answered + 1], report, *documents[answered + 1 :]]
    )
    assert set(with_lab.complaint.applied) == {*without.complaint.applied, request["event_id"], report["event_id"]}
    assert_no_deadline_earlier(with_lab, without, now, reported=True)


# --- 2. the live worker raises each alert once ----------------------------------------------


class LiveWorker:
    """The complaint agent's pure steps for one complaint: accept an event (a repeat gives the same
    case), then settle at the wall clock, after every step, ticks included; and what it emitted."""

    def __init__(self) -> None:
        self.case: Case | None = None
        self.now = datetime.min.replace(tzinfo=UTC)
        self.delivered: list[ComplaintEvent] = []
        self.outstanding: dict[str, datetime] = {}
        """alert_id → due_at of every alert emitted and not retracted since, as a consumer sees them."""

    def deliver(self, event: ComplaintEvent, step: Step) -> None:
        self.now = max(self.now + step.wait, event.occurred_at)
        published_at = {"unknown": None, "when_it_occurred": event.occurred_at, "when_consumed": self.now}
        self.delivered.append(event)
        try:
            self.case = accept_event(self.case, event, RULES, published_at=published_at[step.published])
        except Rejection:
            return
        self.settle()

    def tick(self, step: Step) -> None:
        assert self.case is not None, "no tick before the first event"
        due = next_due_at(self.case, RULES, self.now) if step.kind == "timer" else None
        self.now = max(self.now + step.wait, due or self.now)
        self.settle()

    def settle(self) -> None:
        assert self.case is not None
        case, raised, retracted = settle(self.case, RULES, self.now)
        for retraction in retracted:
            alert_id = retraction.alert_id.removesuffix(":retracted")
            assert retraction.alert_id == f"{alert_id}:retracted" and retraction.kind == "retracted"
            assert alert_id in self.outstanding, f"{retraction.alert_id} retracts an alert that is not outstanding"
            del self.outstanding[alert_id]
            event("retracted")
        for alert in raised:
            assert alert.alert_id not in self.outstanding, f"{alert.alert_id} raised twice with no retraction between"
            assert alert.due_at <= self.now, f"{alert.alert_id} raised at {self.now}, before its due time"
            self.outstanding[alert.alert_id] = alert.due_at
        assert case.sla.raised == self.outstanding, "the case remembers exactly what it emitted"
        self.case = case


def run_live(run: LiveRun) -> LiveWorker:
    events = [decode(document) for document in run.events]
    worker = LiveWorker()
    upcoming = iter(events)
    for step in run.steps:
        if step.kind == "event":
            worker.deliver(next(upcoming), step)
        elif step.kind == "redelivery":
            worker.deliver(worker.delivered[step.pick % len(worker.delivered)], step)
        else:
            worker.tick(step)
    worker.tick(Step("tick", run.final_wait))
    return worker


@SLA
@given(run=live_runs())
def test_live_alerts_are_raised_once_whatever_the_ticks_and_redeliveries(run: LiveRun) -> None:
    """The live worker settles after every event (late ones, repeats) and on every timer tick,
    against a wall clock that only moves forward. Whatever the order of those steps:

    - no alert is raised twice for the same complaint, clock, kind and level, unless it was
      retracted in between (a late event showed it was not due: it may become due again);
    - a retraction names an alert that was raised and not retracted since;
    - live == replay: what is outstanding at the end (raised and not retracted) is exactly what one
      settle of the fully folded case at the final `now` raises, and the cases agree on everything
      but the revision (which also counts the live settles). Consumers deduplicate on alert ids and
      `complaintflow replay` must tell the same story as the alerts the worker emitted.
    """
    worker = run_live(run)

    assert worker.case is not None
    replayed = folded(run.events)
    assert (worker.case.complaint, worker.case.sla.clocks, worker.case.sla.notices) == (
        replayed.complaint,
        replayed.sla.clocks,
        replayed.sla.notices,
    )
    once = settle(replayed, RULES, worker.now)
    assert not once.retracted
    assert {alert.alert_id for alert in once.raised} == set(worker.outstanding)


def lab_pause_run() -> LiveRun:
    """A 300 CNY claim (1 hour to resolve) at risk after 48 minutes; a lab is asked for at minute 50
    and reports after 5 hours; the worker settles after each event as it arrives."""
    start = T0 + timedelta(days=-300)  # 2026-01-26, inside the calendar's years
    events = (
        received("C-1", amount="300.00", at=start),
        assigned("C-1", "repair", at=start + minutes(5)),
        inspected("C-1", "lab", "requested", at=start + minutes(50)),
        inspected("C-1", "lab", "reported", at=start + minutes(300)),
    )
    return LiveRun(events, tuple(Step("event") for _ in events), timedelta(0))


@SLA
@example(run=lab_pause_run())
@given(run=live_runs())
def test_live_and_replayed_alerts_agree_on_when_each_fell_due(run: LiveRun) -> None:
    """Beyond their ids, the outstanding alerts' `due_at` (published on `complaints.alerts` and in the
    state record's `alerts`) must be what a replay computes: the first instant each became due.
    Later events never change when an earlier threshold was reached: they happen after it.

    The example failed at 2f3686a: a period that ended paused (the lab report restarts the clock)
    added its whole pause to every threshold, even those reached before the pause, so a fresh
    evaluation moved the at_risk alert raised at minute 48 (deadline minute 60) to minute 298,
    with a deadline (minute 310) the clock never had."""
    worker = run_live(run)

    once = settle(folded(run.events), RULES, worker.now)
    assert {alert.alert_id: alert.due_at for alert in once.raised} == worker.outstanding


def timed_log(run: LoggedRun) -> tuple[list[LoggedEvent], datetime]:
    """The run's events as log entries (log times in milliseconds, never going back), and the
    replay's horizon."""
    entries: list[LoggedEvent] = []
    logged_at = 0
    for offset, (document, delay) in enumerate(zip(run.events, run.delays, strict=True)):
        logged_at = max(logged_at, int((occurred(document) + delay).timestamp() * 1000))
        key = document["complaint_id"].encode()
        entries.append(LoggedEvent(0, offset, logged_at, key, orjson.dumps(document)))
    last = entries[-1].published_at
    assert last is not None
    return entries, last + run.final_wait


def never_stopped(entries: list[LoggedEvent], horizon: datetime) -> bytes:
    """The state record of a live worker that never stopped, at `horizon`: it settles the complaint
    at every instant its timer indexes (`next_due_at`) and after every event, at the event's log
    time, until the horizon."""
    case: Case | None = None
    due: datetime | None = None

    def settled(case: Case, now: datetime) -> tuple[Case, datetime | None]:
        step = assess(case, RULES, now)
        return step.settled.case, step.next_due_at

    for entry in entries:
        seen = entry.published_at
        assert seen is not None
        while case is not None and due is not None and due <= seen:
            case, due = settled(case, due)
        try:
            folded_in = accept_event(case, decode(orjson.loads(entry.value)), RULES, published_at=seen)
        except Rejection:
            continue
        case, due = settled(folded_in, seen)
    assert case is not None, "a history starts with its `received`"
    while due is not None and due <= horizon:
        case, due = settled(case, due)
    step = assess(case, RULES, horizon)
    return orjson.dumps(to_record(step.settled.case, RULES, horizon, step.views))


def amended_after_the_warning() -> LoggedRun:
    """A 300 CNY claim (1 hour to resolve, at risk after 48 minutes) amended to 5,000 CNY (3 days)
    at minute 50: the amendment moves no clock, yet the at_risk alert raised at minute 48 is no
    longer due and is retracted, one revision more."""
    start = T0 + timedelta(days=-300)
    events = (
        received("C-1", amount="300.00", at=start),
        assigned("C-1", "repair", at=start + minutes(5)),
        amended("C-1", "5000.00", at=start + minutes(50)),
    )
    return LoggedRun(events, (timedelta(0),) * len(events), minutes(5))


@SLA
@example(run=amended_after_the_warning())
@given(run=logged_runs())
def test_a_replay_reaches_the_record_of_a_worker_that_never_stopped(run: LoggedRun) -> None:
    """`complaintflow replay` (projections/history.py) claims what a worker that never stopped would
    have published, revision included: the same settles at the same instants, in effect. Replay
    leaves out the settles it can tell change nothing (an event that moves no clock, notice or
    budget), so this also checks that it tells right: a settle left out that would have raised or
    retracted an alert shows in the record's alerts and revision."""
    entries, horizon = timed_log(run)
    history = History(RULES, Horizons(Horizon(horizon)))
    for entry in entries:
        history.feed(entry)

    assert orjson.dumps(history.record("C-1")) == never_stopped(entries, horizon)


# --- 3. determinism -------------------------------------------------------------------------


def records(case: Case, now: datetime) -> tuple[bytes, list[bytes]]:
    """What the worker publishes for a settle at `now`: the state record and the alert records."""
    step = assess(case, RULES, now)
    alerts = [orjson.dumps(alert_record(alert, now)) for alert in (*step.settled.raised, *step.settled.retracted)]
    return orjson.dumps(to_record(step.settled.case, RULES, now, step.views)), alerts


@SLA
@given(events=histories, data=st.data())
def test_the_same_events_and_now_give_byte_identical_records(events: Events, data: st.DataObject) -> None:
    """Same events, same `now` → the same bytes on `complaints.state` and `complaints.alerts`: what
    `complaintflow verify` relies on (a live record against a replay of its own events at its own
    `evaluated_at`). Checked across two independent folds (fresh decodes), a fold that met
    redeliveries, a case that went through the table codec (the worker keeps cases as bytes), and
    the views the worker passes to `to_record` against views computed afresh."""
    noisy = data.draw(with_duplicates(list(events)), label="with redeliveries")
    now = occurred(events[-1]) + data.draw(instants, label="now - last event")
    now = now.astimezone(data.draw(st.sampled_from((UTC, occurred(events[0]).tzinfo)), label="now's offset"))

    first, second, repeated = folded(events), folded(events), folded(noisy)
    stored = load_case(dump_case(first))

    expected = records(first, now)
    assert records(second, now) == expected
    assert records(repeated, now) == expected
    assert records(stored, now) == expected
    assert dump_case(stored) == dump_case(first) == dump_case(repeated)
    settled = settle(first, RULES, now).case
    assert orjson.dumps(to_record(settled, RULES, now)) == expected[0]
    assert records(load_case(dump_case(settled)), now) == records(settled, now)


@SLA
@given(events=histories, data=st.data())
def test_the_worker_writes_the_record_as_the_record_of_text_instants(events: Events, data: st.DataObject) -> None:
    """The worker leaves the record's instants for orjson to write (`codec.for_orjson`): the same
    bytes as the record whose instants are `isoformat` text, which replay and `verify` compare it
    with. Checked at any offset of `now`, whole minutes or not (orjson rounds away an offset's
    seconds, so those must stay text), and on a case read back from the table (its instants in
    pydantic's zones)."""
    case = folded(events)
    now = occurred(events[-1]) + data.draw(instants, label="now - last event")
    offset = data.draw(st.integers(-14 * 3600, 14 * 3600), label="now's offset, seconds")
    now = now.astimezone(
        data.draw(st.sampled_from((timezone(timedelta(seconds=offset)), UTC, ZoneInfo("Asia/Shanghai"))))
    )

    for held in (case, load_case(dump_case(case))):
        step = assess(held, RULES, now)
        texts = to_record(step.settled.case, RULES, now, step.views)
        for_the_wire = to_record(step.settled.case, RULES, now, step.views, instant=for_orjson)
        assert orjson.dumps(for_the_wire) == orjson.dumps(texts)


@SLA
@given(events=histories, data=st.data())
def test_the_judgement_is_the_same_whatever_offset_now_is_given_at(events: Events, data: st.DataObject) -> None:
    """`now` is the same instant written at any offset: the live worker's wall clock is UTC, replay's
    log time too, and the complaint's instants are at the mall's offset. The judge compares them in
    the complaint's zone (`events.types.in_zone`, once per walk), which must change nothing it says."""
    case = folded(events)
    now = occurred(events[-1]) + data.draw(instants, label="now - last event")
    offset = timedelta(minutes=data.draw(st.integers(-14 * 60, 14 * 60), label="another offset, minutes"))
    elsewhere = now.astimezone(timezone(offset))

    here, there = assess(case, RULES, now), assess(case, RULES, elsewhere)

    assert there.settled == here.settled
    assert there.next_due_at == here.next_due_at
    assert there.views == here.views


# --- 4. next_due_at is honest ---------------------------------------------------------------


def observed(case: Case, now: datetime) -> list[tuple[str, str, int]]:
    """What a state record says of each clock, leaving out the time left (it changes every instant)."""
    return [(view.name, view.status, view.escalation_level) for view in clocks(case, RULES, now)]


def crossing(case: Case, at: datetime) -> set[str]:
    """The alerts with a threshold (of any period of any clock) or a notice at exactly `at`."""
    judge = Judge(case.sla, case.complaint, RULES.policy(case.sla.policy_version), RULES.calendar)
    return {
        f"{case.complaint_id}:{clock.name}:{threshold.kind}:{threshold.level}"
        for clock, record in judge.started()
        for index in range(len(record.periods))
        for threshold in judge.thresholds(clock, record, index)
        if threshold.at == at
    } | {f"{case.complaint_id}:-:{kind}:0" for kind, when in case.sla.notices.items() if when == at}


def assert_timer_is_honest(case: Case, now: datetime, fraction: float) -> None:
    settled = settle(case, RULES, now).case
    due = next_due_at(settled, RULES, now)
    assert due == assess(case, RULES, now).next_due_at, "the worker indexes what `assess` says"
    if due is None:
        far = now + timedelta(days=400)
        later = settle(settled, RULES, far)
        assert (later.raised, later.retracted) == ([], []), f"no wake-up is due, yet at {far} it raises"
        return
    assert due > now
    meanwhile = min(max(within(now, due, fraction), now + timedelta(microseconds=1)), due - timedelta(microseconds=1))
    if now < meanwhile < due:
        quiet = settle(settled, RULES, meanwhile)
        assert (quiet.raised, quiet.retracted) == ([], []), f"the timer sleeps till {due}, yet {meanwhile} raises"
    woken = settle(settled, RULES, due)
    if woken.raised or observed(settled, due + timedelta(microseconds=1)) != observed(settled, now):
        return
    # A restarted clock crosses again thresholds its earlier period already crossed: the alert is
    # raised once per clock, kind and level, so the wake-up changes nothing. Wasted, not wrong.
    event("wasted wake-up: an earlier period raised it")
    assert crossing(settled, due) & set(settled.sla.raised), f"the timer wakes at {due} and nothing happens"


@SLA
@given(events=histories, data=st.data())
def test_next_due_at_is_when_the_next_alert_falls_due(events: Events, data: st.DataObject) -> None:
    """The live timer indexes `next_due_at` instead of settling every complaint every second: so if
    it says `t`, nothing may fall due strictly before `t` (an alert raised late), and at `t` (or an
    instant later) something must happen: an alert, or a clock's status or escalation level
    changing (or, see `assert_timer_is_honest`, a threshold crossed again by a restarted clock).
    If it says None, nothing may fall due again without a new event (checked 400 days on; the
    working-day calendar is only consulted at clock starts, which all lie in 2025-2026).

    `now` is the worker's wall clock: at or after the last event, sometimes exactly at a threshold
    (where replay settles: it walks the case from one `next_due_at` to the next)."""
    case = folded(events)
    now = occurred(events[-1]) + abs(data.draw(instants, label="now - last event"))
    for _ in range(data.draw(st.integers(0, 3), label="thresholds walked")):
        now = next_due_at(case, RULES, now) or now
    assert_timer_is_honest(case, now, data.draw(fractions, label="between now and the next due instant"))


@settings(max_examples=40, deadline=None)
@example(events=(received("C-1", personal_injury=True),), lead=2 * 60, fraction=0.5)
@given(events=histories, lead=st.integers(0, int(RULES.max_clock_skew.total_seconds())), fraction=fractions)
def test_next_due_at_is_honest_when_a_channel_clock_runs_ahead(events: Events, lead: int, fraction: float) -> None:
    """`accept_event` accepts an event whose `occurred_at` lies up to `max_clock_skew` after its
    publication (channels' clocks drift), and the worker then settles at its own wall clock: so
    `now` may be up to the skew before the last event. The timer must still wake for everything.

    The example failed at 2f3686a: `next_due_at` looked only at running clocks, never at notices,
    so a personal-injury complaint received 2 minutes ahead of the wall clock got its R6 notice at
    the assignment clock's at_risk, 24 minutes later; with no clock running (None), a buck_passing
    notice waited for the next event. A clock stopped or paused after `now` was skipped likewise."""
    case = folded(events)
    assert_timer_is_honest(case, occurred(events[-1]) - timedelta(seconds=lead), fraction)


# --- a clock's status agrees with its alerts --------------------------------------------------


def paid_on_the_stroke_of_the_deadline() -> Events:
    """A 300 CNY claim (1 hour to resolve) paid exactly 60 minutes after it was received."""
    return (
        received("C-1", amount="300.00"),
        assigned("C-1", "repair", at=T0 + minutes(5)),
        ruled("C-1", amount="300.00", at=T0 + minutes(40)),
        paid("C-1", amount="300.00", at=T0 + minutes(60)),
    )


@SLA
@example(events=paid_on_the_stroke_of_the_deadline(), wait=0, walked=0)
@given(events=histories, wait=st.integers(0, 12 * 86400), walked=st.integers(0, 3))
def test_a_clock_is_breached_exactly_when_its_breach_alert_is_due(events: Events, wait: int, walked: int) -> None:
    """The state record (a clock's status, hence the workload's at-risk and breached counts) and the
    alerts must tell one story: a clock that has run once (no restart) and is not paused shows
    `breached` exactly when its `breached` alert is due, and a `met` clock has no breach alert.
    `now` is at or after the last event, sometimes exactly at a threshold (where replay settles).

    The example failed at 2f3686a: alerts fell due at `deadline <= now` (or the stop) while the
    status said breached only at `remaining < 0`, so a 1-hour clock paid at exactly 60 minutes was
    `met`, with escalation level 1, and its breached and escalated:1 alerts raised; settled exactly
    at a deadline (as replay does), a running clock showed at_risk with its breach raised."""
    case = folded(events)
    now = occurred(events[-1]) + timedelta(seconds=wait)
    for _ in range(walked):
        now = next_due_at(case, RULES, now) or now
    due = set(settle(case, RULES, now).case.sla.raised)
    for view in clocks(case, RULES, now):
        if len(case.sla.clocks[view.name].periods) == 1 and view.status != "paused":
            breach = f"{case.complaint_id}:{view.name}:breached:0"
            assert (view.status == "breached") == (breach in due), f"{view.name} is {view.status} at {now}"
