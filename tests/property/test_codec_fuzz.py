"""Whatever arrives on the wire, decode_event and accept answer with an event, a state or a Rejection.

Anything else escaping (KeyError, RecursionError, a pydantic ValidationError...) would crash the
agent on a poison message instead of sending it to `complaints.rejected`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    amounts,
    complaint_sets,
    field_paths,
    histories,
    interleaved,
    json_values,
    misplaced,
    mutated,
    plausible_values,
    replaced,
    texts,
    wire,
)

from events.codec import decode_event, encode_event, fingerprint
from events.errors import Rejection
from events.models import ComplaintEvent
from events.types import _MONEY, _OFFSET, _is_amount, _written_offset
from projections.complaint import ComplaintState, accept

DECODE_CODES = {"undecodable", "invalid", "unsupported"}
ACCEPT_CODES = {"impossible_transition", "unknown_complaint", "conflicting_duplicate"}
FUZZ = settings(max_examples=200, deadline=None)
ENVELOPE_KEYS = ("event_id", "complaint_id", "occurred_at", "source", "actor", "schema_version", "type", "data")


def decoded_or_rejected(raw: bytes) -> ComplaintEvent | None:
    """The event, or None when it was rejected as it should be: a known code and a message to act on."""
    try:
        event = decode_event(raw)
    except Rejection as rejection:
        assert rejection.code in DECODE_CODES
        assert str(rejection).strip()
        return None
    assert decode_event(encode_event(event)) == event
    return event


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_decoded_or_rejected(raw):
    decoded_or_rejected(raw)


@FUZZ
@given(value=json_values)
def test_arbitrary_json_values_are_decoded_or_rejected(value):
    decoded_or_rejected(orjson.dumps(value))


@FUZZ
@given(document=st.dictionaries(st.sampled_from(ENVELOPE_KEYS), json_values | plausible_values))
def test_objects_with_the_envelope_keys_and_random_values_are_decoded_or_rejected(document):
    decoded_or_rejected(orjson.dumps(document))


@FUZZ
@given(history=histories(max_steps=8), data=st.data())
def test_valid_events_with_a_field_replaced_dropped_or_added_are_decoded_or_rejected(history, data):
    original = data.draw(st.sampled_from(history.events))

    broken = data.draw(mutated(original))

    decoded_or_rejected(orjson.dumps(broken))


@settings(max_examples=60, deadline=None)
@given(
    history=histories(max_steps=4),
    # Shallow, or around orjson's limit of 1024 levels in all. Hypothesis raises Python's recursion limit while
    # a test runs, so a recursion bug (repr of a 1,000-deep `type`) shows only in the unit test outside it:
    # tests/unit/test_codec.py::test_a_deeply_nested_type_is_rejected_not_a_crash.
    depth=st.integers(1, 60) | st.sampled_from((990, 1000, 1022, 1023, 1024, 1100)),
    container=st.sampled_from(((b"[", b"", b"]"), (b'{"k":', b"null", b"}"))),
)
def test_deeply_nested_json_in_any_field_is_decoded_or_rejected(history, depth, container):
    opening, leaf, closing = container
    nested = opening * depth + leaf + closing * depth
    for original in history.events:
        for path in field_paths(original):
            marked = orjson.dumps(replaced(original, path, "\u2603deep\u2603"))

            raw = marked.replace(orjson.dumps("\u2603deep\u2603"), nested)

            decoded_or_rejected(raw)


@settings(max_examples=150, deadline=None)
@given(complaints=complaint_sets(max_size=3, max_steps=10), data=st.data())
def test_accept_answers_mutated_events_with_a_state_or_a_rejection(complaints, data):
    log: list[dict[str, Any]] = data.draw(interleaved(complaints))
    well_formed = list(log)  # `misplaced` borrows from these: an event broken earlier may lack its event_id
    for index in data.draw(st.lists(st.integers(0, len(log) - 1), max_size=3, unique=True)):
        broken = data.draw(mutated(log[index]) | misplaced(well_formed))
        if data.draw(st.booleans(), label="keep the original too"):
            log.insert(index + 1, broken)
        else:
            log[index] = broken
    states: dict[str, ComplaintState] = {}

    for document in log:
        event = decoded_or_rejected(orjson.dumps(document))
        if event is None:
            continue
        try:
            states[event.complaint_id] = accept(states.get(event.complaint_id), event)
        except Rejection as rejection:
            assert rejection.code in ACCEPT_CODES
            assert rejection.event_id == event.event_id

    for complaint_id, state in states.items():
        assert state.complaint_id == complaint_id
        assert state.version == len(state.applied)


@FUZZ
@given(history=histories(max_steps=10))
def test_every_valid_event_round_trips_through_its_canonical_form(history):
    for document in history.events:
        event = decode_event(wire(document))

        again = decode_event(encode_event(event))

        assert again == event
        assert fingerprint(again) == fingerprint(event)
        assert orjson.loads(encode_event(event))["data"].keys() >= document["data"].keys()


@FUZZ
@given(history=histories(max_steps=14), amount=amounts(), reason=texts.filter(bool))
def test_the_fingerprint_is_the_digest_of_the_canonical_form_the_tables_already_store(history, amount, reason):
    """Cases in the tables keep the fingerprint of every event they accepted: computed any other
    way than from `encode_event`'s bytes, a redelivered event would look like a conflicting one."""
    last = history.events[-1]
    others = [
        {**last, "event_id": "amended", "type": "amended", "data": {"claim_amount": amount, "reason": reason}},
        {**last, "event_id": "repaid", "type": "repaid", "data": {"amount": amount}},
        {**last, "event_id": "adopted", "type": "policy_adopted", "data": {"policy_version": "v2", "reason": reason}},
    ]
    for document in [*history.events, *others]:
        event = decode_event(wire(document))

        assert fingerprint(event) == hashlib.blake2b(encode_event(event), digest_size=8).hexdigest()


digit_like = st.text(alphabet="0123456789\u0660\u0669a", min_size=2, max_size=2)  # Arabic-Indic 0 and 9
offset_like = st.one_of(
    st.text(alphabet="0123456789+-:Zz\n T", max_size=9),
    st.builds(
        lambda sign, hours, colon, minutes, tail: sign + hours + colon + minutes + tail,
        st.sampled_from("+-Z0"),
        digit_like,
        st.sampled_from(":-0"),
        digit_like,
        st.sampled_from(["", "Z", "\n", "\n\n", " "]),
    ),
)


@FUZZ
@given(text=st.one_of(offset_like, st.builds(str.__add__, st.text(max_size=20), offset_like)))
def test_the_offset_a_timestamp_ends_with_is_read_as_the_schema_pattern_reads_it(text):
    """The decoder reads the offset character by character; the JSON Schema publishes it as a
    pattern. Both must agree on every text, a trailing newline (which `$` lets by) included."""
    found = _OFFSET.search(text)

    assert _written_offset(text) == (found.group(1) if found else None)


amount_like = st.one_of(
    st.text(alphabet="0123456789.\n \u0660-+e", max_size=16),
    st.builds(
        lambda whole, point, decimals: whole + point + decimals,
        st.text(alphabet="0123456789\u0660", max_size=14),
        st.sampled_from(["", ".", ".."]),
        st.text(alphabet="0123456789\n", max_size=3),
    ),
)


@FUZZ
@given(text=st.one_of(amount_like, st.from_regex(_MONEY, fullmatch=True)))
def test_an_amount_is_read_as_the_schema_pattern_reads_it(text):
    """The decoder checks an amount character by character; the JSON Schema publishes the pattern."""
    assert _is_amount(text) == (_MONEY.fullmatch(text) is not None)
