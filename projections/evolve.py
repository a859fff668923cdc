"""A cheaper `model_copy` for the core's frozen state models, on the fold's hot path.

The state models (`ComplaintState`, `SlaState`, `ClockRecord`, `Period`, `Case`) stay pydantic
models: the table codec keeps pydantic's exact JSON (`dump_case` writes it with orjson, see
projections/case_codec.py) and validates what it reads back (`load_case`), and building a small
one validated costs no more than any Python-level shortcut (pydantic's validator is compiled;
measured at 0.7-0.9 µs for a `Period`, a `ClockRecord` or a `Case`). Copying one with changes is
another matter: `model_copy` goes through `__copy__`, which copies the `__dict__`, the extra and
private attributes and the set of fields one by one, then updates them, at 1.5-1.8 µs a copy, two
or three times per event. `evolve` builds the same instance (equal fields, the same JSON) in about
two thirds of that. Its `__dict__` keeps the fields in field order, as pydantic's does: the table
codec writes a model's `__dict__` as it is.

Like `model_copy`, it does not validate `changes`: inside the fold every value given is already
valid (it comes from an event pydantic validated at the wire, from the state itself, or from the
core's own arithmetic on those).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
_set = object.__setattr__


def evolve(model: Model, **changes: Any) -> Model:
    """`model.model_copy(update=changes)`, for a frozen model and valid `changes`."""
    copied = model.__class__.__new__(model.__class__)
    _set(copied, "__dict__", {**model.__dict__, **changes})
    _set(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__.union(changes))
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_private__", None)
    return copied
