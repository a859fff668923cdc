"""The traffic the benchmarks publish, built from the project's seeded simulator.

- `history`: the realistic mix of the six event types, ending an hour before `now`, as a
  topic that has been filling for weeks would hold it;
- `retimed`: the same events, same order, squeezed into a recent window: the backlog a worker
  finds after a short stop, or (spaced at the sending rate) live traffic;
- `open_complaints`: only the `received` events of many complaints, all received at `at`
  (so nothing falls due while they are measured);
- `due_soon`: `received` events whose 30-minute assignment clock runs out shortly after `now`,
  one every `1 / rate` seconds, for the alert-timeliness figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson

from events.codec import decode_keyed_event
from events.errors import Rejection
from projections.case import Case, Rulebook, accept_event
from services.simulate import CST, simulate

Event = dict[str, Any]
Message = tuple[bytes, bytes]
ASSIGNMENT_BUDGET = timedelta(minutes=30)


def history(seed: int, complaints: int, now: datetime) -> list[Event]:
    """The simulated events of `complaints` complaints, shifted by whole days (so the stream keeps
    its shape) until the last one happened at least an hour before `now`."""
    start = now.astimezone(CST) - timedelta(days=1)
    last = max(datetime.fromisoformat(event["occurred_at"]) for event in simulate(seed, complaints, start))
    shift = math.ceil((last - (now - timedelta(hours=1))) / timedelta(days=1))
    return list(simulate(seed, complaints, start - timedelta(days=max(shift, 0))))


def retimed(events: list[Event], first: datetime, step_seconds: float) -> list[Event]:
    """The events in the same order, event n now happening at `first` + n × `step_seconds`."""
    return [
        {**event, "occurred_at": (first + timedelta(seconds=n * step_seconds)).astimezone(CST).isoformat()}
        for n, event in enumerate(events)
    ]


def received_only(seed: int, complaints: int, at: datetime) -> Iterator[Event]:
    for event in simulate(seed, complaints, at):
        if event["type"] == "received":
            yield event


def open_complaints(seed: int, complaints: int, at: datetime) -> list[Event]:
    """`received` events of `complaints` simulated complaints, every one received at `at`."""
    moment = at.astimezone(CST).isoformat()
    return [{**event, "occurred_at": moment} for event in received_only(seed, complaints, at)]


def due_soon(seed: int, complaints: int, now: datetime, first_in: float, rate: float) -> list[Event]:
    """`received` events whose assignment deadline (30 minutes) is `first_in` s after `now`, then one
    every 1/`rate` s; the deadline of each is its `occurred_at` + 30 minutes."""
    events = []
    for n, event in enumerate(received_only(seed, complaints, now)):
        occurred = now - ASSIGNMENT_BUDGET + timedelta(seconds=first_in + n / rate)
        events.append({**event, "occurred_at": occurred.astimezone(CST).isoformat()})
    return events


def encode(events: Iterable[Event]) -> list[Message]:
    """Wire messages keyed by complaint id, as the channels publish them."""
    return [(str(event["complaint_id"]).encode(), orjson.dumps(event)) for event in events]


def expected_versions(messages: Iterable[Message], rules: Rulebook) -> list[tuple[bytes, int] | None]:
    """For each message, the (complaint key, version) its state record will carry once accepted,
    or None if the pure fold rejects or ignores it: what a state record is matched against."""
    cases: dict[bytes, Case] = {}
    expected: list[tuple[bytes, int] | None] = []
    for key, value in messages:
        try:
            before = cases.get(key)
            after = accept_event(before, decode_keyed_event(key, value), rules)
        except Rejection:
            expected.append(None)
            continue
        cases[key] = after
        expected.append(None if after is before else (key, after.complaint.version))
    return expected


def final_versions(expected: Iterable[tuple[bytes, int] | None]) -> dict[bytes, int]:
    """Each complaint's last version: its state record at that version means all its events are in."""
    final: dict[bytes, int] = {}
    for item in expected:
        if item is not None:
            final[item[0]] = max(item[1], final.get(item[0], 0))
    return final
