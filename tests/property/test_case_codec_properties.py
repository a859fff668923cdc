"""`dump_case` (projections/case_codec.py, orjson) writes exactly the bytes pydantic's
`model_dump_json` writes in the table's format (tests/stored_format.py), for the cases the core
folds and for any valid `Case` at all, and `load_case` reads them back.

The second strategy goes where the two serializers could part ways: every code point (escapes,
Chinese, emoji), floats of any size and sign, inf and nan, decimals in exponent form, ints past 64
bits, datetimes from year 1 to 9999, naive or in any zone (fixed offsets down to the microsecond,
IANA zones with their historical offsets), with or without microseconds, and empty or full dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, get_args
from zoneinfo import ZoneInfo

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic_core import TzInfo
from sla_strategies import sla_histories
from strategies import histories

from events.codec import decode_event, isoformat
from events.models import Category, Customer, Decision, LiableParty, RuledData
from projections.case import Case, accept_event, dump_case, load_case, settle
from projections.clocks import ClockRecord, Period, SlaState
from projections.complaint import STAGES, ComplaintState
from projections.evolve import evolve
from services.rules import load_rulebook
from services.settings import Settings
from tests.folding import cases_of
from tests.stored_format import stored_json
from tests.wire import received

RULES = load_rulebook(Settings())


def pydantic_json(case: Case) -> bytes:
    return stored_json(case)


# --- (a) the cases the core folds -----------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(history=histories(max_steps=20))
def test_every_case_of_a_history_dumps_as_pydantic_does(history: Any) -> None:
    """Amounts up to 10^12 CNY (and payments adding up past them), offsets Z, +00:00, +08:00,
    -05:00 and +05:30, Chinese names, quotes and line breaks."""
    for case in cases_of(history.events, RULES):
        assert dump_case(case) == pydantic_json(case)
        assert load_case(dump_case(case)) == case
        assert dump_case(load_case(dump_case(case))) == dump_case(case)  # pydantic's zones, written alike


@settings(max_examples=100, deadline=None)
@given(history=sla_histories(max_steps=16), later=st.integers(0, 30 * 86400))
def test_every_settled_case_dumps_as_pydantic_does(history: Any, later: int) -> None:
    """Clocks started, paused, restarted and stopped, notices, and alerts raised by settling
    each case some time after its last event."""
    for case in cases_of(history.events, RULES):
        settled = settle(case, RULES, case.complaint.last_event_at + timedelta(seconds=later)).case
        assert dump_case(case) == pydantic_json(case)
        assert dump_case(settled) == pydantic_json(settled)
        assert dump_case(load_case(dump_case(settled))) == dump_case(settled)


# --- (b) any valid case ---------------------------------------------------------------------

texts = st.text()  # every code point but surrogates: controls, quotes, backslashes, CJK, emoji
names = st.text(min_size=1, max_size=200)
maybe_texts = st.none() | texts
fixed_zones = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(
    timezone
)
whole_minute_zones = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
zones: st.SearchStrategy[tzinfo] = st.sampled_from([UTC, timezone(timedelta(hours=8))]) | (
    whole_minute_zones | fixed_zones | st.timezones()
)
aware = st.datetimes(timezones=zones)
moments = aware | st.datetimes()  # a plain `datetime` field takes a naive one too
decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal("0"), Decimal("1500.00"), Decimal("1E+5"), Decimal("0E-10"), Decimal("1E-7"), Decimal(10**40)]
)
amounts = decimals.filter(lambda amount: amount >= 0)  # Money: any non-negative Decimal given as one
counts = st.integers(0, 2**31) | st.integers()  # past 64 bits too
floats = st.floats() | st.sampled_from([0.0, -0.0, 1e-7, 12345.678, 1e16, 1e22, 5e-324, 1.7976931348623157e308])

customers = st.builds(
    Customer, name=names, phone=st.from_regex(r"\+?[0-9][0-9 -]{2,30}", fullmatch=True).filter(lambda p: len(p) <= 32)
)
rulings = st.builds(
    RuledData,
    decision=st.sampled_from(get_args(Decision)),
    amount=amounts,
    liable_party=st.sampled_from(get_args(LiableParty)),
    merchant_accepts=st.booleans(),
    customer_accepts=st.booleans(),
)
complaints = st.builds(
    ComplaintState,
    complaint_id=texts,
    stage=st.sampled_from(STAGES),
    owner_department=texts,
    department=texts,
    departments_seen=st.lists(texts, max_size=4).map(tuple),
    department_changes=counts,
    handler=maybe_texts,
    store=texts,
    merchant=maybe_texts,
    category=st.sampled_from(get_args(Category)),
    claim_amount=amounts,
    personal_injury=st.booleans(),
    media_involved=st.booleans(),
    customer=customers,
    received_at=aware,
    last_event_at=aware,
    lab_inspection_pending=st.booleans(),
    ruling=st.none() | rulings,
    paid_amount=decimals,
    satisfied=st.none() | st.booleans(),
    advanced_by_mall=decimals,
    repaid_by_merchant=decimals,
    version=counts,
    applied=st.dictionaries(texts, texts, max_size=4),
)
periods = st.builds(
    Period, started_at=moments, paused_seconds=floats, paused_at=st.none() | moments, ended_at=st.none() | moments
)
records = st.builds(ClockRecord, periods=st.lists(periods, max_size=3).map(tuple), stopped_at=st.none() | moments)
slas = st.builds(
    SlaState,
    policy_version=texts,
    clocks=st.dictionaries(texts, records, max_size=4),
    notices=st.dictionaries(texts, moments, max_size=3),
    raised=st.dictionaries(texts, moments, max_size=3),
)
cases = st.builds(Case, complaint=complaints, sla=slas, revision=counts)


@settings(max_examples=1000, deadline=None)
@given(case=cases)
def test_any_valid_case_dumps_as_pydantic_does(case: Case) -> None:
    assert dump_case(case) == pydantic_json(case)


# pydantic truncates an offset of seconds to minutes, orjson rounds it (to "-02:60", even)
ODD = timezone(timedelta(hours=-2, minutes=-59, seconds=-45))
SIMPLE = accept_event(None, decode_event(orjson.dumps(received("C-1"))), RULES)


def instant_everywhere(moment: datetime, policy_version: str) -> SlaState:
    """An SLA state with `moment` in every one of its datetime fields."""
    period = Period(started_at=moment, paused_seconds=1.5, paused_at=moment, ended_at=moment)
    return SlaState(
        policy_version=policy_version,
        clocks={"c": ClockRecord(periods=(period,), stopped_at=moment)},
        notices={"n": moment},
        raised={"r": moment},
    )


@settings(max_examples=300, deadline=None)
@given(case=cases, moment=st.datetimes(timezones=fixed_zones | st.timezones()))
@example(case=SIMPLE, moment=datetime(1900, 1, 1, 0, 0, 0, 100000, tzinfo=ODD))
@example(case=SIMPLE, moment=datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")))  # local mean time, +08:05:43
def test_any_instant_in_every_datetime_field_dumps_as_pydantic_does(case: Case, moment: datetime) -> None:
    """One instant in every datetime field of a case, plain and `Timestamp` alike: where orjson
    would write it otherwise than pydantic, the codec must notice wherever it is."""
    sla = instant_everywhere(moment, case.sla.policy_version)
    complaint = evolve(case.complaint, received_at=moment, last_event_at=moment)
    for changed in (
        Case(complaint=complaint, sla=case.sla, revision=case.revision),
        Case(complaint=case.complaint, sla=sla, revision=case.revision),
    ):
        assert dump_case(changed) == pydantic_json(changed)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=fixed_zones | st.timezones()) | st.datetimes())
@example(moment=datetime(1900, 1, 1, 0, 0, 0, 100000, tzinfo=ODD))
def test_a_case_read_back_is_written_as_pydantic_writes_it(moment: datetime) -> None:
    """pydantic reads every plain instant back in a zone of its own (`TzInfo`), which the codec
    learns as it learns the fold's: what it writes of a case it loaded is still pydantic's."""
    sla = instant_everywhere(moment, SIMPLE.sla.policy_version)
    loaded = load_case(dump_case(Case(complaint=SIMPLE.complaint, sla=sla, revision=1)))

    assert dump_case(loaded) == pydantic_json(loaded)


pydantic_zones = st.integers(-86_399, 86_399).map(TzInfo)
"""The zones of a case's instants read back from the table (pydantic's own, one per instant)."""


@settings(max_examples=500, deadline=None)
@given(moment=moments | st.datetimes(timezones=pydantic_zones))
@example(moment=datetime(1900, 1, 1, 0, 0, 0, 100000, tzinfo=timezone(timedelta(seconds=30))))
@example(moment=datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")))  # local mean time, +08:05:43
@example(moment=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-23, minutes=-59))))
def test_records_write_any_instant_as_isoformat_does(moment: datetime) -> None:
    """The state and alert records write their instants with orjson where it writes them as
    `isoformat()` does (`events.codec.isoformat`): the records compare byte for byte with those
    written before, and replay's with live ones."""
    assert isoformat(moment) == moment.isoformat()
