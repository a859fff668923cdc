"""Hypothesis strategies for the SLA properties: histories that give every clock something to do,
and the steps of a live worker (events, redeliveries, timer ticks) under a wall clock.

`sla_histories` reuses the lifecycle walk of `strategies.histories` (so the histories stay valid by
the same model as the fold properties) and moves it to where the SLA engine has the most to judge:

- into 2025-2026 (every instant shifted by 367 days: 2024-01-01T00:00Z becomes 2025-01-02, still
  2025 in every offset a channel writes), the years the shipped working-day calendar covers: the
  R8 clocks (containment, corrective) count working days and refuse dates outside it
  (`CalendarNotCovered`), judging a date in the event's own offset;
- claims on both sides of the 2,000 CNY tier (1 hour or 3 days to resolve) and of the 10,000 CNY
  major-claim threshold: the base strategy's amounts reach 10^12 CNY and nearly always land in the
  3-day tier;
- quality complaints half of the time and inspection reports that may blame the merchant or the
  manufacturer, so that containment and corrective start too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from hypothesis import strategies as st
from strategies import History, histories

SHIFT = timedelta(days=367)
"""The base strategy's year (2024, a leap year) moved into the calendar's: 2024-01-01T00:00Z + 367 days
is 2025-01-02T00:00Z, still 2025 when written at -05:00 (2025-01-01T00:00Z is 2024-12-31 there)."""

CLAIMS = ("300.00", "1999.99", "2000", "2000.01", "5000.5", "10000.00", "10000.01", "25000.00")
LIABLE = ("undetermined", "merchant", "manufacturer", "mall", "customer")


def shifted(written: str, by: timedelta = SHIFT) -> str:
    """`written` moved by `by`, keeping its offset and its spelling of UTC ("Z" or "+00:00")."""
    moment = (datetime.fromisoformat(written) + by).isoformat()
    return moment.removesuffix("+00:00") + "Z" if written.endswith("Z") else moment


@st.composite
def sla_histories(draw: st.DrawFn, complaint_id: str = "C-1", max_steps: int = 12, closed: bool = False) -> History:
    """A valid history (see `strategies.histories`) in 2025-2026, with SLA-relevant claims,
    categories and inspection findings (see the module doc)."""
    history = draw(histories(complaint_id=complaint_id, max_steps=max_steps, closed=closed))
    claim = draw(st.none() | st.sampled_from(CLAIMS))
    quality = draw(st.booleans())
    events: list[dict[str, Any]] = []
    for document in history.events:
        data = dict(document["data"])
        if document["type"] == "received":
            data["claim_amount"] = data["claim_amount"] if claim is None else claim
            data["category"] = "quality" if quality else data["category"]
        elif document["type"] == "inspected":
            data["liable_party"] = draw(st.sampled_from(LIABLE))
        events.append({**document, "occurred_at": shifted(document["occurred_at"]), "data": data})
    return dataclasses.replace(history, events=tuple(events))


Published = Literal["unknown", "when_it_occurred", "when_consumed"]


@dataclass(frozen=True)
class Step:
    """One thing the live complaint agent does, after the wall clock moved on by `wait`.

    - `event`: the next event of the history arrives (its log timestamp per `published`);
    - `redelivery`: an event already delivered arrives again (`pick`, modulo how many were);
    - `tick`: a timer tick, at whatever the wall clock says;
    - `timer`: the deadline index's wake-up: at the case's `next_due_at` (or later, if the wall
      clock is already past it).
    """

    kind: Literal["event", "redelivery", "tick", "timer"]
    wait: timedelta = timedelta(0)
    pick: int = 0
    published: Published = "unknown"


waits = st.one_of(
    st.just(timedelta(0)),
    st.integers(1, 3600).map(lambda seconds: timedelta(seconds=seconds)),
    st.integers(1, 6 * 86400).map(lambda seconds: timedelta(seconds=seconds)),
)
"""How far the wall clock moves between two steps: not at all, up to an hour, up to six days (so it
often runs ahead of the history, and events arrive late: what a late lab request does to a breach)."""

PUBLISHED: tuple[Published, ...] = ("unknown", "when_it_occurred", "when_consumed")
published = st.sampled_from(PUBLISHED)

extra_steps = st.one_of(
    st.builds(Step, kind=st.just("redelivery"), wait=waits, pick=st.integers(0, 50)),
    st.builds(Step, kind=st.just("tick"), wait=waits),
    st.builds(Step, kind=st.just("timer"), wait=st.integers(0, 2).map(lambda seconds: timedelta(seconds=seconds))),
)


@st.composite
def live_steps(draw: st.DrawFn, events: int, max_extra: int = 24) -> list[Step]:
    """Every one of `events` events once, in order, with redeliveries and ticks between them (none
    before the first event: there is no complaint to settle yet)."""
    extras = draw(st.lists(extra_steps, max_size=max_extra))
    slots = draw(st.lists(st.integers(1, events), min_size=len(extras), max_size=len(extras)))
    deliveries = [Step("event", draw(waits), published=draw(published)) for _ in range(events)]
    steps: list[Step] = []
    for index, delivery in enumerate(deliveries):
        steps.append(delivery)
        steps += [extra for extra, slot in zip(extras, slots, strict=True) if slot == index + 1]
    return steps


@dataclass(frozen=True)
class LiveRun:
    """A history, the live worker's steps through it, and how long the wall clock runs on after them."""

    events: tuple[dict[str, Any], ...]
    steps: tuple[Step, ...]
    final_wait: timedelta


@st.composite
def live_runs(draw: st.DrawFn) -> LiveRun:
    events = draw(sla_histories()).events
    steps = draw(live_steps(len(events)))
    final_wait = draw(st.integers(0, 8 * 86400).map(lambda seconds: timedelta(seconds=seconds)))
    return LiveRun(events, tuple(steps), final_wait)


@st.composite
def amended_along(draw: st.DrawFn, events: tuple[dict[str, Any], ...], max_amendments: int = 2) -> list[dict[str, Any]]:
    """`events` with up to `max_amendments` claim amendments, each at the instant of an event, to a
    claim on either side of the 2,000 CNY tier: an amendment moves no clock, yet it can change a
    period's budget, so what is due. One placed after the customer was paid is rejected, by
    replay and live alike."""
    positions = draw(st.lists(st.integers(0, len(events) - 1), max_size=max_amendments))
    amended = list(events)
    for number, position in enumerate(sorted(positions, reverse=True), 1):
        after = events[position]
        amendment = {
            **after,
            "event_id": f"{after['complaint_id']}/amended-{number}",
            "type": "amended",
            "data": {"claim_amount": draw(st.sampled_from(CLAIMS)), "reason": "the customer adds costs"},
        }
        amended.insert(position + 1, amendment)
    return amended


@dataclass(frozen=True)
class LoggedRun:
    """A history as logged: each event with the delay before the worker saw it (its log time is
    the later of its own time plus that delay and the log time before it), and how long after the
    last log time the replay's horizon lies."""

    events: tuple[dict[str, Any], ...]
    delays: tuple[timedelta, ...]
    final_wait: timedelta


@st.composite
def logged_runs(draw: st.DrawFn) -> LoggedRun:
    events = draw(amended_along(draw(sla_histories()).events))
    delays = draw(st.lists(waits, min_size=len(events), max_size=len(events)))
    final_wait = draw(st.integers(0, 8 * 86400).map(lambda seconds: timedelta(seconds=seconds)))
    return LoggedRun(tuple(events), tuple(delays), final_wait)
