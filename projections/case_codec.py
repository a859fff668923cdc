"""The case table's JSON, written at every event the live worker folds: each record of a case
(`Case`, `ComplaintState`, `SlaState`, `ClockRecord`, `Period`, and the events' `Customer` and
`RuledData`) as an object of its fields in order, exactly as pydantic's `model_dump_json` wrote
these records when they were pydantic models (the table's format since its first version:
tests/property/test_case_codec_properties.py compares the two against pydantic models of that
format kept in tests/stored_format.py).

The case is walked into dicts of each record's fields (`_case_fields`), its instants checked on
the way, and orjson writes them in one go, with no `default` hook to call back. orjson
writes the values as pydantic does: strings (every code point escaped alike), ints, floats (the
same shortest round-trip form: `1e-7`, `1e+16`, `null` for inf and nan), booleans, `None`,
tuples, and plain `datetime`s given `OPT_UTC_Z` (pydantic writes a zero offset as "Z"). `Money`
and `Decimal` amounts become `str(amount)` and `Timestamp`s `isoformat()`, which is what their
pydantic serializers call (orjson writes a `Timestamp` itself where that is the same: a fixed,
whole-minute, non-zero offset). Compiled with mypyc (setup.py): ~75 k machine instructions a
folded case, where handing each record to orjson's `default` hook took ~141 k and pydantic
more (docs/performance.md, "The table's writer compiled").

Where the two would differ, the whole case goes through pydantic's serializer (`pydantic_core`)
instead, as plain dicts (`_plain`):

- a plain `datetime` whose UTC offset is not a whole number of minutes (a zone's local mean time
  before 1900, or an odd `timezone`): pydantic truncates it to minutes, orjson rounds it;
- an int beyond 64 bits, or a string with a lone surrogate: orjson refuses them (pydantic writes
  the int, and refuses the string in its own words);
- a value of a class the walk does not expect (a record's field of another type).

Each record's fields are its `NamedTuple` fields, in order. Guarded by
tests/property/test_case_codec_properties.py (folded histories and arbitrary valid cases) and by
tests/unit/test_case_codec.py: each record's fields must be the table format's
(tests/stored_format.py), so a record that gains a field fails it until the format, and the way
this module writes the field, are decided.
"""

from __future__ import annotations

from datetime import UTC, datetime, timezone, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson
import pydantic_core
from pydantic_core import TzInfo

from events.codec import orjson_writes_like_isoformat
from events.models import Customer, RuledData
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import ComplaintState

if TYPE_CHECKING:
    from projections.case import Case

_PLAIN: Final[set[tzinfo | None]] = {None, UTC}
"""Zones (and no zone) in which orjson writes a plain `datetime` as pydantic does: fixed offsets in
whole minutes, added as met (at most 2,879 of each class: `datetime.timezone`, which the fold's
instants carry, and pydantic's `TzInfo`, which the instants of a case loaded from the table
carry). A `ZoneInfo`'s offset depends on the date: never here."""
_ISO: Final[set[tzinfo]] = set()
"""Those of `_PLAIN` in which orjson writes a `Timestamp` as `isoformat()` does: all but UTC ("Z")."""


class _Unlike(Exception):
    """A value orjson would write otherwise than pydantic."""


def case_json(case: Case) -> bytes:
    """The case's JSON: each record an object of its fields in order (module docstring)."""
    try:
        return orjson.dumps(_case_fields(case), option=orjson.OPT_UTC_Z)
    except (_Unlike, orjson.JSONEncodeError):  # the walk's refusal, or a value orjson cannot write
        return pydantic_core.to_json(_plain(case), inf_nan_mode="null")  # as a model writes a float field


def _case_fields(case: Case) -> dict[str, Any]:
    """The case as dicts of each record's fields, every instant checked on the way, which orjson
    then writes in one go; `_Unlike` for a value it would write otherwise than pydantic."""
    return {"complaint": _state_fields(case.complaint), "sla": _sla_fields(case.sla), "revision": case.revision}


def _state_fields(state: ComplaintState) -> dict[str, Any]:
    return {
        "complaint_id": state.complaint_id,
        "stage": state.stage,
        "owner_department": state.owner_department,
        "department": state.department,
        "departments_seen": state.departments_seen,
        "department_changes": state.department_changes,
        "handler": state.handler,
        "store": state.store,
        "merchant": state.merchant,
        "category": state.category,
        "claim_amount": _amount(state.claim_amount),
        "personal_injury": state.personal_injury,
        "media_involved": state.media_involved,
        "customer": _customer_fields(state.customer),
        "received_at": _timestamp(state.received_at),
        "last_event_at": _timestamp(state.last_event_at),
        "lab_inspection_pending": state.lab_inspection_pending,
        "ruling": _ruling_fields(state.ruling),
        "paid_amount": _amount(state.paid_amount),
        "satisfied": state.satisfied,
        "advanced_by_mall": _amount(state.advanced_by_mall),
        "repaid_by_merchant": _amount(state.repaid_by_merchant),
        "version": state.version,
        "applied": state.applied,
    }


def _customer_fields(customer: Customer) -> dict[str, Any]:
    return customer.__dict__ if type(customer) is Customer else _unlike(customer)


def _ruling_fields(ruling: RuledData | None) -> dict[str, Any] | None:
    if ruling is None:
        return None
    if type(ruling) is not RuledData:
        _unlike(ruling)
    fields = dict(ruling.__dict__)  # its fields in order, the amount as its text
    fields["amount"] = _amount(ruling.amount)
    return fields


def _amount(amount: Decimal) -> str:
    """An amount as pydantic writes it: its text."""
    return str(amount) if type(amount) is Decimal else _unlike(amount)


def _unlike(value: object) -> Any:
    raise _Unlike(value)


def _sla_fields(sla: SlaState) -> dict[str, Any]:
    for moment in sla.notices.values():
        _plain_moment(moment)
    for moment in sla.raised.values():
        _plain_moment(moment)
    return {
        "policy_version": sla.policy_version,
        "clocks": {name: _clock_fields(clock) for name, clock in sla.clocks.items()},
        "notices": sla.notices,
        "raised": sla.raised,
    }


def _clock_fields(clock: ClockRecord) -> dict[str, Any]:
    stopped_at = clock.stopped_at
    if stopped_at is not None:
        _plain_moment(stopped_at)
    return {"periods": [_period_fields(period) for period in clock.periods], "stopped_at": stopped_at}


def _period_fields(period: Period) -> dict[str, Any]:
    started_at, paused_at, ended_at = period.started_at, period.paused_at, period.ended_at
    _plain_moment(started_at)
    if paused_at is not None:
        _plain_moment(paused_at)
    if ended_at is not None:
        _plain_moment(ended_at)
    return {
        "started_at": started_at,
        "paused_seconds": period.paused_seconds,
        "paused_at": paused_at,
        "ended_at": ended_at,
    }


def _plain(value: Any) -> Any:
    """`value` with every record of the case as a dict of its fields and every `Timestamp` as
    its `isoformat()`, for pydantic's serializer, which writes a `NamedTuple` as an array."""
    if type(value) is ComplaintState:
        state = {name: _plain(field) for name, field in value._asdict().items()}
        state["received_at"] = value.received_at.isoformat()
        state["last_event_at"] = value.last_event_at.isoformat()
        return state
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a record
        return {name: _plain(field) for name, field in value._asdict().items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def plain_instant(moment: datetime) -> str:
    """A plain `datetime` as pydantic writes one in JSON (a zero offset as "Z"): orjson's text
    where it writes it alike (`_PLAIN`), else pydantic's. The alert records' instants
    (`projections.case.alert_record`), which pydantic wrote while an alert was a model."""
    if _writes_plain(moment):
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return pydantic_core.to_json(moment)[1:-1].decode()


def _timestamp(moment: datetime) -> datetime | str:
    if moment.tzinfo in _ISO or (_learn(moment) and moment.tzinfo in _ISO):
        return moment
    return moment.isoformat()


def _plain_moment(moment: datetime) -> None:
    """`_Unlike` unless orjson writes `moment` as pydantic writes a plain `datetime`."""
    if not _writes_plain(moment):
        raise _Unlike(moment)


def _writes_plain(moment: datetime) -> bool:
    """Whether orjson writes `moment` as pydantic writes a plain `datetime`: its zone learnt
    (`_PLAIN`), or learnt now."""
    return moment.tzinfo in _PLAIN or _learn(moment)


def _learn(moment: datetime) -> bool:
    """Whether orjson writes `moment` as pydantic writes a plain `datetime`: its UTC offset is in
    whole minutes (or it has none). Its zone joins `_PLAIN` (and `_ISO`) if that offset is fixed."""
    if not orjson_writes_like_isoformat(moment):
        return False
    zone = moment.tzinfo
    if type(zone) is timezone or type(zone) is TzInfo:  # the same offset at every instant
        _PLAIN.add(zone)
        if moment.utcoffset():
            _ISO.add(zone)
    return True
