"""The record a rejected message becomes on `complaints.rejected`: reason, position, original bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from events.errors import Rejection


def rejection_record(
    rejection: Rejection,
    *,
    key: bytes | None,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    rejected_at: datetime | None = None,
) -> bytes:
    """JSON for the rejected topic; the original bytes travel base64-encoded so nothing is lost."""
    record: dict[str, Any] = {
        "reason_code": rejection.code,
        "reason": rejection.reason,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "complaint_id": rejection.complaint_id,
        "event_id": rejection.event_id,
        "key": None if key is None else key.decode("utf-8", errors="replace"),
        "value_base64": base64.b64encode(value or b"").decode("ascii"),
        "rejected_at": (rejected_at or datetime.now(UTC)).isoformat(),
    }
    return orjson.dumps(record)


def original_value(record: dict[str, Any]) -> bytes:
    """The bytes that were rejected, for redrive and audits."""
    return base64.b64decode(record["value_base64"])
