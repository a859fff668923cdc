"""The fold's state records, and their copy with changes, on the fold's hot path.

The state (`Case`, `ComplaintState`, `SlaState`, `ClockRecord`, `Period`) is made of
`typing.NamedTuple`s: immutable, typed, and one object each. They were frozen pydantic models,
and a pydantic model is three objects (the instance, its `__dict__`, its set of fields set), built
through its validator at ~1.3 µs even for a `Period` of four fields, where a `NamedTuple` is
built at ~0.26 µs (CPU, collector off; with the collector on, 2.2 against 0.43 µs, since every
one of those objects is tracked, and a tuple of atoms such as a `Period` is dropped from the
collector's sight after its first collection). The fold builds several per event (a `Case`, a
`ComplaintState`, `ClockRecord`s and `Period`s, an `SlaState`), and nothing inside the fold
needed validating: every value comes from an event pydantic validated at the wire, from the
state itself, or from the core's own arithmetic on those. The table's reader still validates
everything it loads (`projections.case.load_case`, pydantic's validator for these types).

`evolve(record, **changes)` copies a record with some fields changed (`_replace`, by position
instead of through a `map` over every field: 0.7 µs for a 25-field `ComplaintState` against
1.2, and 2.1 for a pydantic model's copy); `evolved(record, changes)` takes them in a dict. Like
`_replace`, neither validates `changes`.

`@stored` teaches pydantic to validate a record as the table holds it: an object with exactly the
record's fields, each validated as its annotation says, then the record built from them. Left to
itself pydantic validates a `NamedTuple` as a call with arguments (and also takes an array), which
made loading a fresh case 23.5 µs where this takes 17.9 (the pydantic models took 13.9). The
record is built from the validated fields' values as they come: pydantic-core writes a typed
dict's fields in its schema's order, whatever order the input has (tests/unit/test_evolve.py
holds it to that), which spares a lookup per field (a folded case of ~2 KB: 28.7 → 25.1 µs).
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, TypeVar, get_type_hints

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

Record = TypeVar("Record", bound=NamedTuple)
new_record = tuple.__new__
"""`new_record(Kind, values)` builds a record from its fields' values in order, as `Kind(*values)`
would, without a named tuple's own `__new__`, which is Python even in the compiled modules: half
the cost positionally, a third with keywords. What the fold and the judgement build at every step
goes through it (`evolve`, `clocks._started`, `case._case`, `sla`'s thresholds); a field added to
or moved in a record must fail tests/unit/test_evolve.py rather than shift a value."""
_POSITIONS: dict[type, dict[str, int]] = {}
"""record class → each field's position, worked out on the first copy of that class."""


def evolve(record: Record, **changes: Any) -> Record:
    """`record._replace(**changes)`, for valid `changes` (an unknown field raises KeyError)."""
    return evolved(record, changes)


def evolved(record: Record, changes: dict[str, Any]) -> Record:
    """`evolve(record, **changes)` for changes already in a dict: spreading a dict into keywords
    makes even a compiled call go through Python's, which packs them into a new dict again and
    parses it (~4,000 machine instructions a `ComplaintState` copy, the fold's: the worker's step
    201.6 k -> 197.4 k, measured)."""
    kind = type(record)
    positions = _POSITIONS.get(kind)
    if positions is None:
        positions = _POSITIONS[kind] = {name: index for index, name in enumerate(kind._fields)}
    values = list(record)
    for name, value in changes.items():
        values[positions[name]] = value
    return new_record(kind, values)


Stored = TypeVar("Stored", bound=type[Any])


def stored(kind: Stored) -> Stored:
    """Class decorator for a record the table stores: pydantic validates it with `_schema`."""
    kind.__get_pydantic_core_schema__ = classmethod(lambda cls, _source, handler: _schema(cls, handler))
    return kind


def _schema(kind: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
    """An object of the record's fields, all required (every writer of the table wrote them all),
    no other, built into the record (the validated dict lists them in the record's order)."""
    hints = get_type_hints(kind, globalns=vars(sys.modules[kind.__module__]), include_extras=True)
    fields = {name: core_schema.typed_dict_field(handler.generate_schema(hints[name])) for name in kind._fields}

    def build(fields: dict[str, Any]) -> Any:
        return new_record(kind, fields.values())

    return core_schema.no_info_after_validator_function(
        build, core_schema.typed_dict_schema(fields, extra_behavior="forbid")
    )
