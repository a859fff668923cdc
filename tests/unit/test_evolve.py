"""The fold's cheap copy builds what `_replace` would: an equal record, the same table bytes."""

from __future__ import annotations

import pytest
from conftest import assigned, fold, received

from projections.evolve import evolve
from tests.folding import dump_state, load_state


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
