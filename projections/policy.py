"""The SLA policy: which clocks run, when they start, pause, restart and stop, their budgets and
escalation chains. Declared in TOML (projections/data/policy.toml ships DOMAIN.md's defaults) so a
mall changes its rules without touching code; validated here, parsed from text (no I/O).
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from events.codec import describe_problems
from events.errors import ConfigurationError
from events.models import Category, ComplaintEvent, EventType
from events.types import Money
from projections.triggers import Scalar, holds

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: object) -> float:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'a duration looks like "30m", "1h", "3d" or "45s"; got {value!r}')
    return float(match[1]) * _UNIT_SECONDS[match[2]]


Seconds = Annotated[float, BeforeValidator(_seconds)]
"""A duration written "30m"/"1h"/"3d"; in a working-days clock, "d" means working days."""

Calendar = Literal["continuous", "working_days"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trigger(_Strict):
    """An event type, and optionally values its `data` must have (a list means any of them)."""

    event: EventType
    where: dict[str, Scalar | list[Scalar]] = {}

    def matches(self, event: ComplaintEvent) -> bool:
        if event.type != self.event:
            return False
        return holds(self.where, event.data.__dict__)  # the data's fields, compared as written on the wire


class Tier(_Strict):
    """A budget that applies when the claim and category fit; the first fitting tier wins."""

    budget: Seconds
    claim_below: Money | None = None
    claim_at_least: Money | None = None
    categories: list[Category] | None = None


class Escalation(_Strict):
    """Who is told, `after` the deadline, while the clock is still not stopped."""

    level: int = Field(ge=1)
    notify: str
    after: Seconds = 0.0


class ClockPolicy(_Strict):
    """A clock: its triggers, its budgets and escalation chain. A period's budget is
    `restart_budget` for a period after a restart, if set; else that of the first tier the claim
    and category fit; else the last tier's (the SLA judgement applies it: `sla._Plan.budget`)."""

    name: str
    description: str = ""
    start: list[Trigger]
    stop: list[Trigger]
    pause: list[Trigger] = []
    resume: list[Trigger] = []
    restart: list[Trigger] = []
    budgets: list[Tier] = Field(min_length=1)
    restart_budget: Seconds | None = None
    calendar: Calendar = "continuous"
    warning_ratio: float | None = Field(default=None, gt=0, lt=1)
    escalation: list[Escalation] = []
    only_categories: list[Category] | None = None


class Policy(_Strict):
    version: str = Field(min_length=1)
    warning_ratio: float = Field(default=0.8, gt=0, lt=1)
    major_claim_threshold: Money = Decimal("10000")
    buck_passing_department_changes: int = Field(default=3, ge=1)
    calendar: str = "cn-mainland"
    clocks: list[ClockPolicy]

    def clock(self, name: str) -> ClockPolicy:
        for clock in self.clocks:
            if clock.name == name:
                return clock
        raise KeyError(name)


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """Parse and validate a policy file's text; `ConfigurationError` names every problem."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{source} is not valid TOML: {error}") from None
    try:
        policy = Policy.model_validate(document)
    except ValidationError as error:
        raise ConfigurationError(f"{source} is not a valid policy: {describe_problems(error)}") from None
    names = [clock.name for clock in policy.clocks]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{source} declares a clock twice: {sorted(names)}")
    return policy
