"""The fold's cheap copy builds what `_replace` would: an equal record, the same table bytes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from conftest import assigned, fold, inspected, received, ruled

from projections.case import dump_case, load_case
from projections.evolve import evolve
from services.rules import load_rulebook
from services.settings import Settings
from tests.folding import cases_of, dump_state, load_state


def test_evolve_is_replace_with_the_changes() -> None:
    state = fold(received())

    changed = evolve(state, handler="li", version=2)

    assert changed == state._replace(handler="li", version=2)
    assert type(changed) is type(state)
    assert (state.handler, state.version) == (None, 1), "the original is left as it was"


def test_evolve_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(KeyError):
        evolve(fold(received()), handlr="li")


def test_evolve_after_a_fold_round_trips_through_the_table() -> None:
    state = evolve(fold(received(), assigned(minute=5)), handler="wang")

    assert load_state(dump_state(state)) == state


def test_a_stored_record_reads_by_field_name_whatever_order_its_fields_come_in() -> None:
    """The reader builds each record from its validated fields in the record's order, however the
    table value lists them (every writer so far wrote them in order; a hand-edited or foreign one
    need not)."""
    case = cases_of(
        [received(), assigned(minute=5), inspected(kind="lab", status="requested", minute=9), ruled(minute=30)],
        load_rulebook(Settings()),
    )[-1]
    reordered = orjson.dumps(_reversed(orjson.loads(dump_case(case))))

    assert reordered != dump_case(case)
    assert load_case(reordered) == case


def _reversed(value: Any) -> Any:
    """`value` with the keys of every object in it in reverse order."""
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value
