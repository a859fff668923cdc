"""Field types of the wire contract that pydantic's defaults would accept too loosely.

Money travels as a decimal string ("1500.00") so no amount ever passes through a float.
Timestamps must carry a UTC offset: business time without one is ambiguous across stores.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

MONEY_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"
_MONEY = re.compile(MONEY_PATTERN)
"""An amount as the JSON Schema says it; `_is_amount` checks it."""
_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})$")
"""The offset a timestamp must end with, as the JSON Schema says it; `_written_offset` checks it."""


def _money_from_wire(value: object) -> Decimal:
    if isinstance(value, Decimal) and value == value and value >= 0:
        return value
    if not isinstance(value, str):
        raise ValueError(f'an amount must be a decimal string like "1500.00" (CNY), got {type(value).__name__}')
    if not _is_amount(value):
        raise ValueError(f'an amount must look like "1500.00": digits, at most 2 decimals, no sign; got {value!r}')
    return Decimal(value)


def _is_amount(text: str) -> bool:
    """Whether `_MONEY.fullmatch(text)` matches: 1-12 digits without a leading zero (or a lone "0"),
    then a point and 1-2 digits, or nothing. Read as character codes, as `_written_offset` reads a
    timestamp's offset: the regular expression took ~3,000 machine instructions an amount (measured)."""
    end = len(text)
    point = text.find(".")
    whole = end if point < 0 else point
    if whole < 1 or whole > 12 or (whole > 1 and ord(text[0]) == _DIGIT_0):
        return False
    if point >= 0 and not 1 <= end - point - 1 <= 2:
        return False
    return all(at == point or _digit(text, at) for at in range(end))


def _timestamp_from_wire(value: object) -> datetime:
    if not isinstance(value, str):  # the wire's case first: a compiled check of the exact type
        if isinstance(value, datetime) and value.utcoffset() is not None:
            return value
        raise ValueError(f"a timestamp must be an ISO 8601 string with an offset, got {type(value).__name__}")
    written = _written_offset(value)
    if written is None:
        raise ValueError(f"a timestamp needs a UTC offset such as +08:00 or Z, got {value!r}")
    try:
        parsed = _from_isoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    zone = parsed.tzinfo
    if zone is None:  # "2024-05-01+08:00": fromisoformat reads the "+" as the date's separator
        raise ValueError(f"a timestamp needs a UTC offset, got {value!r}")
    shared = _ZONE_WRITTEN.get(written)
    if shared is None:  # the first timestamp written at this offset
        moment = in_shared_zone(parsed)
        if moment.tzinfo is not None:  # always: `parsed` is aware
            _ZONE_WRITTEN[written] = moment.tzinfo
        return moment
    if zone != shared:  # not expected: an offset read other than the text ends with; the long way
        return in_shared_zone(parsed)
    return parsed if zone is shared else _moved(parsed, shared)


def _written_offset(value: str) -> str | None:
    """The UTC offset `value` ends with ("Z" or "±HH:MM"), as `_OFFSET.search` finds it (its `$`
    lets a trailing newline by, which `fromisoformat` then refuses), or None. Read as character
    codes, which mypyc compiles to reads of the string's own memory: the regular expression took
    ~3,700 machine instructions a timestamp, most of it the engine's setting up (measured)."""
    end = len(value)
    if end and ord(value[end - 1]) == _NEWLINE:
        end -= 1
    if end >= 1 and ord(value[end - 1]) == _Z:
        return "Z"
    if end < 6 or ord(value[end - 6]) not in (_PLUS, _MINUS) or ord(value[end - 3]) != _COLON:
        return None
    if _digit(value, end - 5) and _digit(value, end - 4) and _digit(value, end - 2) and _digit(value, end - 1):
        return value[end - 6 : end]
    return None


def _digit(text: str, at: int) -> bool:
    return _DIGIT_0 <= ord(text[at]) <= _DIGIT_9


_NEWLINE: Final = 10  # ord("\n"); the codes `_written_offset` compares, which mypyc inlines as constants
_Z: Final = 90  # ord("Z")
_PLUS: Final = 43  # ord("+")
_MINUS: Final = 45  # ord("-")
_COLON: Final = 58  # ord(":")
_DIGIT_0: Final = 48  # ord("0")
_DIGIT_9: Final = 57  # ord("9")
_from_isoformat: Final = datetime.fromisoformat
"""Bound once: looked up on the class at each call (a bound method made each time), it cost ~850
machine instructions a timestamp (measured)."""
_ZONES: dict[tzinfo, tzinfo] = {}
"""Each UTC offset read from the wire → the one zone object every timestamp read at that offset
shares. At most one per whole-minute offset (the contract's `Z` or `±HH:MM`)."""
_ZONE_WRITTEN: dict[str, tzinfo] = {}
"""Each offset as written ("Z", "+08:00") → the shared zone of that offset (`in_shared_zone`):
looked up by its text, which is cheaper than hashing the new zone `fromisoformat` made."""


def in_shared_zone(moment: datetime) -> datetime:
    """`moment`, the same instant at the same offset, in the zone object every timestamp at that
    offset shares. Why: Python compares two aware datetimes with different zone objects by asking
    each for its offset, a method call by name (~230 ns), and with the same one by their fields
    (~15 ns); `fromisoformat` makes a new zone at each call, and the fold and the SLA judgement
    compare a complaint's instants at every step (projections/sla.py: `Judge`)."""
    zone = moment.tzinfo
    if zone is None:
        return moment
    shared = _ZONES.setdefault(zone, zone)  # zones of one offset are equal, so one is kept per offset
    # Not through `in_zone`: each timestamp read would take the place of the move it remembers.
    return moment if shared is zone else _moved(moment, shared)


def in_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    """The same instant in `zone` (`moment` itself when it is already there, or no zone is given).

    The last move is remembered: replay moves each event's log time into the complaint's zone
    three times (the skew check in `projections.case.accept_event`, the settle's `now` in
    `projections.sla.Judge`, its wake-ups), ~2,900 machine instructions each time. The live worker
    settles at the wall clock, another instant, so there the memory only costs its check. It
    holds the instant itself, so no other object can be taken for it."""
    global _last_move
    if zone is None or moment.tzinfo is zone:
        return moment
    last = _last_move
    if last is not None and last[0] is moment and last[1] is zone:
        return last[2]
    moved = _moved(moment, zone)
    _last_move = (moment, zone, moved)  # one tuple, replaced whole: a reader never sees half of a move
    return moved


_last_move: tuple[datetime, tzinfo, datetime] | None = None


def _moved(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` in `zone`. An instant within a day of datetime's range keeps its own zone: moving it
    through UTC would overflow."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment


def _timestamp_to_wire(moment: datetime) -> str:
    """A timestamp as the wire writes it: its own offset kept. A function, not a lambda, which mypyc
    cannot compile (setup.py)."""
    return moment.isoformat()


Money = Annotated[
    Decimal,
    PlainValidator(_money_from_wire),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "description": "CNY, decimal string"}),
]
"""A non-negative CNY amount, exact, written as a decimal string."""

Timestamp = Annotated[
    datetime,
    PlainValidator(_timestamp_from_wire),
    PlainSerializer(_timestamp_to_wire, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": _OFFSET.pattern, "description": "ISO 8601 with offset"}
    ),
]
"""A business timestamp with its UTC offset, kept as given (offset preserved)."""
