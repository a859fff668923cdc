"""The event log folded the way the live worker folds it: the engine of replay, verify and export.

Pure, like the rest of projections/ (the commands around it do the I/O: services/replay.py,
verify.py, export.py and the API's history page), and compiled with it (setup.py): it is
fed log entries one by one, keeps one `Case` per complaint and nothing else, and reads no clock:
every instant comes from the log or from the `Horizon` it is given. It calls exactly what the
complaint agent calls (`decode_keyed_event`, `case.accept_event`, `case.assess`), in the same
order, at the instants the live system would have used:

- an accepted event is settled at its log timestamp (when the worker saw it, give or take its lag);
- between events, a complaint is settled at each instant one of its clocks crosses a threshold
  (`case.next_due_at`: what the live SLA timer indexes and wakes it for);
- a repeat (same `event_id`, same contents) changes nothing and settles nothing, as live;
- a message the fold rejects is skipped, as live (it went to complaints.rejected there).

So a replay raises the same alerts with the same `due_at`, and in normal operation reaches the same
`revision`, as a worker that never stopped. What the live system cannot share with a replay (when
the worker was down, a timer tick that landed within its interval of an event) changes only how
alerts were grouped into revisions: see docs/replay.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal, Protocol

from events.codec import decode_keyed_event
from events.errors import ProcessingFailed, Rejection
from events.models import ComplaintEvent
from events.types import in_zone
from projections import case as cases
from projections import complaint, workload
from projections.case import Case, Rulebook
from projections.clocks import ClockView
from projections.sla import RETRACTION_SUFFIX
from projections.workload import DepartmentWorkload, Membership

Outcome = Literal["accepted", "duplicate", "rejected", "later", "beyond"]
"""What became of one log entry: folded; an exact repeat; refused by the fold; left out because it
occurred after the horizon (`later`) or lies past the live record being verified (`beyond`)."""

QUIET_FIELDS = frozenset({"version", "last_event_at"})
"""Fields every event moves: not worth listing among what an event changed."""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One record of complaints.events (or one line of an export): where it was, when, what."""

    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes

    @property
    def published_at(self) -> datetime | None:
        """The log timestamp as the live worker reads it (Faust: milliseconds / 1000.0)."""
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000.0, UTC)

    @property
    def position(self) -> str:
        return f"{self.partition}@{self.offset}"


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far one complaint is replayed.

    `clock` is the `now`: no settle happens after it and the complaint is evaluated at it.
    `occurred_by` leaves out events that happened later (`replay --as-of`: what we know today
    about that moment). `version` stops after that many accepted events (`verify`: the version
    of the live record being checked, so a live system that lags is compared where it stands)."""

    clock: datetime
    occurred_by: datetime | None = None
    version: int | None = None
    _zoned: dict[tzinfo | None, datetime] = field(default_factory=dict, init=False, compare=False, repr=False)
    """`occurred_by` in each zone an event was written in: compared in the event's own zone, an
    instant is compared by its fields, ~5,000 machine instructions fewer than across two zones."""

    def left_out(self, occurred_at: datetime) -> bool:
        """Whether an event that occurred at `occurred_at` happened after `occurred_by`."""
        if self.occurred_by is None:
            return False
        zone = occurred_at.tzinfo
        cut = self._zoned.get(zone)
        if cut is None:
            cut = self._zoned[zone] = in_zone(self.occurred_by, zone)
        return occurred_at > cut

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return _by_fields(self)


@dataclass(frozen=True)
class Horizons:
    """Each complaint's horizon: its own if it has one, else `default`. A value, not a closure, so a
    parallel replay's children receive it with their shard (verify gives each complaint its own)."""

    default: Horizon
    own: Mapping[str, Horizon] = field(default_factory=dict)

    def __call__(self, complaint_id: str) -> Horizon:
        return self.own.get(complaint_id, self.default)

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return _by_fields(self)


def _by_fields(value: Any) -> tuple[type, tuple[Any, ...]]:
    """How pickle rebuilds a frozen dataclass of this module: its class, called with the fields its
    `__init__` takes (`Horizon`'s zone cache is left to be filled again). Compiled (setup.py), such
    a dataclass refuses the attribute writes of pickle's own way, and a parallel replay pickles
    each shard's `Horizons` to its child."""
    return type(value), tuple(getattr(value, item.name) for item in fields(value) if item.init)


class Fed:
    """What became of one log entry: its outcome, the event if it decoded, the rejection if any.

    A plain class with read-only attributes (`Final`: mypy refuses a write), not a frozen
    dataclass: one is built for every entry, and a dataclass's generated `__init__` stays
    interpreted Python even here, compiled (~0.9 µs an entry; docs/performance.md, "Replay's
    fold compiled, and its collector")."""

    def __init__(
        self, outcome: Outcome, event: ComplaintEvent | None = None, rejection: Rejection | None = None
    ) -> None:
        self.outcome: Final = outcome
        self.event: Final = event
        self.rejection: Final = rejection


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a complaint's timeline: an event (or an SLA wake-up) and where it left the complaint."""

    at: datetime
    """When the complaint was settled for this step: the event's log time (capped at the horizon), or a due instant."""
    kind: Literal["event", "sla", "duplicate", "rejected", "later", "beyond"]
    position: str | None = None
    event_type: str | None = None
    event_id: str | None = None
    occurred_at: datetime | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    raised: tuple[str, ...] = ()
    retracted: tuple[str, ...] = ()
    state: dict[str, Any] | None = None
    """The complaint's read model right after the step (clocks and outstanding alerts included)."""
    reason: str | None = None


@dataclass(slots=True)
class _Tracked:
    case: Case
    settled_at: datetime
    next_due_at: datetime | None
    final: list[ClockView] | None = None


class History:
    """Every complaint of a log, folded with the live core; see the module docstring."""

    def __init__(
        self,
        rules: Rulebook,
        horizon: Horizons,
        *,
        watch: str | None = None,
        settle: bool = True,
    ) -> None:
        """`watch`: the complaint whose timeline to record. `settle=False` only decides what the
        fold accepts (export): acceptance never depends on alerts, and settling is most of the cost."""
        self.rules = rules
        self.horizon = horizon
        self.watch = watch
        self.settles = settle
        self.counts: Counter[Outcome] = Counter()
        self.timeline: list[Step] = []
        self.lagging: set[str] = set()
        """Complaints with accepted events past their horizon's `version` (a live record not caught up)."""
        self._cases: dict[str, _Tracked] = {}

    def feed(self, entry: LoggedEvent) -> Fed:
        """Fold one log entry, in log order."""
        fed = self._fold(entry)
        self.counts[fed.outcome] += 1
        if fed.outcome != "accepted" and self.watch is not None and _about(entry, fed) == self.watch:
            self._note(entry, fed)
        return fed

    def _fold(self, entry: LoggedEvent) -> Fed:
        try:
            event = decode_keyed_event(entry.key, entry.value)
        except Rejection as rejection:
            return Fed("rejected", rejection=rejection)
        horizon = self.horizon(event.complaint_id)
        if horizon.left_out(event.occurred_at):
            return Fed("later", event)
        tracked = self._cases.get(event.complaint_id)
        published = entry.published_at
        instant = self._instant(published, event, horizon, tracked)
        if tracked is not None:
            self._advance(tracked, instant)  # the timer's wake-ups before this event
        before = None if tracked is None else tracked.case
        reached = before is not None and horizon.version is not None and before.complaint.version >= horizon.version
        try:
            after = cases.accept_event(before, event, self.rules, published_at=published)
        except Exception as error:
            if reached:
                return self._beyond(event)
            if isinstance(error, Rejection):
                return Fed("rejected", event, error)
            # as live: a bug rejects the message (processing_failed), it never stops the fold
            return Fed("rejected", event, ProcessingFailed(f"the fold failed on this message: {type(error).__name__}"))
        if after is before:
            return Fed("duplicate", event)
        if reached:
            return self._beyond(event)
        if tracked is None:
            tracked = self._cases[event.complaint_id] = _Tracked(after, instant, None)
        tracked.case = after
        if not self.settles:
            return Fed("accepted", event)
        if before is not None and event.complaint_id != self.watch and cases.judged_alike(before, after):
            # `before` was settled, and woken at every due instant up to this event (`_advance`):
            # nothing crossed a threshold since, and judged alike, no threshold moved. A settle here
            # would raise nothing, retract nothing and find the same next due instant.
            tracked.settled_at, tracked.final = max(tracked.settled_at, instant), None
        else:
            self._settle(tracked, instant, entry, event, before)
        return Fed("accepted", event)

    def _beyond(self, event: ComplaintEvent) -> Fed:
        """Past the live record being verified: the live worker had not processed it yet."""
        self.lagging.add(event.complaint_id)
        return Fed("beyond", event)

    def _instant(
        self, published: datetime | None, event: ComplaintEvent, horizon: Horizon, tracked: _Tracked | None
    ) -> datetime:
        """When the live worker settled this event: its log time (the event time if the log has
        none), never before an earlier settle of the complaint, never after the horizon."""
        seen = published or event.occurred_at
        if tracked is not None:
            seen = max(seen, tracked.settled_at)
        return min(seen, horizon.clock)

    def _advance(self, tracked: _Tracked, until: datetime) -> None:
        # `until` in the due instant's zone: the log's instants are UTC, the complaints' +08:00.
        due = tracked.next_due_at
        while due is not None and due <= in_zone(until, due.tzinfo):
            self._settle(tracked, due)
            due = tracked.next_due_at

    def _settle(
        self,
        tracked: _Tracked,
        now: datetime,
        entry: LoggedEvent | None = None,
        event: ComplaintEvent | None = None,
        before: Case | None = None,
    ) -> cases.Assessment:
        assessment = cases.assess(tracked.case, self.rules, now)
        settled = assessment.settled
        tracked.case, tracked.settled_at = settled.case, max(tracked.settled_at, now)
        tracked.next_due_at, tracked.final = assessment.next_due_at, None
        watched = self.watch is not None and settled.case.complaint.complaint_id == self.watch
        if watched and (event is not None or settled.raised or settled.retracted):
            self.timeline.append(
                Step(
                    at=now,
                    kind="sla" if event is None else "event",
                    position=None if entry is None else entry.position,
                    event_type=None if event is None else event.type,
                    event_id=None if event is None else event.event_id,
                    occurred_at=None if event is None else event.occurred_at,
                    changes={} if event is None else changes(before, settled.case),
                    raised=tuple(alert.alert_id for alert in settled.raised),
                    retracted=tuple(alert.alert_id.removesuffix(RETRACTION_SUFFIX) for alert in settled.retracted),
                    state=cases.to_record(settled.case, self.rules, now, assessment.views),
                )
            )
        return assessment  # its clocks' views are worked out only if read (`final`)

    def _note(self, entry: LoggedEvent, fed: Fed) -> None:
        """A step for the watched complaint that changed nothing (a repeat, a rejection, left out)."""
        assert self.watch is not None and fed.outcome != "accepted"
        clock = self.horizon(self.watch).clock
        event = fed.event
        published = entry.published_at or (clock if event is None else event.occurred_at)
        self.timeline.append(
            Step(
                at=min(published, clock),
                kind=fed.outcome,
                position=entry.position,
                event_type=None if event is None else event.type,
                event_id=None if event is None else event.event_id,
                occurred_at=None if event is None else event.occurred_at,
                reason=None if fed.rejection is None else f"{fed.rejection.code}: {fed.rejection.reason}",
            )
        )

    def complaint_ids(self) -> list[str]:
        return sorted(self._cases)

    def final(self, complaint_id: str) -> tuple[Case, list[ClockView]]:
        """The complaint at its horizon: woken at every due instant up to it, then settled at it."""
        tracked = self._cases[complaint_id]
        if tracked.final is None:
            clock = self.horizon(complaint_id).clock
            self._advance(tracked, clock)
            tracked.final = self._settle(tracked, clock).views
        return tracked.case, tracked.final

    def record(self, complaint_id: str) -> dict[str, Any]:
        """The complaints.state record the live worker would have published at the horizon."""
        case, views = self.final(complaint_id)
        return cases.to_record(case, self.rules, self.horizon(complaint_id).clock, views)

    def records(self) -> Iterator[dict[str, Any]]:
        return (self.record(complaint_id) for complaint_id in self.complaint_ids())

    def memberships(self, complaint_id: str) -> list[Membership]:
        """What the complaint last contributed to each department it has been in, at its horizon."""
        case, views = self.final(complaint_id)
        now = self.horizon(complaint_id).clock
        return cases.memberships(case, self.rules, now, case.complaint.departments_seen, views)

    def workloads(self) -> dict[str, DepartmentWorkload]:
        """Each department's workload, rebuilt from every complaint's latest memberships (the ones
        the live worker last published for it), in department order."""
        return workloads_of(self.memberships(complaint_id) for complaint_id in self.complaint_ids())


def workloads_of(memberships: Iterable[Iterable[Membership]]) -> dict[str, DepartmentWorkload]:
    """Each department's workload from the memberships of every complaint, in complaint order."""
    members: dict[str, list[Membership]] = {}
    for complaint_memberships in memberships:
        for member in complaint_memberships:
            members.setdefault(member.department, []).append(member)
    return {department: workload.rebuild(department, members[department]) for department in sorted(members)}


class Folded(Protocol):
    """What a replay prints from: a `History`, or the shards of a parallel replay merged
    (`services.parallel_replay.Merged`)."""

    counts: Counter[Outcome]
    lagging: set[str]

    def complaint_ids(self) -> list[str]: ...

    def records(self) -> Iterator[dict[str, Any]]: ...

    def workloads(self) -> dict[str, DepartmentWorkload]: ...


def _about(entry: LoggedEvent, fed: Fed) -> str | None:
    """The complaint a log entry concerns: its event's, or for bytes that never decoded, its key."""
    if fed.event is not None:
        return fed.event.complaint_id
    return None if entry.key is None else entry.key.decode("utf-8", errors="replace")


def changes(before: Case | None, after: Case) -> dict[str, tuple[Any, Any]]:
    """Read-model fields an event changed: field → (before, after); everything is new on `received`."""
    old = {} if before is None else complaint.to_record(before.complaint)
    new = complaint.to_record(after.complaint)
    return {
        name: (old.get(name), value)
        for name, value in new.items()
        if name not in QUIET_FIELDS and old.get(name) != value
    }
