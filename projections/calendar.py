"""The working-day calendar behind R8's clocks (containment in 3 working days, correction in 2 working
weeks). China moves working days every year (调休), so the calendar is data, parsed from a TOML string
(projections/data/calendar-cn.toml copies the State Council notices) and never extrapolated: a date in
a year the file does not cover raises `CalendarNotCovered` instead of guessing. A year the file marks
provisional is covered, by what the law fixes alone, until its notice is entered (the file says how);
the services warn while one is in use.

Rules, so that a deadline and the time left before it always agree:
- A date is judged in the offset of the datetime it comes from (+08:00 in practice).
- A day is a working day if the file lists it as a 调休 working day, else if it is not a day off and
  falls Monday to Friday.
- `add_working_days(start, n)`: the same time of day on the n-th working day after start's date. A
  start on a non-working day counts from 00:00 of the next working day (a complaint received on a
  Sunday gets all of Monday), so `working_seconds_between(start, deadline) == n * 86400` always.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from events.codec import describe_problems
from events.errors import ConfigurationError
from projections.derived import worked_out

_DAY = timedelta(days=1)
Counts = dict[tuple[date, int], tuple[date | None, date]]
"""(start day, working days) → (the first working day, if not the start day; the last): a
calendar's counts made (`WorkingDayCalendar._counted`)."""
_COUNTED_KEPT = 10_000
"""Counts a calendar keeps before starting afresh: a year of start days for each of a few budgets."""


class CalendarNotCovered(ConfigurationError):
    """A date falls in a year the working-day calendar does not cover; its file needs that year."""

    def __init__(self, calendar: WorkingDayCalendar, day: date) -> None:
        super().__init__(
            f"the working-day calendar {calendar.name!r} covers {_span(calendar.years)}; {day.isoformat()} is"
            " outside it: add that year's holidays to the calendar file"
        )
        self.calendar = calendar.name
        self.day = day


class WorkingDayCalendar(BaseModel):
    """Which days count on a working-day clock, for the listed years only."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    years: tuple[int, ...]
    holidays: frozenset[date] = frozenset()
    """Days off the notices list (weekends inside a holiday span may be listed too; harmless)."""
    working_weekends: frozenset[date] = frozenset()
    """调休: Saturdays and Sundays that are working days."""
    source: str = ""
    provisional_years: tuple[int, ...] = ()
    """Covered years whose days come from the law, not yet from their notice (no 调休 known)."""

    def is_working_day(self, day: date) -> bool:
        """Whether `day` counts; raises `CalendarNotCovered` outside the covered years."""
        if day.year not in self.years:
            raise CalendarNotCovered(self, day)
        if day in self.working_weekends:
            return True
        return day not in self.holidays and day.weekday() < 5

    def covered_through(self, day: date) -> date | None:
        """The last day of the run of covered years that `day` is in (the calendar's edge, as seen
        from `day`); None when `day` itself is not covered."""
        if day.year not in self.years:
            return None
        year = day.year
        while year + 1 in self.years:
            year += 1
        return date(year, 12, 31)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline `days` working days after `start`, in start's tzinfo (rules in the module doc).

        Raises `CalendarNotCovered` when the count reaches a year the calendar does not cover."""
        if days < 0:
            raise ValueError(f"add_working_days counts forward only; got {days} days")
        first, last = self._counted(start.date(), days)
        if first is not None:
            start = datetime.combine(first, time(), start.tzinfo)
        return start + (last - start.date())

    def _counted(self, start: date, days: int) -> tuple[date | None, date]:
        """(the working day a count from `start` begins on, if not `start` itself; the day it ends
        on). The SLA judge asks at every settle of a complaint with a working-day clock, for the
        same few start days: the counts are kept beside the calendar (`worked_out`), as a calendar
        never changes."""
        counts = worked_out(self, _no_counts)
        known = counts.get((start, days))
        if known is not None:
            return known
        first = None if self.is_working_day(start) else self._next_working_day(start)
        last = start if first is None else first
        for _ in range(days):
            last = self._next_working_day(last)
        if len(counts) >= _COUNTED_KEPT:
            counts.clear()
        counts[start, days] = (first, last)
        return first, last

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds from `start` to `end` that fall on working days (negative if `end` is earlier).

        Days are cut at midnight in start's tzinfo; this is the elapsed time of a working-day clock."""
        if end < start:
            return -self.working_seconds_between(end, start)
        if start.tzinfo is not None and end.tzinfo is not None:
            end = end.astimezone(start.tzinfo)
        total = timedelta()
        midnight = datetime.combine(start.date(), time(), start.tzinfo)
        while midnight < end:  # a day `end` only touches at 00:00 is not asked about (nor must be covered)
            if self.is_working_day(midnight.date()):
                total += min(end, midnight + _DAY) - max(start, midnight)
            midnight += _DAY
        return total.total_seconds()

    def _next_working_day(self, day: date) -> date:
        day += _DAY
        while not self.is_working_day(day):
            day += _DAY
        return day


def _iso_date(value: object) -> date:
    """A TOML date or an ISO string; never a number (pydantic would read 20250101 as a timestamp)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f'a date looks like "2025-01-28"; got {value!r}')


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Holiday(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    days_off: list[IsoDate] = Field(min_length=1)
    working_days: list[IsoDate] = []


class _CalendarFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    years: list[int] = Field(min_length=1)
    provisional_years: list[int] = []
    holidays: list[_Holiday]


def parse_calendar(text: str) -> WorkingDayCalendar:
    """Parse a calendar file's TOML text; `ConfigurationError` says what to fix.

    The file lists, per holiday, every day off of the notice's span (weekends included, as the
    notice reads) and the weekend days worked in exchange. Rejected: a date outside `years`, a
    date both off and worked, a listed working day that is not a Saturday or Sunday, a provisional
    year the file does not cover."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
        parsed = _CalendarFile.model_validate(document)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"the working-day calendar is not valid TOML: {error}") from None
    except ValidationError as error:
        raise ConfigurationError(f"the working-day calendar is not valid: {describe_problems(error)}") from None
    where = f"the working-day calendar {parsed.name!r}"
    years = tuple(sorted(set(parsed.years)))
    provisional = tuple(sorted(set(parsed.provisional_years)))
    if uncovered := [year for year in provisional if year not in years]:
        raise ConfigurationError(
            f"{where} covers {_span(years)} but marks {_span(tuple(uncovered))} provisional: add it to `years`"
            " with its days off, or drop it from `provisional_years`"
        )
    off = {day: holiday.name for holiday in parsed.holidays for day in holiday.days_off}
    worked = {day: holiday.name for holiday in parsed.holidays for day in holiday.working_days}
    for day, holiday in sorted((off | worked).items()):
        if day.year not in years:
            raise ConfigurationError(
                f"{where} covers {_span(years)} but {holiday} lists {day}: add {day.year} to `years` or drop the date"
            )
    if clash := min(off.keys() & worked.keys(), default=None):
        raise ConfigurationError(
            f"{where}: {clash} is both a day off ({off[clash]}) and a working day ({worked[clash]})"
        )
    for day, holiday in sorted(worked.items()):
        if day.weekday() < 5:
            raise ConfigurationError(
                f"{where}: {holiday} lists {day}, a weekday, as a working day: list only the Saturdays and"
                " Sundays worked in exchange (调休)"
            )
    return WorkingDayCalendar(
        name=parsed.name,
        years=years,
        holidays=frozenset(off),
        working_weekends=frozenset(worked),
        source=parsed.source,
        provisional_years=provisional,
    )


def _span(years: tuple[int, ...]) -> str:
    """`2025-2026` for consecutive years, else `2025, 2027`."""
    if len(years) > 1 and years == tuple(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}"
    return ", ".join(str(year) for year in years)


def _no_counts(calendar: WorkingDayCalendar) -> Counts:
    """A calendar's counts before it has made any."""
    return {}
