"""A clock's budget as the SLA judgement picks it (`projections.sla._Plan`, worked out once per
policy) is the one `ClockPolicy`'s rule gives, for any tiers, claim, category and restart."""

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


def by_the_rule(clock: ClockPolicy, claim: Decimal, category: str, *, restarted: bool) -> float:
    """`ClockPolicy`'s rule: the restart budget after a restart, if set; else the first tier the claim
    and category fit; else the last tier's."""
    if restarted and clock.restart_budget is not None:
        return clock.restart_budget
    fitting = [
        tier.budget
        for tier in clock.budgets
        if (tier.claim_below is None or claim < tier.claim_below)
        and (tier.claim_at_least is None or claim >= tier.claim_at_least)
        and (tier.categories is None or category in tier.categories)
    ]
    return fitting[0] if fitting else clock.budgets[-1].budget


@settings(max_examples=300, deadline=None)
@given(clock=clocks, claim=amounts, category=st.sampled_from(CATEGORIES), restarted=st.booleans())
def test_the_plan_picks_the_budget_the_policy_says(
    clock: ClockPolicy, claim: Decimal, category: str, restarted: bool
) -> None:
    policy = Policy(version="p", clocks=[clock])
    plan = _Plan(clock, policy)

    budget = plan.budget(claim, category, restarted=restarted)

    assert budget.seconds == by_the_rule(clock, claim, category, restarted=restarted)
    assert budget.span == timedelta(seconds=budget.seconds)
    assert budget.share == budget.span * (clock.warning_ratio or policy.warning_ratio)
