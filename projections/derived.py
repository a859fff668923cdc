"""What the core works out once from an object that never changes, kept beside that object.

A policy's plans (which clocks an event type concerns, each clock's thresholds) and a working-day
calendar's counts are asked for at every event, from the same few objects, which are pydantic
models: their own fields cannot hold a cache without taking part in their equality. So each is
kept here, by the object's identity, with the object itself: an entry's `id` can never answer for
another object that came to live at the same address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Owner = TypeVar("Owner")
Derived = TypeVar("Derived")
_WORKED_OUT: dict[tuple[int, Callable[[Any], Any]], tuple[Any, Any]] = {}
_WORKED_OUT_KEPT = 64
"""A worker holds a handful of policies and calendars for good, but a process that loads its rule
book per request (a replay served over HTTP) brings new objects each time: keep the latest few
(each object has one entry per kind of derived data)."""


def worked_out(owner: Owner, work_out: Callable[[Owner], Derived]) -> Derived:
    """`work_out(owner)`, once per `owner` object, for an object that never changes."""
    key = (id(owner), work_out)
    known = _WORKED_OUT.get(key)
    if known is not None and known[0] is owner:
        derived: Derived = known[1]
        return derived
    derived = work_out(owner)
    if len(_WORKED_OUT) >= _WORKED_OUT_KEPT:
        del _WORKED_OUT[next(iter(_WORKED_OUT))]  # the oldest
    _WORKED_OUT[key] = (owner, derived)
    return derived
