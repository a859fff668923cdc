"""The table codec's writer (projections/case_codec.py) knows every field of every model it writes,
and hands pydantic what orjson would write otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from conftest import received
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from events.codec import decode_event
from events.models import Customer, RuledData
from projections.case import Case, accept_event, dump_case
from projections.case_codec import FIELDS
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import ComplaintState
from services.rules import load_rulebook
from services.settings import Settings

RULES = load_rulebook(Settings())
MODELS: list[type[BaseModel]] = [Case, ComplaintState, Customer, RuledData, SlaState, ClockRecord, Period]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_codec_writes_every_field_of_each_model_in_order(model: type[BaseModel]) -> None:
    """A field added to a model fails here until case_codec.FIELDS (and the way it is written) has it."""
    assert FIELDS[model.__name__] == tuple(model.model_fields)


def test_the_codec_covers_every_model_in_a_case() -> None:
    assert set(FIELDS) == {model.__name__ for model in MODELS}


def fresh() -> Case:
    return accept_event(None, decode_event(orjson.dumps(received())), RULES)


def with_clock_started(case: Case, at: datetime) -> Case:
    clock = ClockRecord(periods=(Period(started_at=at),))
    return case.model_copy(update={"sla": case.sla.model_copy(update={"clocks": {"assignment": clock}})})


def test_a_fresh_case_dumps_as_pydantic_does() -> None:
    case = fresh()

    assert dump_case(case) == case.model_dump_json().encode()


@pytest.mark.parametrize("seconds", [1, 29, 30, 45, -15, -30, -45])
def test_an_offset_of_seconds_is_written_as_pydantic_writes_it(seconds: int) -> None:
    """pydantic truncates such an offset to minutes where orjson rounds it: the case goes through pydantic."""
    odd = timezone(timedelta(hours=-3, seconds=seconds))
    case = with_clock_started(fresh(), datetime(1900, 1, 1, tzinfo=odd))

    assert dump_case(case) == case.model_dump_json().encode()


def test_an_int_past_64_bits_is_written_as_pydantic_writes_it() -> None:
    case = fresh().model_copy(update={"revision": 2**64})

    assert dump_case(case) == case.model_dump_json().encode()
    assert dump_case(case).endswith(b'"revision":18446744073709551616}')


def test_a_lone_surrogate_is_refused_as_pydantic_refuses_it() -> None:
    case = fresh()
    broken = case.model_copy(update={"complaint": case.complaint.model_copy(update={"handler": "\ud800"})})

    with pytest.raises(PydanticSerializationError):
        dump_case(broken)


def test_a_case_the_core_folds_is_written_without_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback is for values the core never makes: were it taken for every case, the codec
    would still be right, and as slow as before."""
    case = with_clock_started(fresh(), datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))))
    expected = case.model_dump_json().encode()

    def refused(*args: object, **kwargs: object) -> str:
        raise AssertionError("went through pydantic")

    monkeypatch.setattr(Case, "model_dump_json", refused)
    assert dump_case(case) == expected
