"""The case table's JSON, written at every event the live worker folds: each record of a case
(`Case`, `ComplaintState`, `SlaState`, `ClockRecord`, `Period`, and the events' `Customer` and
`RuledData`) as an object of its fields in order, exactly as pydantic's `model_dump_json` wrote
these records when they were pydantic models (the table's format since its first version:
tests/property/test_case_codec_properties.py compares the two against pydantic models of that
format kept in tests/stored_format.py).

`orjson` writes the case, asking `_fields` for what it cannot write itself: each record's fields,
each amount. orjson writes the values in them as pydantic does: strings (every code point escaped
alike), ints, floats (the same shortest round-trip form: `1e-7`, `1e+16`, `null` for inf and nan),
booleans, `None`, tuples, and plain `datetime`s given `OPT_UTC_Z` (pydantic writes a zero offset
as "Z"). `Money` and `Decimal` amounts become `str(amount)` and `Timestamp`s `isoformat()`, which
is what their pydantic serializers call (orjson writes a `Timestamp` itself where that is the
same: a fixed, whole-minute, non-zero offset). ~10 µs a folded case, where pydantic took ~18.

Where the two would differ, the whole case goes through pydantic's serializer (`pydantic_core`)
instead, as plain dicts (`_plain`):

- a plain `datetime` whose UTC offset is not a whole number of minutes (a zone's local mean time
  before 1900, or an odd `timezone`): pydantic truncates it to minutes, orjson rounds it;
- an int beyond 64 bits, or a string with a lone surrogate: orjson refuses them (pydantic writes
  the int, and refuses the string in its own words);
- a value of a class not listed in `_fields`.

Each record's fields are its `NamedTuple` fields, in order. Guarded by
tests/property/test_case_codec_properties.py (folded histories and arbitrary valid cases) and by
tests/unit/test_case_codec.py: each record's fields must be the table format's
(tests/stored_format.py), so a record that gains a field fails it until the format, and the way
this module writes the field, are decided.
"""

from __future__ import annotations

from datetime import UTC, datetime, timezone, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import pydantic_core
from pydantic_core import TzInfo

from events.codec import orjson_writes_like_isoformat
from events.models import Customer, RuledData
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import ComplaintState

if TYPE_CHECKING:
    from projections.case import Case

_PLAIN: set[tzinfo | None] = {None, UTC}
"""Zones (and no zone) in which orjson writes a plain `datetime` as pydantic does: fixed offsets in
whole minutes, added as met (at most 2,879 of each class: `datetime.timezone`, which the fold's
instants carry, and pydantic's `TzInfo`, which the instants of a case loaded from the table
carry). A `ZoneInfo`'s offset depends on the date: never here."""
_ISO: set[tzinfo] = set()
"""Those of `_PLAIN` in which orjson writes a `Timestamp` as `isoformat()` does: all but UTC ("Z")."""


class _Unlike(Exception):
    """A value orjson would write otherwise than pydantic."""


def case_json(case: Case) -> bytes:
    """The case's JSON: each record an object of its fields in order (module docstring)."""
    try:
        return orjson.dumps(case._asdict(), default=_fields, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:  # also what `_Unlike`, raised in `_fields`, reaches here as
        return pydantic_core.to_json(_plain(case), inf_nan_mode="null")  # as a model writes a float field


def _fields(value: Any) -> Any:
    """What orjson writes for a `value` of a type it does not know, or `_Unlike`."""
    kind = type(value)
    if kind is Period:
        for moment in (value.started_at, value.paused_at, value.ended_at):
            if moment is not None and moment.tzinfo not in _PLAIN:
                _plain_moment(moment)
        return value._asdict()
    if kind is ClockRecord:
        if value.stopped_at is not None and value.stopped_at.tzinfo not in _PLAIN:
            _plain_moment(value.stopped_at)
        return value._asdict()
    if kind is Decimal:
        return str(value)
    if kind is SlaState:
        for moment in (*value.notices.values(), *value.raised.values()):
            if moment.tzinfo not in _PLAIN:
                _plain_moment(moment)
        return value._asdict()
    if kind is ComplaintState:
        state = value._asdict()
        state["received_at"] = _timestamp(value.received_at)
        state["last_event_at"] = _timestamp(value.last_event_at)
        return state
    if kind is Customer or kind is RuledData:
        return value.__dict__
    raise _Unlike(value)


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


def _timestamp(moment: datetime) -> datetime | str:
    if moment.tzinfo in _ISO or (_learn(moment) and moment.tzinfo in _ISO):
        return moment
    return moment.isoformat()


def _plain_moment(moment: datetime) -> None:
    if not _learn(moment):
        raise _Unlike(moment)


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
