"""The simulator: deterministic, in the wire contract, ordered, and always accepted by the complaint fold."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

from events.codec import EVENT_ADAPTER, decode_event
from events.models import EVENT_TYPES
from events.types import MONEY_PATTERN
from projections.complaint import ComplaintState, accept
from services.simulate import simulate

START = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    return list(simulate(7, 500, START))


@pytest.fixture(scope="module")
def folded() -> tuple[list[dict[str, Any]], dict[str, ComplaintState]]:
    """Several seeds × 1,000 complaints, every event decoded and folded; any rejection fails the fixture."""
    events: list[dict[str, Any]] = []
    states: dict[str, ComplaintState] = {}
    for seed in SEEDS:
        for raw in simulate(seed, 1000, START):
            event = decode_event(orjson.dumps(raw))
            before = states.get(event.complaint_id)
            after = accept(before, event)
            assert after.version == (before.version + 1 if before else 1), f"event not applied: {raw}"
            states[event.complaint_id] = after
            events.append(raw)
    return events, states


def test_same_seed_same_stream_and_different_seed_different_stream() -> None:
    assert list(simulate(42, 200, START)) == list(simulate(42, 200, START))
    assert list(simulate(42, 200, START)) != list(simulate(43, 200, START))


def test_every_event_is_canonical_wire_contract(stream: list[dict[str, Any]]) -> None:
    for raw in stream:
        event = decode_event(orjson.dumps(raw))
        assert EVENT_ADAPTER.dump_python(event, mode="json") == raw  # nothing left to defaults, nothing lost
        assert raw["schema_version"] == 1
        assert raw["occurred_at"].endswith("+08:00")
        assert re.fullmatch(r"C-\d{8}-[0-9a-f]{8}-\d{6}", raw["complaint_id"])


def test_the_whole_stream_folds_without_rejection(folded: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    events, states = folded
    assert len(states) == 1000 * len(SEEDS)
    assert len(events) > 5 * len(states)


def test_occurred_at_never_goes_back_and_complaints_interleave(stream: list[dict[str, Any]]) -> None:
    moments = [datetime.fromisoformat(raw["occurred_at"]) for raw in stream]
    assert moments == sorted(moments)
    runs = sum(1 for _ in itertools.groupby(raw["complaint_id"] for raw in stream))
    assert runs > len(stream) * 0.9  # consecutive events almost always belong to different complaints


def test_event_ids_are_unique(folded: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    events, _ = folded
    assert len({raw["event_id"] for raw in events}) == len(events)


def test_all_event_types_appear(stream: list[dict[str, Any]]) -> None:
    operator_only = {"policy_adopted"}  # published by `complaintflow adopt-policy`, never by a channel
    assert {raw["type"] for raw in stream} == set(EVENT_TYPES) - operator_only


def test_a_mix_of_closed_and_open_complaints_at_the_end(
    folded: tuple[list[dict[str, Any]], dict[str, ComplaintState]],
) -> None:
    _, states = folded
    stages = Counter(state.stage for state in states.values())
    assert stages["closed"] > 0.85 * len(states)
    assert 0 < len(states) - stages["closed"] < 0.1 * len(states)
    assert {"assigned", "inspecting", "paid"} <= set(stages)


def test_amounts_are_decimal_strings(stream: list[dict[str, Any]]) -> None:
    amounts = [raw["data"][key] for raw in stream for key in ("claim_amount", "amount") if key in raw["data"]]
    assert amounts
    assert all(isinstance(amount, str) and re.fullmatch(MONEY_PATTERN, amount) for amount in amounts)


def test_claims_are_mostly_small_with_a_tail_and_rare_injuries(
    folded: tuple[list[dict[str, Any]], dict[str, ComplaintState]],
) -> None:
    states = list(folded[1].values())
    claims = [state.claim_amount for state in states]
    assert sum(claim < 2000 for claim in claims) > 0.75 * len(claims)
    assert 0 < sum(claim > 10_000 for claim in claims) < 0.05 * len(claims)
    injuries = [state for state in states if state.personal_injury]
    assert 0 < len(injuries) < 0.03 * len(states)
    assert all(state.category == "personal_injury" for state in injuries)
    assert all(state.merchant is None for state in states if state.category == "facility")
    assert all(re.fullmatch(r"1[3-9]\d{9}", state.customer.phone) for state in states)


def test_the_hard_paths_all_occur(folded: tuple[list[dict[str, Any]], dict[str, ComplaintState]]) -> None:
    events, states = folded
    by_complaint: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in events:
        by_complaint[raw["complaint_id"]].append(raw)
    lab_waits = [
        datetime.fromisoformat(reported["occurred_at"]) - datetime.fromisoformat(requested["occurred_at"])
        for history in by_complaint.values()
        for requested, reported in itertools.pairwise(e for e in history if e["type"] == "inspected")
        if requested["data"]["kind"] == "lab" and reported["data"]["kind"] == "lab"
    ]
    assert lab_waits
    assert min(lab_waits) >= timedelta(days=1)
    rulings = [raw["data"] for raw in events if raw["type"] == "ruled"]
    assert any(ruling["decision"] == "reject" for ruling in rulings)
    assert any(not ruling["merchant_accepts"] for ruling in rulings)
    assert any(raw["data"]["payer"] == "mall_advance" for raw in events if raw["type"] == "paid")
    assert any(  # reopened by an unsatisfied follow-up, then settled
        [e["data"]["satisfied"] for e in history if e["type"] == "followed_up"] == [False, True]
        for history in by_complaint.values()
    )
    assert any(state.department_changes >= 3 for state in states.values())  # buck-passing (R12)
    assert all(state.owner_department == state.departments_seen[0] for state in states.values())  # R1


def test_small_claims_are_mostly_ruled_within_the_hour(stream: list[dict[str, Any]]) -> None:
    small: dict[str, datetime] = {}  # complaint → received at, until its first ruling
    waits = []
    for raw in stream:
        if raw["type"] == "received" and Decimal(raw["data"]["claim_amount"]) < 2000:
            small[raw["complaint_id"]] = datetime.fromisoformat(raw["occurred_at"])
        elif raw["type"] == "ruled" and raw["complaint_id"] in small:
            waits.append(datetime.fromisoformat(raw["occurred_at"]) - small.pop(raw["complaint_id"]))
    assert sum(wait <= timedelta(hours=1) for wait in waits) > 0.7 * len(waits)
    assert any(wait > timedelta(hours=1) for wait in waits)  # some breach the clock


def test_naive_start_is_mall_time_and_zero_complaints_is_empty() -> None:
    first = next(simulate(1, 1, datetime(2025, 3, 1, 10, 0)))
    assert first["occurred_at"] == "2025-03-01T10:00:00+08:00"
    assert list(simulate(1, 0, START)) == []
    with pytest.raises(ValueError):
        next(simulate(1, 10, START, mean_gap_seconds=0))


def test_it_streams_rather_than_building_everything_first() -> None:
    events = simulate(1, 10**9, START)
    assert [raw["type"] for raw in itertools.islice(events, 1)] == ["received"]
