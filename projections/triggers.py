"""A policy trigger's conditions on an event's data (`where`), and whether an event meets them.

Apart from the policy's models (projections/policy.py) because this runs in the fold, for every
event of a type a conditional trigger names, and is compiled with mypyc when the project is
installed (setup.py), where the models must stay Python. `track` hands it the conditions it
worked out once per policy (projections/clocks.py), so the fold never reads a trigger's fields
through pydantic, and `Trigger.matches` asks the same question through it.

Values compare as the event's JSON writes them: amounts by value whatever their written form
("0" meets "0.00"), booleans and words exactly (`false` is not "false", nor 0), a list of
expected values as any of them; a field the data lacks meets no condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel

Scalar = str | bool | int
Where = Mapping[str, Scalar | list[Scalar]]
"""A trigger's conditions: data field → the value it must have, or a list of values it may have."""


def holds(where: Where, data: Mapping[str, object]) -> bool:
    """Whether `data` (an event's data fields, as its model holds them) meets every condition."""
    return all(_equal(as_written(data.get(field)), expected) for field, expected in where.items())


def as_written(value: object) -> object:
    """A data field as the event's JSON has it (`model_dump(mode="json")` of that one field):
    amounts as their decimal strings, a nested model as its fields. Also how the state record
    writes the ruling's fields (`projections.complaint`)."""
    if value is None or isinstance(value, (str, int)):  # most fields, booleans included:
        return value  # `BaseModel`'s check below goes through its metaclass's `__instancecheck__`
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _equal(actual: object, expected: Scalar | list[Scalar]) -> bool:
    if isinstance(expected, list):
        return any(_same(actual, option) for option in expected)
    return _same(actual, expected)


def _same(actual: object, expected: Scalar) -> bool:
    if isinstance(actual, str) and isinstance(expected, str) and _looks_numeric(actual) and _looks_numeric(expected):
        return Decimal(actual) == Decimal(expected)
    return type(actual) is type(expected) and actual == expected


_NUMERIC = re.compile(r"[0-9]+(\.[0-9]+)?")


def _looks_numeric(text: str) -> bool:
    return _NUMERIC.fullmatch(text) is not None
