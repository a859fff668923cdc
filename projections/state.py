"""The fold's state and what it says, as records: `Case`, `ComplaintState`, `SlaState`,
`ClockRecord`, `Period` (what the table stores), `ClockView` and `Alert` (what a step says),
`Membership` (what a complaint counts for in a department's workload).

Defined here, apart from the functions that fold and judge them (projections/complaint.py,
clocks.py, sla.py, case.py), because those modules are compiled with mypyc when the project is
installed (setup.py) and these must not be: mypyc turns a class's field annotations into `type`,
and the table's schema (`@stored`, projections/evolve.py) is built from them. The fold's modules
re-export each name, so both `from projections.clocks import Period` and `from
projections.state import Period` work.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from events.models import Category, Customer, RuledData
from events.types import Money, Timestamp
from projections.evolve import stored

Stage = Literal["received", "assigned", "inspecting", "ruled", "paid", "closed"]
STAGES: tuple[Stage, ...] = ("received", "assigned", "inspecting", "ruled", "paid", "closed")


@stored
class ComplaintState(NamedTuple):
    """Everything the system knows about one complaint after the events accepted so far."""

    complaint_id: str
    stage: Stage
    owner_department: str
    department: str
    departments_seen: tuple[str, ...]
    department_changes: int
    handler: str | None
    store: str
    merchant: str | None
    category: Category
    claim_amount: Money
    personal_injury: bool
    media_involved: bool
    customer: Customer
    received_at: Timestamp
    last_event_at: Timestamp
    lab_inspection_pending: bool
    ruling: RuledData | None
    paid_amount: Decimal
    """The sum of payments: unbounded, unlike a single wire amount."""
    satisfied: bool | None
    advanced_by_mall: Decimal
    """What the mall paid the customer in advance, on the merchant's behalf (R3)."""
    repaid_by_merchant: Decimal
    """What the merchant has repaid the mall of that advance."""
    version: int
    applied: dict[str, str]
    """event_id → fingerprint of every accepted event: the idempotency record."""

    @property
    def is_open(self) -> bool:
        return self.stage != "closed"

    @property
    def owed_to_mall(self) -> Decimal:
        """The part of the mall's advance the merchant has not repaid yet."""
        return self.advanced_by_mall - self.repaid_by_merchant


Status = Literal["running", "at_risk", "paused", "met", "breached"]
AlertKind = Literal["at_risk", "breached", "escalated", "personal_injury", "major_claim", "buck_passing", "retracted"]


@stored
class Period(NamedTuple):
    """One run of a clock, from its start (or a restart) to the next restart or its stop."""

    started_at: datetime
    paused_seconds: float = 0.0
    paused_at: datetime | None = None
    ended_at: datetime | None = None


@stored
class ClockRecord(NamedTuple):
    periods: tuple[Period, ...]
    stopped_at: datetime | None = None


@stored
class SlaState(NamedTuple):
    """What the SLA engine remembers of one complaint: its pinned policy, clock instants, notices,
    and every alert already raised (so none is raised twice). Never changed in place: the fold
    builds a new one (`evolve`) with new dicts where anything changed."""

    policy_version: str
    clocks: dict[str, ClockRecord]
    notices: dict[str, datetime]
    raised: dict[str, datetime]
    """alert_id → due_at of every alert raised and not retracted."""


class ClockView(NamedTuple):
    """A clock as judged at one instant: what the state record and the standing show, built for
    every clock at every step of the live worker (a `NamedTuple`, as the state: evolve.py)."""

    name: str
    status: Status
    deadline: datetime | None
    remaining_seconds: float
    escalation_level: int


class Alert(NamedTuple):
    """An alert as the core sees it: `raised_at` is added by whoever emits it. A `NamedTuple`, as
    the state (evolve.py): the settle builds one for every alert it raises or retracts, and a replay
    of weeks-old complaints raises several per event, where a frozen pydantic model, validated at
    each build, was a tenth of a replay's CPU (docs/performance.md, "Alerts as named tuples")."""

    alert_id: str
    complaint_id: str
    kind: AlertKind
    clock: str | None
    level: int
    deadline: datetime | None
    due_at: datetime
    reason: str


@stored
class Case(NamedTuple):
    """One complaint as the fold holds it. The state is made of `NamedTuple`s, never changed in
    place (`projections/evolve.py` says why, with the figures)."""

    complaint: ComplaintState
    sla: SlaState
    revision: int
    """Grows with every change, events and alerts alike: memberships carry it, so the workload
    fold can tell a newer standing from a redelivered older one."""

    @property
    def complaint_id(self) -> str:
        return self.complaint.complaint_id


class Settled(NamedTuple):
    case: Case
    raised: list[Alert]
    retracted: list[Alert]


Standing = Literal["ok", "at_risk", "breached"]
"""How an open complaint counts in its department's workload: its worst clock."""


class Membership(NamedTuple):
    """What one complaint contributes to one department, as of the complaint's `version` (its
    case revision in the live system, which also grows when an alert changes its standing).

    A `NamedTuple`, built only by `projections.tally.membership` from a typed state, never read
    from the wire: the live agent builds two to six per event to count its shares (a frozen
    pydantic model, validated at each build, cost ~3 µs each: docs/performance.md)."""

    department: str
    complaint_id: str
    version: int
    handling: bool
    owned: bool
    stage: Stage
    handler: str | None
    standing: Standing
    """The complaint's worst clock: at_risk or breached (counted where it is handled), else ok."""
    received_at: datetime
