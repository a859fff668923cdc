"""Bytes <-> events, with orjson, and the reasons a message cannot be decoded.

`decode_event` is the one door into the system: it turns any bytes into a validated event or
raises a `Rejection` whose message names every problem, so a channel operator can fix the sender.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any, Final

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import TzInfo

from events.errors import FieldProblem, InvalidEvent, UndecodableEvent, UnsupportedEvent
from events.models import EVENT_TYPES, SCHEMA_VERSION, ComplaintEvent

EVENT_ADAPTER: TypeAdapter[ComplaintEvent] = TypeAdapter(ComplaintEvent)
_validate_event: Final[Callable[[dict[str, Any]], ComplaintEvent]] = EVENT_ADAPTER.validator.validate_python
"""The adapter's own validator, called straight: `TypeAdapter.validate_python` is a Python method
that only hands its eight options on to it, unset: ~3,500 machine instructions a message
(docs/performance.md, twenty-fifth session)."""
MAX_DEPTH_HINT = "deeply nested"


def decode_event(raw: bytes | None) -> ComplaintEvent:
    """Decode and validate one wire message; `None` is a record with a null value (a tombstone).

    Raises `UndecodableEvent` (empty or null / not UTF-8 / not JSON / not an object),
    `UnsupportedEvent` (unknown `type` or `schema_version`) or `InvalidEvent` (fields wrong, all of
    them listed). Compiled (setup.py), this module checks its arguments' declared types, so a
    type a caller may pass must be declared: a null value is a rejection, not a `TypeError`.
    """
    if raw is None:
        raw = b""  # a null value is rejected as an empty message is
    try:
        document = _loads(raw)
    except orjson.JSONDecodeError as error:
        raise UndecodableEvent(_why_undecodable(raw, error)) from None
    if not isinstance(document, dict):
        raise UndecodableEvent(f"expected a JSON object (the event envelope), got a JSON {type(document).__name__}")
    complaint_id = _text_or_none(document.get("complaint_id"))
    event_id = _text_or_none(document.get("event_id"))
    _check_supported(document, complaint_id, event_id)
    try:
        return _validate_event(document)
    except ValidationError as error:
        raise InvalidEvent(
            describe_problems(error), complaint_id=complaint_id, event_id=event_id, problems=field_problems(error)
        ) from None


def encode_event(event: ComplaintEvent) -> bytes:
    """The canonical wire form of an event (keys sorted, amounts as strings, offsets kept)."""
    return orjson.dumps(EVENT_ADAPTER.dump_python(event, mode="json"), option=orjson.OPT_SORT_KEYS)


def fingerprint(event: ComplaintEvent) -> str:
    """A short digest of an event's canonical form: tells an exact repeat from a conflicting one.

    Stored with every accepted event (a case's `applied`), so it must never change: it is the
    digest of `encode_event`'s bytes, which orjson writes here straight from the models' fields
    (a third of the cost of going through pydantic's serializer first, measured on the fold).
    orjson writes `occurred_at` itself, as `isoformat()` does, when its offset is whole minutes
    (every timestamp from the wire: the contract's offsets are `Z` or `±HH:MM`); `isoformat()`
    writes the seconds of another offset, which orjson rounds away, so those take `_canonical`."""
    option = _CANONICAL if orjson_writes_like_isoformat(event.occurred_at) else _CANONICAL_DATETIMES
    # The event's own fields, as `_canonical` would hand them over: one call of the hook fewer.
    return _blake2b(_dumps(event.__dict__, default=_canonical, option=option), digest_size=8).hexdigest()


_loads: Final = orjson.loads
_dumps: Final = orjson.dumps
_blake2b: Final = hashlib.blake2b
"""Bound once, as decoding, the fingerprint and `isoformat` call them at every event or instant:
looked up on their modules at each call, the fingerprint's two cost ~570 machine instructions more
an event (measured)."""
_CANONICAL = orjson.OPT_SORT_KEYS
_CANONICAL_DATETIMES = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
"""Datetimes through `_canonical` (`isoformat()`), for an offset orjson would not write as it does."""


def orjson_writes_like_isoformat(moment: datetime) -> bool:
    """Whether orjson writes `moment` as `isoformat()` does (and so as pydantic does, "Z" for UTC
    aside): unless its UTC offset has seconds, which `isoformat()` writes and orjson rounds away.
    What `fingerprint` (at every event) and the case table's codec (projections/case_codec.py) both
    rely on. Remembered per fixed-offset zone (`_FIXED_OFFSETS`); a zone with rules, such as
    `ZoneInfo`, can change offset from one instant to the next, so it is asked each time."""
    zone = moment.tzinfo
    fixed = type(zone) is timezone or type(zone) is TzInfo
    if fixed:
        known = _FIXED_OFFSETS.get(zone)
        if known is not None:
            return known
    offset = moment.utcoffset()  # normalized: whole days, then 0-86,399 seconds and microseconds
    writes = offset is None or (offset.seconds % 60 == 0 and offset.microseconds == 0)
    if fixed:
        _FIXED_OFFSETS[zone] = writes
    return writes


def isoformat(moment: datetime) -> str:
    """`moment.isoformat()`: the same text, written by orjson where it writes it alike (an offset of
    whole minutes, or none). CPython formats the offset through `printf`, which made `isoformat` a
    third of a state record's cost (`case.to_record`: at every event, ~7 instants); orjson writes
    the whole instant in about half the time."""
    if orjson_writes_like_isoformat(moment):
        return _dumps(moment)[1:-1].decode()
    return moment.isoformat()


def for_orjson(moment: datetime) -> datetime | str:
    """`moment` as a record that orjson is about to write should hold it, for the same bytes as
    `isoformat(moment)` would give: the instant itself where orjson writes it alike, which it then
    does as it writes the record, without `isoformat`'s bytes and text (~1,800 machine instructions
    fewer an instant, measured on the worker's step); else its `isoformat()`. The live worker's
    state record at every event (`case.to_record`)."""
    return moment if orjson_writes_like_isoformat(moment) else moment.isoformat()


_FIXED_OFFSETS: dict[tzinfo | None, bool] = {}
"""Each fixed-offset zone met (`datetime.timezone`, or pydantic's `TzInfo` in a case loaded from
the table) → `orjson_writes_like_isoformat`'s answer, which depends on the offset alone: one entry
per offset, and the wire's are a few shared objects (`events.types.in_shared_zone`)."""


def _canonical(value: object) -> object:
    """What `encode_event` writes for what orjson cannot: a model's fields, `Money` as `str`, a
    `Timestamp` as `isoformat()` (its serializer, offset kept). Nothing else occurs in an event.
    Checked in the order they come: an event's nested models (1.2 an event in the benchmark's
    history), its amounts (0.55)."""
    if isinstance(value, BaseModel):
        return value.__dict__
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"no canonical form for {type(value).__name__}")  # pragma: no cover - not in the contract


def describe_problems(error: ValidationError) -> str:
    """Every validation problem as `field.path: message`, joined; what the sender must fix."""
    return "; ".join(f"{problem.field}: {problem.message}" for problem in field_problems(error))


def field_problems(error: ValidationError) -> list[FieldProblem]:
    """Every validation problem with the dotted path of its field (`(event)` for the envelope itself)."""
    problems = []
    for problem in error.errors(include_url=False):
        parts = problem["loc"]
        if parts and _is_union_tag(parts[0]):  # the discriminator's branch, not a field
            parts = parts[1:]
        problems.append(FieldProblem(".".join(str(part) for part in parts) or "(event)", problem["msg"]))
    return problems


def _check_supported(document: dict[str, Any], complaint_id: str | None, event_id: str | None) -> None:
    kind = document.get("type")
    if "type" in document and kind not in EVENT_TYPES:
        shown = repr(kind[:64]) if isinstance(kind, str) else _shown_scalar(kind)
        raise UnsupportedEvent(
            f"unknown event type {shown}; expected one of {', '.join(EVENT_TYPES)}",
            complaint_id=complaint_id,
            event_id=event_id,
        )
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise UnsupportedEvent(
            f"schema_version {version} is newer than this build understands ({SCHEMA_VERSION}); "
            "upgrade the workers first",
            complaint_id=complaint_id,
            event_id=event_id,
        )


def _why_undecodable(raw: bytes, error: orjson.JSONDecodeError) -> str:
    if not raw:
        return "empty message: expected a JSON event"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not UTF-8 (invalid byte at position {bad.start}): events must be UTF-8 JSON"
    return f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"


def _shown_scalar(value: object) -> str:
    """repr() of a scalar; containers only by kind (a 1,000-deep array would exhaust repr's recursion)."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    return "(a JSON array)" if isinstance(value, list) else "(a JSON object)"


def _text_or_none(value: object) -> str | None:
    return value[:128] if isinstance(value, str) else None


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in EVENT_TYPES


def decode_keyed_event(key: bytes | None, raw: bytes | None) -> ComplaintEvent:
    """Decode a message and check it is keyed by its complaint: state is partitioned by that key,
    so an event under another key would be folded on the wrong partition."""
    event = decode_event(raw)
    if key != event.complaint_id.encode():
        shown = "no key" if key is None else f"key {key.decode('utf-8', errors='replace')!r}"
        raise InvalidEvent(
            f"message has {shown}, but events must be keyed by their complaint_id {event.complaint_id!r}",
            complaint_id=event.complaint_id,
            event_id=event.event_id,
        )
    return event
