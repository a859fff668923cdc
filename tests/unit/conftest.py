"""Wire builders for the unit tests: every event starts as the JSON a channel would publish.

Each builder returns a plain dict in the wire shape (DOMAIN lifecycle: received → assigned →
inspected → ruled → paid → followed_up). Tests change what they care about with keyword
arguments, turn the dict into bytes with `wire`, and go through the real decoder (`decode`), so
the folds are always fed what `events.codec.decode_event` would hand them in production.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from events.codec import decode_event
from events.models import ComplaintEvent
from projections.complaint import ComplaintState, accept

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI)
"""Business time of the first event in a test; `minute=n` means n minutes later."""

_event_ids = itertools.count(1)


def at(minute: int) -> str:
    """The wire timestamp `minute` minutes after T0, with its +08:00 offset."""
    return (T0 + timedelta(minutes=minute)).isoformat()


def envelope(
    kind: str,
    data: dict[str, Any],
    *,
    complaint_id: str = "C-1001",
    event_id: str | None = None,
    minute: int = 0,
    occurred_at: str | None = None,
    source: str = "hotline",
    actor: str = "desk-1",
    schema_version: Any = 1,
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"E-{next(_event_ids)}",
        "complaint_id": complaint_id,
        "occurred_at": occurred_at or at(minute),
        "source": source,
        "actor": actor,
        "schema_version": schema_version,
        "type": kind,
        "data": data,
    }


def received(
    *,
    department: str = "repair",
    claim_amount: Any = "1500.00",
    phone: str = "13812345678",
    merchant: str | None = "Haier counter",
    other_departments: list[str] | None = None,
    **env: Any,
) -> dict[str, Any]:
    data = {
        "store": "Wanda Plaza",
        "department": department,
        "other_departments": other_departments or [],
        "merchant": merchant,
        "category": "quality",
        "claim_amount": claim_amount,
        "personal_injury": False,
        "media_involved": False,
        "customer": {"name": "Li Na", "phone": phone},
        "description": "water pump failed again after one replacement",
    }
    return envelope("received", data, **env)


def assigned(department: str = "repair", handler: str = "wang", **env: Any) -> dict[str, Any]:
    return envelope("assigned", {"department": department, "handler": handler}, **env)


def inspected(kind: str = "site", status: str = "reported", **env: Any) -> dict[str, Any]:
    data = {"kind": kind, "status": status, "findings": "", "liable_party": "undetermined"}
    return envelope("inspected", data, **env)


def ruled(decision: str = "refund", amount: Any = "1500.00", **env: Any) -> dict[str, Any]:
    data = {
        "decision": decision,
        "amount": amount,
        "liable_party": "merchant",
        "merchant_accepts": True,
        "customer_accepts": True,
    }
    return envelope("ruled", data, **env)


def paid(amount: Any = "1500.00", payer: str = "merchant", **env: Any) -> dict[str, Any]:
    data = {"payer": payer, "amount": amount, "documents": ["receipt", "settlement agreement"]}
    return envelope("paid", data, **env)


def followed_up(satisfied: bool = True, **env: Any) -> dict[str, Any]:
    return envelope("followed_up", {"satisfied": satisfied, "notes": ""}, **env)


def amended(claim_amount: Any = "2500.00", reason: str = "delivery fee added", **env: Any) -> dict[str, Any]:
    return envelope("amended", {"claim_amount": claim_amount, "reason": reason}, **env)


def repaid(amount: Any = "1500.00", **env: Any) -> dict[str, Any]:
    return envelope("repaid", {"amount": amount, "documents": ["transfer slip"]}, **env)


def wire(document: Any) -> bytes:
    return orjson.dumps(document)


def decode(document: dict[str, Any]) -> ComplaintEvent:
    return decode_event(wire(document))


def fold(*documents: dict[str, Any], state: ComplaintState | None = None) -> ComplaintState:
    """Decode and accept each document in order, starting from `state`."""
    for document in documents:
        state = accept(state, decode(document))
    assert state is not None, "fold needs at least one event"
    return state
