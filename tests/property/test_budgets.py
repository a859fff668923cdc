"""A clock's budget as the SLA judgement picks it (`projections.sla._Plan`, worked out once per
policy) is the one the policy says (`ClockPolicy.budget_for`), for any tiers, claim and category."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from events.models import Category
from projections.policy import ClockPolicy, Policy, Tier, Trigger
from projections.sla import _Plan

CATEGORIES: tuple[str, ...] = get_args(Category)
amounts = st.decimals(min_value=0, max_value=20_000, places=2)
durations = st.integers(1, 72).map(lambda hours: f"{hours}h")
tiers = st.builds(
    Tier,
    budget=durations,
    claim_below=st.none() | amounts.map(str),
    claim_at_least=st.none() | amounts.map(str),
    categories=st.none() | st.lists(st.sampled_from(CATEGORIES), max_size=3),
)
clocks = st.builds(
    ClockPolicy,
    name=st.just("settlement"),
    start=st.just([Trigger(event="received")]),
    stop=st.just([Trigger(event="paid")]),
    budgets=st.lists(tiers, min_size=1, max_size=4),
    restart_budget=st.none() | durations,
    warning_ratio=st.none() | st.floats(0.05, 0.95),
)


@settings(max_examples=300, deadline=None)
@given(clock=clocks, claim=amounts, category=st.sampled_from(CATEGORIES), restarted=st.booleans())
def test_the_plan_picks_the_budget_the_policy_says(
    clock: ClockPolicy, claim: Decimal, category: str, restarted: bool
) -> None:
    policy = Policy(version="p", clocks=[clock])
    plan = _Plan(clock, policy)

    budget = plan.budget(claim, category, restarted=restarted)

    assert budget.seconds == clock.budget_for(claim, category, restarted=restarted)
    assert budget.span == timedelta(seconds=budget.seconds)
    assert budget.share == budget.span * (clock.warning_ratio or policy.warning_ratio)
