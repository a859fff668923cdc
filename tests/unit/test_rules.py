"""Loading the rulebook from files: a calendar with a provisional year is used, and a worker says so."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.rules import SHIPPED_CALENDAR, load_rulebook, provisional_calendar_warning
from services.settings import Settings

CHINA = timezone(timedelta(hours=8))


def test_the_shipped_calendar_counts_its_provisional_year_and_the_warning_says_what_to_do() -> None:
    settings = Settings(calendar_file=None)
    rules = load_rulebook(settings)
    assert rules.calendar is not None  # containment from Feb 4, 2027 skips 春节's days off and their 补假
    assert rules.calendar.add_working_days(datetime(2027, 2, 4, 10, tzinfo=CHINA), 3) == datetime(
        2027, 2, 15, 10, tzinfo=CHINA
    )
    warning = provisional_calendar_warning(rules, settings)
    assert warning is not None
    assert "'cn-mainland'" in warning and "is provisional for 2027" in warning
    assert str(SHIPPED_CALENDAR) in warning and "docs/sla.md" in warning


def test_a_calendar_of_notices_only_gives_no_warning(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('name = "cn-mainland"\nsource = "a test"\nyears = [2025]\nholidays = []\n', encoding="utf-8")
    settings = Settings(calendar_file=calendar)
    assert provisional_calendar_warning(load_rulebook(settings), settings) is None
