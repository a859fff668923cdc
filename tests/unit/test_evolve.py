"""The fold's cheap copy builds what `model_copy` would: an equal model, the same table bytes."""

from __future__ import annotations

from conftest import assigned, fold, received

from projections.evolve import evolve


def test_evolve_is_model_copy_with_the_changes() -> None:
    state = fold(received())

    changed = evolve(state, handler="li", version=2)

    assert changed == state.model_copy(update={"handler": "li", "version": 2})
    assert changed.model_dump_json() == state.model_copy(update={"handler": "li", "version": 2}).model_dump_json()
    assert (state.handler, state.version) == (None, 1), "the original is left as it was"


def test_evolve_after_a_fold_dumps_as_the_validated_model_would() -> None:
    state = fold(received(), assigned(minute=5))

    assert type(state).model_validate_json(state.model_dump_json()) == state
