"""The case table's JSON as it was first written: by pydantic models of the case (the state itself
was made of these models until 2026-12-06, and `model_dump_json` wrote the table's values). Kept
here, written out again on purpose rather than derived from the code it checks, as the reference
the codec's tests compare `dump_case` with, so the bytes a worker writes stay those every older
worker wrote and reads.

`stored(case)` builds the same case out of these models, field for field and unvalidated
(`model_construct`), so each value reaches pydantic's serializer as the core holds it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from events.models import Category, Customer, RuledData
from events.types import Money, Timestamp
from projections.case import Case
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import ComplaintState, Stage


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoredPeriod(_Frozen):
    started_at: datetime
    paused_seconds: float = 0.0
    paused_at: datetime | None = None
    ended_at: datetime | None = None


class StoredClockRecord(_Frozen):
    periods: tuple[StoredPeriod, ...]
    stopped_at: datetime | None = None


class StoredSlaState(_Frozen):
    policy_version: str
    clocks: dict[str, StoredClockRecord] = {}
    notices: dict[str, datetime] = {}
    raised: dict[str, datetime] = {}


class StoredComplaintState(_Frozen):
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
    lab_inspection_pending: bool = False
    ruling: RuledData | None = None
    paid_amount: Decimal = Decimal("0")
    satisfied: bool | None = None
    advanced_by_mall: Decimal = Decimal("0")
    repaid_by_merchant: Decimal = Decimal("0")
    version: int
    applied: dict[str, str]


EVENT_MODELS_IN_A_CASE: dict[type[BaseModel], tuple[str, ...]] = {
    Customer: ("name", "phone"),
    RuledData: ("decision", "amount", "liable_party", "merchant_accepts", "customer_accepts"),
}
"""The wire contract's models a case holds, written as their fields in order (their `__dict__`)."""


class StoredCase(_Frozen):
    complaint: StoredComplaintState
    sla: StoredSlaState
    revision: int


STORED_RECORDS: dict[type[tuple[object, ...]], type[_Frozen]] = {
    Case: StoredCase,
    ComplaintState: StoredComplaintState,
    SlaState: StoredSlaState,
    ClockRecord: StoredClockRecord,
    Period: StoredPeriod,
}
"""Each record of the fold's state → the model the table's format was written by."""


def stored(case: Case) -> StoredCase:
    sla = case.sla
    clocks = {
        name: StoredClockRecord.model_construct(
            periods=tuple(StoredPeriod.model_construct(**period._asdict()) for period in record.periods),
            stopped_at=record.stopped_at,
        )
        for name, record in sla.clocks.items()
    }
    return StoredCase.model_construct(
        complaint=StoredComplaintState.model_construct(**case.complaint._asdict()),
        sla=StoredSlaState.model_construct(**{**sla._asdict(), "clocks": clocks}),
        revision=case.revision,
    )


def stored_json(case: Case) -> bytes:
    """The bytes pydantic wrote for `case` in the table's format."""
    return stored(case).model_dump_json().encode()
