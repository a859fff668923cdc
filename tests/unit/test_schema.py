"""The committed JSON Schema is exactly what the models generate, and it agrees with the codec.

The examples of docs/events.md are checked here too: they must be accepted, match the schema and
fold into one complete history, so the page channel developers copy from cannot drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from events import schema
from events.codec import decode_event, encode_event
from events.errors import Rejection
from events.models import EVENT_TYPES
from projections.complaint import ComplaintState, accept, to_record

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DOC = ROOT / "docs" / "events.md"
REGENERATE = "run `python -m events.schema --write` and commit the result"

Document = dict[str, Any]


def committed_schema() -> Document:
    document: Document = json.loads(schema.SCHEMA_PATH.read_text(encoding="utf-8"))
    return document


def doc_examples() -> list[Document]:
    """Every ```json block of docs/events.md, in order."""
    blocks = re.findall(r"```json\n(.*?)```", EVENTS_DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def definition(contract: Document, ref: str) -> Document:
    assert ref.startswith("#/$defs/"), ref
    found: Document = contract["$defs"][ref.removeprefix("#/$defs/")]
    return found


@pytest.fixture
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(committed_schema())


# -- the committed file ------------------------------------------------------------------------


def test_committed_schema_is_what_the_models_generate() -> None:
    relative = schema.SCHEMA_PATH.relative_to(ROOT)
    if not schema.SCHEMA_PATH.exists():
        pytest.fail(f"{relative} is missing; {REGENERATE}")
    if schema.SCHEMA_PATH.read_text(encoding="utf-8") != schema.render():
        pytest.fail(f"{relative} is stale: the event models changed since it was generated; {REGENERATE}")


def test_render_is_stable_sorted_json_with_a_trailing_newline() -> None:
    text = schema.render()

    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert schema.render() == text


def test_schema_names_its_dialect_id_and_title() -> None:
    contract = schema.contract_schema()

    assert contract["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert contract["$id"] == "urn:complaintflow:schema:complaint-event:v1"
    assert contract["title"] == "ComplaintEvent v1"
    assert schema.SCHEMA_PATH.name == "complaint-event.v1.json"


def test_check_passes_on_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_fails_on_a_stale_file_and_says_how_to_fix_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "complaint-event.v1.json"
    stale.write_text('{"title": "an older contract"}\n', encoding="utf-8")

    assert schema.main(["--check"], path=stale) == 1
    error = capsys.readouterr().err
    assert "is stale" in error
    assert "python -m events.schema --write" in error


def test_check_fails_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main(["--check"], path=tmp_path / "absent.json") == 1
    assert "is missing" in capsys.readouterr().err


def test_write_then_check(tmp_path: Path) -> None:
    target = tmp_path / "schema" / "complaint-event.v1.json"

    assert schema.main(["--write"], path=target) == 0
    assert target.read_text(encoding="utf-8") == schema.render()
    assert schema.main(["--check"], path=target) == 0


# -- what the schema says ----------------------------------------------------------------------


def test_the_six_event_types_form_a_union_discriminated_on_type() -> None:
    contract = schema.contract_schema()
    mapping = contract["discriminator"]["mapping"]

    assert contract["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == sorted(EVENT_TYPES)
    assert sorted(option["$ref"] for option in contract["oneOf"]) == sorted(mapping.values())
    for event_type, ref in mapping.items():
        event = definition(contract, ref)
        assert event["properties"]["type"]["const"] == event_type
        assert event["properties"]["schema_version"]["const"] == 1
        assert {"type", "data", "event_id", "complaint_id", "occurred_at"} <= set(event["required"])
        assert event["additionalProperties"] is False
        assert definition(contract, event["properties"]["data"]["$ref"])["additionalProperties"] is False


def test_amounts_and_timestamps_are_strings_with_their_rules() -> None:
    contract = schema.contract_schema()
    received = contract["$defs"]["ReceivedData"]["properties"]
    envelope = contract["$defs"]["Received"]["properties"]

    assert received["claim_amount"]["type"] == "string"
    assert re.fullmatch(received["claim_amount"]["pattern"], "1500.00")
    assert envelope["occurred_at"]["type"] == "string"
    assert envelope["occurred_at"]["format"] == "date-time"


# -- the schema agrees with the codec (needs jsonschema) ---------------------------------------


def test_the_schema_is_valid_json_schema_2020_12(validator: Any) -> None:
    validator.check_schema(committed_schema())


def test_docs_examples_match_the_schema_and_so_does_their_canonical_form(validator: Any) -> None:
    for example in doc_examples():
        validator.validate(example)
        validator.validate(json.loads(encode_event(decode_event(json.dumps(example).encode()))))


MISTAKES: dict[str, Callable[[Document], None]] = {
    "amount as a JSON number": lambda event: event["data"].update(claim_amount=1500.0),
    "amount with three decimals": lambda event: event["data"].update(claim_amount="1500.001"),
    "timestamp without offset": lambda event: event.update(occurred_at="2025-03-08T10:15:00"),
    "unknown envelope field": lambda event: event.update(priority="high"),
    "unknown data field": lambda event: event["data"].update(colour="red"),
    "boolean as a string": lambda event: event["data"].update(personal_injury="false"),
    "unknown type": lambda event: event.update(type="escalated"),
    "newer schema_version": lambda event: event.update(schema_version=2),
    "missing required field": lambda event: event["data"].pop("category"),
    "empty complaint_id": lambda event: event.update(complaint_id=""),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_schema_and_codec_both_reject_a_malformed_event(validator: Any, mistake: str) -> None:
    event = json.loads(json.dumps(doc_examples()[0]))
    MISTAKES[mistake](event)

    assert not validator.is_valid(event)
    with pytest.raises(Rejection):
        decode_event(json.dumps(event).encode())


# -- the examples of docs/events.md ------------------------------------------------------------


def test_docs_examples_cover_every_event_type_of_one_complaint() -> None:
    examples = doc_examples()

    assert {example["type"] for example in examples} == set(EVENT_TYPES)
    assert len({example["event_id"] for example in examples}) == len(examples)
    assert {example["complaint_id"] for example in examples} == {"C-1001"}


def test_docs_examples_are_accepted_and_fold_into_the_closed_complaint_the_page_describes() -> None:
    state: ComplaintState | None = None
    for example in doc_examples():
        state = accept(state, decode_event(json.dumps(example).encode()))

    assert state is not None
    record = to_record(state)
    assert record["stage"] == "closed"
    assert record["version"] == 10
    assert record["claim_amount"] == "1580.00"
    assert record["paid_amount"] == "1500.00"
    assert record["recovery"] == {
        "merchant": "Golden Rice Electric",
        "advanced": "1500.00",
        "repaid": "1500.00",
        "outstanding": "0.00",
        "settled": True,
    }
    assert record["customer"]["phone"] == "138****8000"
