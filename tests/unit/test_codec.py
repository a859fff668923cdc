"""The codec is the one door into the system: bad bytes become a specific Rejection, good ones a model."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from conftest import assigned, decode, followed_up, inspected, paid, received, ruled, wire

from events import types
from events.codec import EVENT_ADAPTER, decode_event, encode_event, fingerprint
from events.errors import InvalidEvent, Rejection, UndecodableEvent, UnsupportedEvent
from events.types import in_zone

ONE_OF_EACH = {
    "received": received,
    "assigned": assigned,
    "inspected": inspected,
    "ruled": ruled,
    "paid": paid,
    "followed_up": followed_up,
}


def rejection_of(raw: bytes | None) -> Rejection:
    with pytest.raises(Rejection) as caught:
        decode_event(raw)
    return caught.value


def with_field(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `document` with the dotted `path` set to `value`."""
    changed = copy.deepcopy(document)
    *parents, leaf = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    target[leaf] = value
    return changed


def without_field(document: dict[str, Any], path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, leaf = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    del target[leaf]
    return changed


# --- bytes that are not a JSON object -------------------------------------------------------


def test_bytes_that_are_not_utf8_are_undecodable_and_say_where():
    raw = b'{"type": "received", "actor": "\xff\xfe"}'

    bad_byte_at = raw.index(0xFF)

    error = rejection_of(raw)

    assert type(error) is UndecodableEvent
    assert error.code == "undecodable"
    assert "not UTF-8" in str(error)
    assert f"position {bad_byte_at}" in str(error)


@pytest.mark.parametrize("raw", [b"", None], ids=["empty", "null value"])
def test_an_empty_message_or_a_null_value_is_undecodable(raw: bytes | None) -> None:
    """A Kafka record's value may be null (a tombstone): a rejection like an empty message, never a
    TypeError from the codec's compiled argument checks (which the worker would count as a bug)."""
    error = rejection_of(raw)

    assert type(error) is UndecodableEvent
    assert error.code == "undecodable"
    assert str(error) == "empty message: expected a JSON event"


@pytest.mark.parametrize("raw", [b"{", b"{'type': 'received'}", b"received", b'{"a": 1,}', b"   "])
def test_text_that_is_not_json_is_undecodable(raw):
    error = rejection_of(raw)

    assert type(error) is UndecodableEvent
    assert error.code == "undecodable"
    assert str(error).startswith("not JSON")
    assert "line 1" in str(error)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[]", "list"),
        (b'[{"type": "received"}]', "list"),
        (b'"received"', "str"),
        (b"42", "int"),
        (b"null", "NoneType"),
        (b"1.5", "float"),
    ],
)
def test_json_that_is_not_an_object_is_undecodable_and_names_what_arrived(raw, kind):
    error = rejection_of(raw)

    assert type(error) is UndecodableEvent
    assert error.code == "undecodable"
    assert "expected a JSON object" in str(error)
    assert kind in str(error)


# --- objects that break the contract -------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (received(), "data.claim_amount"),
        (received(), "data.customer.phone"),
        (received(), "data.merchant"),
        (received(), "occurred_at"),
        (received(), "event_id"),
        (assigned(), "data.handler"),
        (ruled(), "data.merchant_accepts"),
        (paid(), "data.amount"),
    ],
)
def test_a_missing_field_is_invalid_and_named_by_its_path(document, path):
    error = rejection_of(wire(without_field(document, path)))

    assert type(error) is InvalidEvent
    assert error.code == "invalid"
    assert f"{path}: Field required" in str(error)


@pytest.mark.parametrize(
    ("document", "path", "value", "hint"),
    [
        (received(), "data.claim_amount", 1500.0, "decimal string"),
        (received(), "data.claim_amount", 1500, "decimal string"),
        (received(), "data.claim_amount", "1,500.00", "1500.00"),
        (received(), "data.claim_amount", "-5.00", "no sign"),
        (received(), "data.claim_amount", "1500.005", "at most 2 decimals"),
        (received(), "data.claim_amount", "1e3", "1500.00"),
        (received(), "data.personal_injury", "true", "boolean"),
        (received(), "data.media_involved", 1, "boolean"),
        (received(), "data.category", "rudeness", "quality"),
        (received(), "data.customer.phone", "call me", "pattern"),
        (received(), "data.other_departments", "sales", "list"),
        (assigned(), "data.handler", 7, "string"),
        (assigned(), "data.department", "", "at least 1 character"),
        (ruled(), "data.decision", "apologise", "refund"),
        (ruled(), "data.amount", 99.5, "decimal string"),
        (paid(), "data.payer", "customer", "mall_advance"),
        (followed_up(), "data.satisfied", "yes", "boolean"),
        (inspected(), "data.kind", "x-ray", "lab"),
        (received(), "source", "fax", "hotline"),
        (received(), "occurred_at", 1714528800, "ISO 8601"),
        (received(), "schema_version", "1", "1"),
        (received(), "data", [], "dictionary"),
    ],
)
def test_a_field_of_the_wrong_type_is_invalid_and_the_message_says_what_to_send(document, path, value, hint):
    error = rejection_of(wire(with_field(document, path, value)))

    assert type(error) is InvalidEvent
    assert error.code == "invalid"
    assert str(error).startswith(f"{path}: ")
    assert hint in str(error)


def test_an_amount_as_a_json_number_is_rejected_so_no_money_passes_through_a_float():
    error = rejection_of(wire(with_field(received(), "data.claim_amount", 0.1)))

    assert (
        str(error)
        == 'data.claim_amount: Value error, an amount must be a decimal string like "1500.00" (CNY), got float'
    )


@pytest.mark.parametrize(
    ("document", "path"),
    [(received(), "data.colour"), (received(), "data.customer.email"), (assigned(), "priority"), (paid(), "data.iban")],
)
def test_an_unknown_field_is_invalid_rather_than_silently_dropped(document, path):
    error = rejection_of(wire(with_field(document, path, "x")))

    assert type(error) is InvalidEvent
    assert error.code == "invalid"
    assert f"{path}: Extra inputs are not permitted" in str(error)


@pytest.mark.parametrize("path", ["data.paid", "received"])
def test_an_unknown_field_named_like_an_event_type_is_still_named(path):
    error = rejection_of(wire(with_field(ruled(), path, True)))

    assert type(error) is InvalidEvent
    assert f"{path}: Extra inputs are not permitted" in str(error)


def test_every_problem_is_listed_not_just_the_first():
    document = with_field(with_field(received(), "data.claim_amount", 12.5), "data.personal_injury", "no")
    document = without_field(document, "actor")

    error = rejection_of(wire(document))

    problems = str(error).split("; ")
    assert sorted(problem.split(":")[0] for problem in problems) == [
        "actor",
        "data.claim_amount",
        "data.personal_injury",
    ]


def test_an_invalid_event_keeps_its_ids_for_the_rejected_topic():
    document = with_field(received(complaint_id="C-77", event_id="E-77"), "data.claim_amount", 3)

    error = rejection_of(wire(document))

    assert (error.complaint_id, error.event_id) == ("C-77", "E-77")


def test_an_object_without_a_type_is_invalid():
    error = rejection_of(wire(without_field(received(), "type")))

    assert type(error) is InvalidEvent
    assert "(event)" in str(error)
    assert "'type'" in str(error)


@pytest.mark.parametrize("kind", ["escalated", "Received", "", 5, None])
def test_an_unknown_event_type_is_unsupported_and_lists_the_known_ones(kind):
    document = with_field(assigned(complaint_id="C-9", event_id="E-9"), "type", kind)

    error = rejection_of(wire(document))

    assert type(error) is UnsupportedEvent
    assert error.code == "unsupported"
    assert f"unknown event type {kind!r}" in str(error)
    assert "received, assigned, inspected, ruled, paid, followed_up" in str(error)
    assert (error.complaint_id, error.event_id) == ("C-9", "E-9")


def test_a_very_long_unknown_type_is_shown_cut_short():
    error = rejection_of(wire(with_field(assigned(), "type", "x" * 10_000)))

    assert type(error) is UnsupportedEvent
    assert len(str(error)) < 300


@pytest.mark.parametrize("version", [2, 17])
def test_a_future_schema_version_is_unsupported_and_says_to_upgrade(version):
    error = rejection_of(wire(received(schema_version=version)))

    assert type(error) is UnsupportedEvent
    assert error.code == "unsupported"
    assert f"schema_version {version} is newer" in str(error)
    assert "upgrade" in str(error)


@pytest.mark.parametrize("version", [0, -1, None, 2.0])
def test_a_schema_version_that_never_existed_is_invalid(version):
    error = rejection_of(wire(received(schema_version=version)))

    assert type(error) is InvalidEvent
    assert str(error).startswith("schema_version: ")


@pytest.mark.parametrize("version", [True, 1.0])
def test_a_schema_version_that_is_not_the_integer_one_is_invalid(version):
    error = rejection_of(wire(received(schema_version=version)))

    assert type(error) is InvalidEvent
    assert str(error).startswith("schema_version: ")


@pytest.mark.parametrize(
    "moment",
    [
        "2024-05-01T10:00:00",
        "2024-05-01 10:00",
        "2024-05-01T10:00:00z",
        "2024-05-01T10:00:00+08:00 or later",
        "Z ",
        "2024-05-01+08:00",  # fromisoformat reads it as 08:00 without an offset, "+" the separator
    ],
)
def test_a_timestamp_without_offset_is_invalid(moment):
    error = rejection_of(wire(received(occurred_at=moment)))

    assert type(error) is InvalidEvent
    assert str(error).startswith("occurred_at: ")
    assert "offset" in str(error)
    assert repr(moment) in str(error)


@pytest.mark.parametrize(
    "moment",
    ["2024-13-01T10:00:00+08:00", "yesterday+08:00", "2024-05-01T10:00:00+25:00", "2024-05-01T10:00:00+08:00\n", "Z"],
)
def test_a_timestamp_that_is_not_iso_8601_is_invalid(moment):
    error = rejection_of(wire(received(occurred_at=moment)))

    assert type(error) is InvalidEvent
    assert "not an ISO 8601 timestamp" in str(error)


def test_timestamps_at_one_offset_share_one_zone_and_keep_what_they_say():
    """The fold and the SLA judgement compare a complaint's instants at every step; Python compares
    two with the same zone object by their fields, and otherwise asks each zone for its offset."""
    first = decode(received(occurred_at="2024-05-01T10:00:00+08:00")).occurred_at
    second = decode(assigned(occurred_at="2024-05-02T11:30:00.250000+08:00")).occurred_at
    elsewhere = decode(received(occurred_at="2024-05-01T10:00:00-05:30")).occurred_at

    assert first.tzinfo is second.tzinfo
    assert elsewhere.tzinfo is not first.tzinfo
    assert (first.isoformat(), second.isoformat()) == ("2024-05-01T10:00:00+08:00", "2024-05-02T11:30:00.250000+08:00")
    assert elsewhere.isoformat() == "2024-05-01T10:00:00-05:30"


def test_a_zone_remembered_for_an_offset_never_changes_the_offset_a_timestamp_was_written_with(monkeypatch):
    """Timestamps find their shared zone by the offset's text; were the zone remembered for a text
    ever another offset's, a timestamp must still keep the offset it was written with."""
    monkeypatch.setitem(types._ZONE_WRITTEN, "+08:00", timezone(timedelta(hours=5)))

    moment = decode(received(occurred_at="2024-05-01T10:00:00+08:00")).occurred_at

    assert moment.isoformat() == "2024-05-01T10:00:00+08:00"


def test_a_timestamp_at_the_edge_of_the_calendar_is_read_in_its_own_zone():
    """Moving an instant within a day of year 1 into the shared zone object would pass through UTC
    and overflow: it keeps the zone it was read with."""
    decode(received(occurred_at="2024-05-01T10:00:00+08:00"))  # the shared +08:00 zone exists

    earliest = decode(received(occurred_at="0001-01-01T00:00:00+08:00")).occurred_at

    assert earliest.isoformat() == "0001-01-01T00:00:00+08:00"


def test_an_instant_moved_into_a_zone_is_that_instant_there_whatever_was_moved_before():
    """`in_zone` remembers its last move: asked for the same instant in another zone, or for another
    instant in the same zone, it must answer what it is asked, not what it remembered."""
    shanghai, kolkata = timezone(timedelta(hours=8)), timezone(timedelta(hours=5, minutes=30))
    logged = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    same_instant = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)

    in_shanghai = in_zone(logged, shanghai)
    again = in_zone(logged, shanghai)
    in_kolkata = in_zone(logged, kolkata)
    later = in_zone(logged + timedelta(minutes=5), kolkata)
    equal = in_zone(same_instant, kolkata)

    assert again is in_shanghai and (in_shanghai.tzinfo, in_shanghai.hour) == (shanghai, 10)
    assert (in_kolkata.tzinfo, in_kolkata.hour, in_kolkata.minute) == (kolkata, 7, 30)
    assert (later.tzinfo, later.hour, later.minute) == (kolkata, 7, 35)
    assert equal == logged and equal.tzinfo is kolkata
    assert in_zone(logged, None) is logged and in_zone(in_shanghai, shanghai) is in_shanghai


def test_a_timestamp_keeps_its_offset_and_z_means_utc():
    shanghai = decode(received(occurred_at="2024-05-01T10:00:00+08:00"))
    utc = decode(received(occurred_at="2024-05-01T02:00:00Z"))

    assert shanghai.occurred_at.isoformat() == "2024-05-01T10:00:00+08:00"
    assert utc.occurred_at.isoformat() == "2024-05-01T02:00:00+00:00"
    assert shanghai.occurred_at == utc.occurred_at


@pytest.mark.parametrize("opening,closing", [(b"[", b"]"), (b'{"a":', b"}")])
def test_a_deeply_nested_type_is_rejected_not_a_crash(opening, closing):
    depth = 1020
    leaf = b"1" if opening.startswith(b"{") else b""
    raw = b'{"type":' + opening * depth + leaf + closing * depth + b"}"

    error = rejection_of(raw)

    assert type(error) is UnsupportedEvent
    assert str(error).startswith("unknown event type (a JSON ")


# --- the canonical form ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ONE_OF_EACH))
def test_encode_then_decode_gives_the_same_event(kind):
    event = decode(ONE_OF_EACH[kind](complaint_id="C-5", event_id="E-5", minute=42))

    assert decode_event(encode_event(event)) == event
    assert encode_event(decode_event(encode_event(event))) == encode_event(event)


def test_encode_writes_sorted_keys_amounts_as_strings_and_keeps_the_offset():
    event = decode(paid(amount="88.50", complaint_id="C-5", event_id="E-5", minute=1))

    document = orjson.loads(encode_event(event))

    assert list(document) == sorted(document)
    assert document["data"]["amount"] == "88.50"
    assert document["occurred_at"] == "2024-05-01T10:01:00+08:00"
    assert document == paid(amount="88.50", complaint_id="C-5", event_id="E-5", minute=1)


def test_fingerprint_is_equal_for_the_same_event_however_its_json_was_laid_out():
    document = received(complaint_id="C-5", event_id="E-5")
    compact = orjson.dumps(document)
    reordered = orjson.dumps(dict(reversed(list(document.items()))), option=orjson.OPT_INDENT_2)

    assert fingerprint(decode_event(compact)) == fingerprint(decode_event(reordered))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("event_id", "E-6"),
        ("complaint_id", "C-6"),
        ("occurred_at", "2024-05-01T10:00:01+08:00"),
        ("occurred_at", "2024-05-01T02:00:00Z"),  # the same instant written in another offset
        ("source", "web"),
        ("actor", "desk-2"),
        ("data.store", "Joy City"),
        ("data.department", "sales"),
        ("data.other_departments", ["sales"]),
        ("data.merchant", None),
        ("data.category", "service"),
        ("data.claim_amount", "1500.01"),
        ("data.personal_injury", True),
        ("data.media_involved", True),
        ("data.customer.name", "Li Ming"),
        ("data.customer.phone", "13812345679"),
        ("data.description", ""),
    ],
)
def test_fingerprint_differs_when_any_field_differs(path, value):
    original = received(complaint_id="C-5", event_id="E-5")

    changed = with_field(original, path, value)

    assert fingerprint(decode(changed)) != fingerprint(decode(original))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(2024, 5, 1, 2, 0, 0, 5, tzinfo=UTC),
        datetime(2024, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),  # local mean time: +08:05:43
        datetime(2024, 5, 1, tzinfo=timezone(timedelta(seconds=30))),
        datetime(2024, 5, 1, tzinfo=timezone(timedelta(microseconds=5))),
    ],
)
def test_the_fingerprint_is_the_digest_of_the_canonical_form_whatever_the_offset(moment: datetime) -> None:
    """orjson writes an offset of whole minutes as `isoformat()` does, and rounds away the seconds
    of any other (which the wire never carries, but a model built in code can): the digest must be
    `encode_event`'s either way."""
    event = EVENT_ADAPTER.validate_python({**received(complaint_id="C-5", event_id="E-5"), "occurred_at": moment})

    assert fingerprint(event) == hashlib.blake2b(encode_event(event), digest_size=8).hexdigest()
