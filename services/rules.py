"""Load the SLA rulebook (policy in force, earlier policy versions, calendar) from files.

The core (projections.case.Rulebook) never reads files; this is the edge that does. Every file
is validated at startup, so a bad policy stops the worker before it judges anything.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from events.errors import ConfigurationError
from projections.calendar import WorkingDayCalendar, parse_calendar
from projections.case import Rulebook
from projections.policy import Policy, parse_policy
from services.settings import Settings

SHIPPED = Path(__file__).resolve().parents[1] / "projections" / "data"
SHIPPED_POLICY = SHIPPED / "policy.toml"
SHIPPED_CALENDAR = SHIPPED / "calendar-cn.toml"
CALENDAR_NOTICE_DAYS = 45
"""A worker warns this long before its working-day calendar ends: a 10-working-day clock started
two weeks before the end already reaches past it, and the State Council publishes the next year's
notice in November."""


def load_rulebook(settings: Settings) -> Rulebook:
    current = _policy(settings.policy_file or SHIPPED_POLICY)
    earlier: dict[str, Policy] = {}
    history = sorted(settings.policy_history_dir.glob("*.toml")) if settings.policy_history_dir else []
    for path in history:
        policy = _policy(path)
        if policy.version == current.version:
            continue
        if policy.version in earlier:
            raise ConfigurationError(
                f"{path}: policy version {policy.version!r} appears twice in the history directory"
            )
        earlier[policy.version] = policy
    calendar_file = calendar_path(settings)
    calendar = parse_calendar(_read(calendar_file))
    for policy in (current, *earlier.values()):
        if policy.calendar != calendar.name:
            raise ConfigurationError(
                f"policy {policy.version!r} counts working days in calendar {policy.calendar!r}, but {calendar_file} "
                f"is {calendar.name!r}: set COMPLAINTFLOW_CALENDAR_FILE to the right calendar"
            )
    skew = timedelta(seconds=settings.max_clock_skew_seconds)
    return Rulebook(current=current, earlier=earlier, calendar=calendar, max_clock_skew=skew)


def calendar_path(settings: Settings) -> Path:
    return settings.calendar_file or SHIPPED_CALENDAR


def working_day_calendar(rules: Rulebook) -> WorkingDayCalendar | None:
    """The rulebook's calendar as its file gave it (the core sees only `WorkingDays`); None without one."""
    return rules.calendar if isinstance(rules.calendar, WorkingDayCalendar) else None


def calendar_warnings(rules: Rulebook, settings: Settings, today: date) -> list[str]:
    """What a worker says about its working-day calendar: that it ends soon (a clock whose deadline
    falls after the end cannot be judged, and its event is rejected until the next year is in the
    file), and that it holds a year not yet from its notice (deadlines still count there, by the
    law's days off, and may move once the notice is entered)."""
    calendar = working_day_calendar(rules)
    if calendar is None:
        return []
    where = f"the working-day calendar {calendar.name!r} ({calendar_path(settings)})"
    warnings = []
    end = calendar.covered_through(today)
    if end is None or (end - today).days < CALENDAR_NOTICE_DAYS:
        ends = f"does not cover today ({today})" if end is None else f"ends on {end}, in {(end - today).days} days"
        warnings.append(
            f"{where} {ends}: an event whose working-day clock reaches past it is rejected (processing_failed) until"
            " that year is in the file; add it from the State Council's notice, or provisionally from the law's days"
            " off, then restart the workers and `complaintflow redrive` (docs/sla.md)"
        )
    if calendar.provisional_years:
        years = ", ".join(str(year) for year in calendar.provisional_years)
        warnings.append(
            f"{where} is provisional for {years}: it holds the days off the law fixes, not yet the State Council's"
            " notice (its 调休), so working-day deadlines across 春节, 劳动节 or 国庆 may move by a few days once the"
            " notice is entered in that file (docs/sla.md says how)"
        )
    return warnings


def _policy(path: Path) -> Policy:
    return parse_policy(_read(path), source=str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
