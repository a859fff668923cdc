"""The table codec's writer (projections/case_codec.py) knows every field of every record it writes,
writes the table's format (tests/stored_format.py), and hands pydantic what orjson would write
otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pydantic_core
import pytest
from conftest import received, ruled
from pydantic_core import PydanticSerializationError, TzInfo

from events.codec import decode_event
from events.models import Customer, RuledData
from projections import case_codec
from projections.case import Case, accept_event, dump_case, load_case
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import ComplaintState
from projections.evolve import evolve
from services.rules import load_rulebook
from services.settings import Settings
from tests.stored_format import EVENT_MODELS_IN_A_CASE, STORED_RECORDS, stored_json

RULES = load_rulebook(Settings())
RECORDS: list[type[Any]] = [Case, ComplaintState, SlaState, ClockRecord, Period]
MODELS: list[type[Any]] = [Customer, RuledData]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.__name__)
def test_the_codec_writes_every_field_of_each_record_in_order(record: type[Any]) -> None:
    """A field added to a record fails here until the table's format (tests/stored_format.py, and the
    way case_codec writes it) has it."""
    assert tuple(STORED_RECORDS[record].model_fields) == record._fields


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_codec_writes_every_field_of_each_event_model_in_a_case(model: type[Any]) -> None:
    assert EVENT_MODELS_IN_A_CASE[model] == tuple(model.model_fields)


def test_the_codec_covers_every_record_and_model_in_a_case() -> None:
    assert set(STORED_RECORDS) | set(EVENT_MODELS_IN_A_CASE) == set(RECORDS + MODELS)


def fresh() -> Case:
    return accept_event(None, decode_event(orjson.dumps(received())), RULES)


def with_clock_started(case: Case, at: datetime) -> Case:
    clock = ClockRecord(periods=(Period(started_at=at),))
    return evolve(case, sla=evolve(case.sla, clocks={"assignment": clock}))


def test_a_fresh_case_dumps_in_the_tables_format_and_loads_back() -> None:
    case = fresh()

    assert dump_case(case) == stored_json(case)
    assert load_case(dump_case(case)) == case


@pytest.mark.parametrize("seconds", [1, 29, 30, 45, -15, -30, -45])
def test_an_offset_of_seconds_is_written_as_pydantic_writes_it(seconds: int) -> None:
    """pydantic truncates such an offset to minutes where orjson rounds it: the case goes through pydantic."""
    odd = timezone(timedelta(hours=-3, seconds=seconds))
    case = with_clock_started(fresh(), datetime(1900, 1, 1, tzinfo=odd))

    assert dump_case(case) == stored_json(case)


def test_an_int_past_64_bits_is_written_as_pydantic_writes_it() -> None:
    case = evolve(fresh(), revision=2**64)

    assert dump_case(case) == stored_json(case)
    assert dump_case(case).endswith(b'"revision":18446744073709551616}')


def test_a_lone_surrogate_is_refused_as_pydantic_refuses_it() -> None:
    case = fresh()
    broken = evolve(case, complaint=evolve(case.complaint, handler="\ud800"))

    with pytest.raises(PydanticSerializationError):
        dump_case(broken)


@pytest.mark.parametrize("with_ruling", [False, True], ids=["unruled", "ruled"])
def test_a_case_the_core_folds_is_written_without_pydantic(monkeypatch: pytest.MonkeyPatch, with_ruling: bool) -> None:
    """The fallback is for values the core never makes: were it taken for every case, the codec
    would still be right, and as slow as before. A ruling holds an amount of its own."""
    case = with_clock_started(fresh(), datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))))
    if with_ruling:
        ruling = decode_event(orjson.dumps(ruled(amount="1234.50"))).data
        case = evolve(case, complaint=evolve(case.complaint, ruling=ruling))
    expected = stored_json(case)

    def refused(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("went through pydantic")

    monkeypatch.setattr(pydantic_core, "to_json", refused)
    assert dump_case(case) == expected


def test_a_case_read_back_from_the_table_is_written_without_checking_each_instant() -> None:
    """pydantic reads a plain `datetime`'s offset as its own `TzInfo`, not a `datetime.timezone`:
    the codec learns those zones as it learns the fold's, so a loaded case's instants are not
    checked one by one at each of its later writes (~13 of them in a folded case). Asked of the
    zones learnt, not by counting the checks: compiled (setup.py), the codec calls the check
    directly, past any patch of the module's name."""
    cst = timezone(timedelta(hours=8))
    first, second = (
        load_case(dump_case(with_clock_started(fresh(), datetime(2026, 11, 22, 9, minute, tzinfo=cst))))
        for minute in (0, 1)
    )
    loaded_zone = second.sla.clocks["assignment"].periods[0].started_at.tzinfo
    assert type(loaded_zone) is TzInfo

    assert dump_case(first) == stored_json(first)  # the zone met once, and learnt
    assert loaded_zone in case_codec._PLAIN and loaded_zone in case_codec._ISO
    assert dump_case(second) == stored_json(second)


def _altered(case: Case, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = orjson.loads(dump_case(case))
    change(document)
    return orjson.dumps(document)


@pytest.mark.parametrize(
    "change",
    [
        lambda case: case["complaint"].update(priority="high"),  # a field no record has
        lambda case: case["complaint"].pop("handler"),  # a field missing
        lambda case: case["complaint"].update(stage="lost"),  # not a stage
        lambda case: case["sla"]["clocks"]["assignment"]["periods"][0].update(paused_seconds="soon"),
        lambda case: case["sla"]["clocks"]["assignment"].update(
            periods=[["2026-11-22T09:00:00+08:00", 0.0, None, None]]
        ),
        lambda case: case.update(revision=None),
    ],
    ids=["unknown field", "missing field", "unknown stage", "not a number", "record as an array", "revision null"],
)
def test_the_reader_refuses_a_value_the_table_never_held(change: Callable[[dict[str, Any]], None]) -> None:
    case = with_clock_started(fresh(), datetime(2026, 11, 22, 9, 0, tzinfo=timezone(timedelta(hours=8))))

    with pytest.raises(ValueError):
        load_case(_altered(case, change))


def test_the_reader_builds_the_folds_records() -> None:
    case = with_clock_started(fresh(), datetime(2026, 11, 22, 9, 0, tzinfo=timezone(timedelta(hours=8))))

    loaded = load_case(dump_case(case))

    assert loaded == case
    assert [type(record) for record in (loaded, loaded.complaint, loaded.sla)] == [Case, ComplaintState, SlaState]
    assert type(loaded.sla.clocks["assignment"]) is ClockRecord
    assert type(loaded.sla.clocks["assignment"].periods[0]) is Period
