"""The record a rejected message becomes on `complaints.rejected`: reason, position, original bytes.

The original bytes travel with the reason, up to `MAX_ORIGINAL_BYTES`: a rejection must itself fit
in a Kafka message, and a 10 MB value would not. Beyond that the record keeps the first bytes, the
size and a SHA-256 digest; the whole original stays in complaints.events (never deleted) at the
recorded position, where `redrive` reads it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from events.errors import Rejection

MAX_ORIGINAL_BYTES = 256 * 1024
MAX_KEY_BYTES = 1024
MAX_REASON_CHARS = 2000


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
    original = value or b""
    record: dict[str, Any] = {
        "reason_code": rejection.code,
        "reason": rejection.reason[:MAX_REASON_CHARS],
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "complaint_id": rejection.complaint_id,
        "event_id": rejection.event_id,
        "key": None if key is None else key[:MAX_KEY_BYTES].decode("utf-8", errors="replace"),
        "value_base64": base64.b64encode(original[:MAX_ORIGINAL_BYTES]).decode("ascii"),
        "value_size": len(original),
        "value_sha256": hashlib.sha256(original).hexdigest(),
        "value_truncated": len(original) > MAX_ORIGINAL_BYTES,
        "rejected_at": (rejected_at or datetime.now(UTC)).isoformat(),
    }
    return orjson.dumps(record)


def original_value(record: dict[str, Any]) -> bytes:
    """The bytes that were rejected, when the record holds all of them (see `value_truncated`)."""
    if record.get("value_truncated"):
        raise ValueError("the rejected value was truncated: read it from its source topic, partition and offset")
    return base64.b64decode(record["value_base64"])


def rejected_key(key: bytes | None) -> bytes | None:
    """The rejected record's key: the original key, unless it is too long to be a key at all."""
    return key if key is None or len(key) <= MAX_KEY_BYTES else None
