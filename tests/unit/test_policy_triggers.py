"""A policy trigger's `where` compares an event's data as the event's JSON writes it: amounts by
value whatever their written form, booleans and words exactly, a list as any of its values."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import decode, inspected, paid, ruled

from projections.derived import worked_out
from projections.policy import Policy, Trigger, parse_policy


@pytest.mark.parametrize(("written", "matches"), [("0", True), ("0.00", True), ("0.5", False), ("10", False)])
def test_an_amount_condition_compares_values_not_written_forms(written: str, matches: bool) -> None:
    trigger = Trigger(event="ruled", where={"amount": "0"})

    assert trigger.matches(decode(ruled(amount=written))) is matches


def test_a_boolean_condition_is_not_met_by_a_word_or_a_number() -> None:
    refused = decode(ruled() | {"data": {**ruled()["data"], "merchant_accepts": False}})

    assert Trigger(event="ruled", where={"merchant_accepts": False}).matches(refused)
    assert not Trigger(event="ruled", where={"merchant_accepts": "false"}).matches(refused)
    assert not Trigger(event="ruled", where={"merchant_accepts": 0}).matches(refused)


def test_a_list_is_any_of_its_values_and_every_condition_must_hold() -> None:
    report = decode(inspected(kind="lab", status="reported"))
    trigger = Trigger(event="inspected", where={"status": "reported", "liable_party": ["merchant", "undetermined"]})

    assert trigger.matches(report)
    assert not Trigger(event="inspected", where={"status": "requested", "liable_party": "undetermined"}).matches(report)


def test_another_event_type_or_a_field_the_data_lacks_never_matches() -> None:
    assert not Trigger(event="paid", where={"payer": "merchant"}).matches(decode(ruled()))
    assert not Trigger(event="paid", where={"decision": "refund"}).matches(decode(paid()))
    assert Trigger(event="paid", where={"payer": "mall_advance"}).matches(decode(paid(payer="mall_advance")))


def test_what_is_worked_out_from_a_policy_is_worked_out_once_per_policy_object() -> None:
    """The fold and the SLA judgement derive indexes and plans from a policy once, not per event;
    an equal policy loaded again is another object and gets its own."""
    text = (Path(__file__).resolve().parents[2] / "projections/data/policy.toml").read_text()
    first, again = parse_policy(text), parse_policy(text)
    calls: list[str] = []

    def derive(policy: Policy) -> object:
        calls.append(policy.version)
        return object()

    derived = worked_out(first, derive)

    assert worked_out(first, derive) is derived
    assert worked_out(again, derive) is not derived
    assert calls == [first.version, again.version]
