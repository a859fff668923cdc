"""Builders of wire-contract events as JSON-ready dicts, shared by every test tier.

Tests build dicts and send or decode bytes, so every test goes through the real decoder.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=CHINA)
_ids = itertools.count(1)


def event(
    kind: str,
    complaint_id: str,
    data: dict[str, Any],
    *,
    at: datetime = T0,
    event_id: str | None = None,
    source: str = "hotline",
    actor: str = "cs-017",
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"e-{next(_ids)}",
        "complaint_id": complaint_id,
        "type": kind,
        "occurred_at": at.isoformat(),
        "source": source,
        "actor": actor,
        "schema_version": 1,
        "data": data,
    }


def received(
    complaint_id: str, *, department: str = "客服中心", amount: str = "1500.00", at: datetime = T0, **overrides: Any
) -> dict[str, Any]:
    data = {
        "store": "旗舰店",
        "department": department,
        "other_departments": [],
        "merchant": "美美服饰",
        "category": "quality",
        "claim_amount": amount,
        "personal_injury": False,
        "media_involved": False,
        "customer": {"name": "张三", "phone": "13812345678"},
        "description": "衣服洗一次就褪色",
        **overrides,
    }
    return event("received", complaint_id, data, at=at)


def assigned(complaint_id: str, department: str, handler: str = "h-1", *, at: datetime = T0) -> dict[str, Any]:
    return event("assigned", complaint_id, {"department": department, "handler": handler}, at=at)


def inspected(complaint_id: str, kind: str = "lab", status: str = "requested", *, at: datetime = T0) -> dict[str, Any]:
    data = {"kind": kind, "status": status, "findings": "", "liable_party": "undetermined"}
    return event("inspected", complaint_id, data, at=at)


def ruled(
    complaint_id: str,
    decision: str = "refund",
    amount: str = "1500.00",
    *,
    merchant_accepts: bool = True,
    at: datetime = T0,
) -> dict[str, Any]:
    data = {
        "decision": decision,
        "amount": amount,
        "liable_party": "merchant",
        "merchant_accepts": merchant_accepts,
        "customer_accepts": True,
    }
    return event("ruled", complaint_id, data, at=at)


def paid(complaint_id: str, amount: str = "1500.00", payer: str = "merchant", *, at: datetime = T0) -> dict[str, Any]:
    data = {"payer": payer, "amount": amount, "documents": ["receipt", "settlement_agreement"]}
    return event("paid", complaint_id, data, at=at)


def followed_up(complaint_id: str, satisfied: bool = True, *, at: datetime = T0) -> dict[str, Any]:
    return event("followed_up", complaint_id, {"satisfied": satisfied, "notes": ""}, at=at)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def amended(
    complaint_id: str, claim_amount: str, reason: str = "the customer adds costs", *, at: datetime = T0
) -> dict[str, Any]:
    return event("amended", complaint_id, {"claim_amount": claim_amount, "reason": reason}, at=at)


def repaid(complaint_id: str, amount: str, *, at: datetime = T0) -> dict[str, Any]:
    return event("repaid", complaint_id, {"amount": amount, "documents": ["transfer slip"]}, at=at)
