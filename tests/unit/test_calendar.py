"""The working-day calendar (DOMAIN.md R8): which days count, deadlines in working days, elapsed
working time, refusal outside the covered years, and the shipped mainland-China file."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.errors import ConfigurationError
from projections.calendar import CalendarNotCovered, WorkingDayCalendar, parse_calendar

SHANGHAI = timezone(timedelta(hours=8))
SHIPPED = Path(__file__).resolve().parents[2] / "projections" / "data" / "calendar-cn.toml"
CN = parse_calendar(SHIPPED.read_text(encoding="utf-8"))


def at(day: str, clock: str = "10:00") -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), SHANGHAI)


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        ("2025-03-12", True, "an ordinary Wednesday"),
        ("2025-03-15", False, "an ordinary Saturday"),
        ("2025-03-16", False, "an ordinary Sunday"),
        ("2025-01-26", True, "Sunday worked for 春节 (调休)"),
        ("2026-01-04", True, "Sunday worked for 元旦 (调休)"),
        ("2025-10-11", True, "Saturday worked for 国庆 (调休)"),
        ("2025-10-03", False, "a Friday inside 国庆"),
        ("2025-10-08", False, "the Wednesday that ends 国庆+中秋 2025"),
        ("2026-02-23", False, "the Monday that ends 春节 2026"),
        ("2025-01-01", False, "元旦 2025, one day"),
        ("2025-01-02", True, "the day after 元旦 2025"),
        ("2026-09-25", False, "中秋 2026, a Friday"),
        ("2027-01-01", False, "元旦 2027 (provisional), a Friday"),
        ("2027-02-05", False, "除夕 2027 (provisional), a Friday: a statutory day off since 2025"),
        ("2027-02-10", False, "the second weekday given back for 春节 2027's Saturday and Sunday (补假)"),
        ("2027-02-11", True, "the Thursday after 春节 2027: no 调休 is known before the notice"),
        ("2027-10-05", False, "the second weekday given back for 国庆 2027's weekend (补假)"),
    ],
)
def test_which_days_count(day: str, working: bool, why: str) -> None:
    assert CN.is_working_day(date.fromisoformat(day)) is working, why


@pytest.mark.parametrize(
    ("start", "days", "deadline", "why"),
    [
        (at("2025-03-14", "16:30"), 1, at("2025-03-17", "16:30"), "Friday + 1 is Monday, same time"),
        (at("2025-03-12"), 0, at("2025-03-12"), "zero days on a working day is the start itself"),
        (at("2025-09-30"), 1, at("2025-10-09"), "Oct 1-8 off: the next working day is Thursday Oct 9"),
        (at("2025-09-30"), 3, at("2025-10-11"), "Oct 9, Oct 10, then Saturday Oct 11 (调休)"),
        (at("2025-09-26"), 1, at("2025-09-28"), "Friday + 1 is Sunday Sep 28, worked for 国庆"),
        (at("2025-03-15"), 1, at("2025-03-18", "00:00"), "Saturday counts from Monday 00:00: all of Monday"),
        (at("2025-03-15"), 0, at("2025-03-17", "00:00"), "Saturday + 0 is the start of Monday"),
        (at("2025-10-03"), 1, at("2025-10-10", "00:00"), "inside a holiday: from Oct 9 00:00"),
        (at("2025-12-31"), 1, at("2026-01-04"), "across the year end, onto the 调休 Sunday"),
        (at("2026-02-13"), 3, at("2026-02-25"), "R8 containment across 春节 2026: Feb 14 (Sat), 24, 25"),
        (at("2026-12-18"), 10, at("2027-01-04"), "R8 correction across the year end: Dec 21-25, 28-31, Jan 4"),
        (at("2027-02-04"), 3, at("2027-02-15"), "R8 containment across 春节 2027 (provisional): Feb 11, 12, 15"),
        (at("2025-03-12"), 3, at("2025-03-17"), "R8 containment: Thu, Fri, Mon"),
        (at("2025-03-12"), 10, at("2025-03-26"), "R8 corrective action: two working weeks"),
        (at("2025-04-25"), 10, at("2025-05-13"), "R8 across 劳动节 2025: Apr 27 (Sun), 28-30, May 6-9, 12, 13"),
    ],
)
def test_add_working_days(start: datetime, days: int, deadline: datetime, why: str) -> None:
    result = CN.add_working_days(start, days)
    assert result == deadline, why
    assert result.tzinfo is start.tzinfo
    assert CN.working_seconds_between(start, result) == days * 86400


def test_dates_are_judged_in_the_starts_own_offset() -> None:
    friday_evening_utc = datetime(2025, 3, 14, 20, 0, tzinfo=UTC)  # Saturday 04:00 in Shanghai
    assert CN.add_working_days(friday_evening_utc, 1) == datetime(2025, 3, 17, 20, 0, tzinfo=UTC)
    assert CN.add_working_days(friday_evening_utc.astimezone(SHANGHAI), 1) == at("2025-03-18", "00:00")


def test_a_count_kept_for_a_day_answers_each_start_that_day_at_its_own_time() -> None:
    """The calendar keeps the counts it makes (the SLA judge asks at every settle of a complaint
    with a working-day clock): asked again for the same day, at another time, on a day off or in
    another offset, it answers as the first time."""
    calendar = parse_calendar(SHIPPED.read_text(encoding="utf-8"))
    expected = {
        at("2025-03-14", "09:00"): at("2025-03-19", "09:00"),
        at("2025-03-14", "16:30"): at("2025-03-19", "16:30"),
        at("2025-03-15", "08:00"): at("2025-03-20", "00:00"),  # Saturday: from Monday 00:00
        at("2025-03-15", "20:00"): at("2025-03-20", "00:00"),
        datetime(2025, 3, 14, 20, 0, tzinfo=UTC): datetime(2025, 3, 19, 20, 0, tzinfo=UTC),  # Friday in UTC
    }
    for _ in range(2):  # the second round is answered from the counts the first one kept
        assert {start: calendar.add_working_days(start, 3) for start in expected} == expected
    assert all(calendar.add_working_days(start, 3).tzinfo is start.tzinfo for start in expected)


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (at("2025-03-14", "10:00"), at("2025-03-14", "12:30"), 2.5 * 3600),
        (at("2025-03-14", "18:00"), at("2025-03-17", "06:00"), 12 * 3600),  # the weekend does not count
        (at("2025-03-15", "09:00"), at("2025-03-16", "18:00"), 0.0),
        (at("2025-09-30", "12:00"), at("2025-10-09", "12:00"), 86400.0),  # Oct 1-8 off
        (at("2025-03-17", "06:00"), at("2025-03-14", "18:00"), -12 * 3600),  # reversed: negative
        (at("2025-03-14", "10:00"), datetime(2025, 3, 14, 4, 0, tzinfo=UTC), 2 * 3600),  # 12:00 +08
    ],
)
def test_working_seconds_between(start: datetime, end: datetime, seconds: float) -> None:
    assert CN.working_seconds_between(start, end) == seconds


COVERED = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 11, 30), timezones=st.just(SHANGHAI))


@settings(max_examples=300, deadline=None)
@given(start=COVERED, days=st.integers(min_value=0, max_value=15))
def test_deadline_and_elapsed_working_time_agree(start: datetime, days: int) -> None:
    deadline = CN.add_working_days(start, days)
    assert deadline >= start
    assert CN.working_seconds_between(start, deadline) == days * 86400
    assert CN.is_working_day(deadline.date()) or (days == 0 and deadline.time() == time())


def test_a_year_outside_the_calendar_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarNotCovered) as raised:
        CN.is_working_day(date(2028, 1, 4))
    assert str(raised.value) == (
        "the working-day calendar 'cn-mainland' covers 2025-2027; 2028-01-04 is outside it:"
        " add that year's holidays to the calendar file"
    )
    assert isinstance(raised.value, ConfigurationError)
    with pytest.raises(CalendarNotCovered, match="2028-01-01"):
        CN.add_working_days(at("2027-12-30"), 3)  # Dec 31, then the first day of 2028 is asked about
    with pytest.raises(CalendarNotCovered, match="2024-12-31"):
        CN.working_seconds_between(at("2024-12-31"), at("2025-01-02"))
    assert CN.working_seconds_between(at("2027-12-31", "12:00"), at("2028-01-01", "00:00")) == 12 * 3600


HEADER = 'name = "test"\nsource = "unit test"\nyears = [2025]\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[holidays]]\nname = "元旦"\ndays_off = ["2026-01-01"]\n', "covers 2025 but 元旦 lists 2026-01-01"),
        (
            '[[holidays]]\nname = "春节"\ndays_off = ["2025-01-26"]\nworking_days = ["2025-01-26"]\n',
            "2025-01-26 is both a day off (春节) and a working day (春节)",
        ),
        (
            '[[holidays]]\nname = "X"\ndays_off = ["2025-01-28"]\nworking_days = ["2025-01-27"]\n',
            "2025-01-27, a weekday",
        ),
        ('[[holidays]]\nname = "X"\ndays_off = ["2025-13-01"]\n', "holidays.0.days_off.0"),
        ('[[holidays]]\nname = "X"\ndays_off = [20250101]\n', 'a date looks like "2025-01-28"'),
        ('[[holidays]]\nname = "X"\ndays_off = ["2025-01-01"]\nextra = 1\n', "holidays.0.extra"),
        ("[[holidays\n", "not valid TOML"),
        (
            'provisional_years = [2026]\n[[holidays]]\nname = "X"\ndays_off = ["2025-01-01"]\n',
            "covers 2025 but marks 2026 provisional: add it to `years`",
        ),
    ],
)
def test_parse_errors_say_what_to_fix(body: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_calendar(HEADER + body)


def test_native_toml_dates_and_non_consecutive_years() -> None:
    text = 'name = "t"\nsource = "s"\nyears = [2025, 2027]\n[[holidays]]\nname = "X"\ndays_off = [2025-01-01]\n'
    calendar = parse_calendar(text)
    assert calendar.holidays == {date(2025, 1, 1)}
    assert calendar.covered_through(date(2025, 3, 1)) == date(2025, 12, 31), "the gap ends its run"
    assert calendar.covered_through(date(2027, 3, 1)) == date(2027, 12, 31)
    with pytest.raises(CalendarNotCovered, match="covers 2025, 2027; 2026-06-01"):
        calendar.is_working_day(date(2026, 6, 1))


def test_the_shipped_file_covers_2025_and_2026_and_2027_provisionally() -> None:
    assert isinstance(CN, WorkingDayCalendar)
    assert CN.name == "cn-mainland"
    assert CN.years == (2025, 2026, 2027)
    assert CN.provisional_years == (2027,)
    assert "国务院办公厅" in CN.source
    assert {day.year for day in CN.holidays | CN.working_weekends} == {2025, 2026, 2027}
    assert len(CN.working_weekends) == 11  # 5 in 2025, 6 in 2026, as the notices list them; none known for 2027


@pytest.mark.parametrize(
    ("today", "edge"),
    [(date(2025, 1, 1), date(2027, 12, 31)), (date(2027, 12, 31), date(2027, 12, 31)), (date(2028, 1, 1), None)],
)
def test_the_calendar_says_how_far_it_reaches(today: date, edge: date | None) -> None:
    assert CN.covered_through(today) == edge


def test_a_provisional_year_has_the_laws_13_days_off_and_gives_back_those_on_a_weekend() -> None:
    # 全国年节及纪念日放假办法 (Decree No. 795): 元旦 1, 春节 4 (the eve and days 1-3), 清明 1, 劳动节 2,
    # 端午 1, 中秋 1, 国庆 3. In 2027 six of them fall on a Saturday or Sunday (Feb 6-7, May 1-2, Oct 2-3),
    # and six weekdays are given back: 19 dates listed, 13 of them weekdays.
    listed = sorted(day for day in CN.holidays if day.year == 2027)
    assert len(listed) == 19
    assert sum(day.weekday() < 5 for day in listed) == 13
    assert not [day for day in CN.working_weekends if day.year == 2027]


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_each_shipped_year_has_248_working_days(year: int) -> None:
    # 261 weekdays, less the weekday days off (18 in 2025, 19 in 2026, 13 in 2027), plus the weekends
    # worked (5, 6, none yet in provisional 2027): 调休 moves days off, it never adds any.
    days = [date(year, 1, 1) + timedelta(days=n) for n in range(366)]
    assert sum(CN.is_working_day(day) for day in days if day.year == year) == 248
