"""Loading the rulebook from files, and what a worker says about its working-day calendar: that it
holds a provisional year, and that it ends soon."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from services.rules import CALENDAR_NOTICE_DAYS, SHIPPED_CALENDAR, calendar_warnings, load_rulebook
from services.settings import Settings

CHINA = timezone(timedelta(hours=8))


def test_the_shipped_calendar_counts_its_provisional_year_and_says_so_with_what_to_do() -> None:
    settings = Settings(calendar_file=None)
    rules = load_rulebook(settings)
    assert rules.calendar is not None  # containment from Feb 4, 2027 skips 春节's days off and their 补假
    assert rules.calendar.add_working_days(datetime(2027, 2, 4, 10, tzinfo=CHINA), 3) == datetime(
        2027, 2, 15, 10, tzinfo=CHINA
    )
    (warning,) = calendar_warnings(rules, settings, date(2026, 12, 6))
    assert "'cn-mainland'" in warning and "is provisional for 2027" in warning
    assert str(SHIPPED_CALENDAR) in warning and "docs/sla.md" in warning


def test_a_calendar_that_ends_soon_says_when_and_what_to_do(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('name = "cn-mainland"\nsource = "a test"\nyears = [2025]\nholidays = []\n', encoding="utf-8")
    settings = Settings(calendar_file=calendar)
    rules = load_rulebook(settings)
    end = date(2025, 12, 31)

    assert calendar_warnings(rules, settings, end - timedelta(days=CALENDAR_NOTICE_DAYS)) == []
    (soon,) = calendar_warnings(rules, settings, end - timedelta(days=CALENDAR_NOTICE_DAYS - 1))
    assert f"({calendar}) ends on 2025-12-31, in {CALENDAR_NOTICE_DAYS - 1} days" in soon
    assert "rejected (processing_failed)" in soon and "`complaintflow redrive`" in soon
    (past,) = calendar_warnings(rules, settings, date(2026, 1, 1))
    assert "does not cover today (2026-01-01)" in past
