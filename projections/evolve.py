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
1.2, and 2.1 for a pydantic model's copy). Like `_replace`, it does not validate `changes`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

Record = TypeVar("Record", bound=NamedTuple)
_new = tuple.__new__
_POSITIONS: dict[type, dict[str, int]] = {}
"""record class → each field's position, worked out on the first copy of that class."""


def evolve(record: Record, **changes: Any) -> Record:
    """`record._replace(**changes)`, for valid `changes` (an unknown field raises KeyError)."""
    kind = type(record)
    positions = _POSITIONS.get(kind)
    if positions is None:
        positions = _POSITIONS[kind] = {name: index for index, name in enumerate(kind._fields)}
    values = list(record)
    for name, value in changes.items():
        values[positions[name]] = value
    return _new(kind, values)
