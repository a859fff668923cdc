"""The rejected record keeps the original bytes, within what a Kafka message can carry."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from events.errors import InvalidEvent
from services.rejections import (
    MAX_KEY_BYTES,
    MAX_ORIGINAL_BYTES,
    original_value,
    rejected_key,
    rejection_record,
)


def record_of(value: bytes | None, key: bytes | None = b"C-1", reason: str = "bad") -> dict:
    raw = rejection_record(InvalidEvent(reason), key=key, value=value, topic="complaints.events", partition=1, offset=7)
    return orjson.loads(raw)


@pytest.mark.parametrize("value", [b"", b"{not json", bytes(range(256)), b"x" * MAX_ORIGINAL_BYTES])
def test_a_value_that_fits_travels_whole(value: bytes) -> None:
    record = record_of(value)

    assert original_value(record) == value
    assert (record["value_size"], record["value_truncated"]) == (len(value), False)
    assert record["value_sha256"] == hashlib.sha256(value).hexdigest()


def test_a_value_too_big_for_a_rejection_keeps_its_head_size_and_digest() -> None:
    value = b"y" * (MAX_ORIGINAL_BYTES + 1)

    record = record_of(value)

    assert base64.b64decode(record["value_base64"]) == value[:MAX_ORIGINAL_BYTES]
    assert (record["value_size"], record["value_truncated"]) == (len(value), True)
    assert record["value_sha256"] == hashlib.sha256(value).hexdigest()
    with pytest.raises(ValueError, match="source topic, partition and offset"):
        original_value(record)


def test_a_null_value_is_recorded_as_empty() -> None:
    record = record_of(None)

    assert original_value(record) == b"" and record["value_size"] == 0


def test_an_overlong_reason_and_key_are_cut_to_size() -> None:
    record = record_of(b"{}", key=b"k" * (MAX_KEY_BYTES * 5), reason="r" * 100_000)

    assert len(record["reason"]) <= 2000
    assert len(record["key"]) == MAX_KEY_BYTES
    assert rejected_key(b"k" * (MAX_KEY_BYTES + 1)) is None
    assert rejected_key(b"C-1") == b"C-1"
