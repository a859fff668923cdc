"""docs/asyncapi.yaml stays true to the topic registry, the event models and the records the folds produce."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from events import schema
from events.codec import decode_event, decode_keyed_event
from events.errors import Rejection
from events.models import EVENT_TYPES
from events.types import MONEY_PATTERN
from projections import case as cases
from projections import workload
from projections.case import Case
from projections.complaint import STAGES, ComplaintState, accept
from services.rejections import rejection_record
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import ALL_TOPICS, EVENTS, TopicSpec

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"

Document = dict[str, Any]


@pytest.fixture(scope="module")
def doc() -> Document:
    loaded: Document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    return loaded


def pointer(document: Document, fragment: str) -> Any:
    """Follow a JSON pointer such as `/components/messages/received` (no escapes are used here)."""
    node: Any = document
    for part in fragment.strip("/").split("/"):
        node = node[part]
    return node


def deref(doc: Document, node: Any) -> Any:
    """Follow local `$ref`s (`#/...`) until a real object."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"not a local reference: {ref}"
        node = pointer(doc, ref[1:])
    return node


def inline(node: Any, document: Document, base: Path, cache: dict[Path, Document]) -> Any:
    """`node` with every `$ref` replaced by its target: local ones, and files relative to `base`."""
    if isinstance(node, list):
        return [inline(item, document, base, cache) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        location, _, fragment = node["$ref"].partition("#")
        if location:
            path = (base.parent / location).resolve()
            if path not in cache:
                cache[path] = json.loads(path.read_text(encoding="utf-8"))
            document, base = cache[path], path
        return inline(pointer(document, fragment), document, base, cache)
    return {key: inline(value, document, base, cache) for key, value in node.items()}


def channel_for(doc: Document, topic: str) -> Document:
    [channel] = [channel for channel in doc["channels"].values() if channel["address"] == topic]
    return channel


def channel_messages(doc: Document, topic: str) -> dict[str, Document]:
    return {key: deref(doc, message) for key, message in channel_for(doc, topic)["messages"].items()}


def only_payload(doc: Document, topic: str) -> Document:
    """The one message payload of `topic`, with every reference inlined."""
    [message] = channel_messages(doc, topic).values()
    payload: Document = inline(message["payload"], doc, ASYNCAPI, {})
    return payload


def fold(*events: Document) -> ComplaintState:
    state: ComplaintState | None = None
    for event in events:
        state = accept(state, decode_event(json.dumps(event).encode()))
    assert state is not None
    return state


RULES = load_rulebook(Settings())


def case_of(*events: Document) -> Case:
    """The live worker's fold: the complaint with its SLA clocks under the shipped policy."""
    case: Case | None = None
    for event in events:
        case = cases.accept_event(case, decode_event(json.dumps(event).encode()), RULES, published_at=None)
    assert case is not None
    return case


def state_record(*events: Document, hours_later: float = 0) -> Document:
    """What the worker publishes on complaints.state, evaluated `hours_later` after the last event."""
    case = case_of(*events)
    now = case.complaint.last_event_at + timedelta(hours=hours_later)
    settled = cases.settle(case, RULES, now)
    return cases.to_record(settled.case, RULES, now)


def alert_records(*events: Document, hours_later: float) -> list[Document]:
    case = case_of(*events)
    now = case.complaint.last_event_at + timedelta(hours=hours_later)
    settled = cases.settle(case, RULES, now)
    return [cases.alert_record(alert, now) for alert in (*settled.raised, *settled.retracted)]


def event(number: int, kind: str, at: str, data: Document) -> Document:
    return {
        "event_id": f"E-9-{number}",
        "complaint_id": "C-9",
        "occurred_at": at,
        "source": "counter",
        "actor": "counter-clerk-3",
        "schema_version": 1,
        "type": kind,
        "data": data,
    }


RECEIVED = event(
    1,
    "received",
    "2025-05-02T09:00:00+08:00",
    {
        "store": "West Lake Store",
        "department": "Apparel",
        "merchant": None,
        "category": "service",
        "claim_amount": "200.00",
        "personal_injury": False,
        "media_involved": False,
        "customer": {"name": "Zhao Lei", "phone": "+86 139-0000-1234"},
        "description": "Rude treatment at the fitting rooms.",
    },
)
MAJOR_INJURY = {
    **RECEIVED,
    "event_id": "E-9-9",
    "data": {**RECEIVED["data"], "claim_amount": "25000.00", "personal_injury": True, "category": "personal_injury"},
}
ASSIGNED = event(2, "assigned", "2025-05-02T09:20:00+08:00", {"department": "Customer Service", "handler": "Qian Yu"})
RULED = event(
    3,
    "ruled",
    "2025-05-02T11:00:00+08:00",
    {
        "decision": "compensate",
        "amount": "200.00",
        "liable_party": "mall",
        "merchant_accepts": True,
        "customer_accepts": True,
    },
)


# -- the document and the topic registry -------------------------------------------------------


def test_is_asyncapi_3(doc: Document) -> None:
    assert doc["asyncapi"] == "3.0.0"


def test_every_registry_topic_is_a_channel_and_nothing_else_is(doc: Document) -> None:
    addresses = [channel["address"] for channel in doc["channels"].values()]

    assert sorted(addresses) == sorted(spec.name for spec in ALL_TOPICS)


@pytest.mark.parametrize("spec", ALL_TOPICS, ids=lambda spec: spec.name)
def test_channel_says_what_the_registry_says(doc: Document, spec: TopicSpec) -> None:
    channel = channel_for(doc, spec.name)
    kafka = channel["bindings"]["kafka"]

    assert channel["description"].startswith(spec.purpose)
    assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.cleanup]
    assert kafka["topicConfiguration"]["retention.ms"] == spec.retention_ms
    assert kafka["partitions"] == Settings.model_fields["partitions"].default
    for message in channel_messages(doc, spec.name).values():
        assert deref(doc, message["bindings"])["kafka"]["key"]["description"] == spec.key


def test_event_messages_are_exactly_the_event_types(doc: Document) -> None:
    messages = channel_messages(doc, EVENTS.name)

    assert sorted(messages) == sorted(EVENT_TYPES)
    assert sorted(message["name"] for message in messages.values()) == sorted(EVENT_TYPES)


def test_event_payloads_are_the_generated_schema_of_their_type(doc: Document) -> None:
    mapping = schema.contract_schema()["discriminator"]["mapping"]
    schema_file = f"../events/schema/{schema.SCHEMA_FILE}"

    for name, message in channel_messages(doc, EVENTS.name).items():
        assert message["payload"] == {"$ref": f"{schema_file}{mapping[name]}"}
        assert (ASYNCAPI.parent / schema_file).resolve() == schema.SCHEMA_PATH.resolve()


def test_channels_send_events_and_complaintflow_receives_them_and_sends_the_rest(doc: Document) -> None:
    operations = {
        (operation["action"], deref(doc, operation["channel"])["address"]) for operation in doc["operations"].values()
    }

    assert ("send", EVENTS.name) in operations
    assert ("receive", EVENTS.name) in operations
    for spec in ALL_TOPICS:
        assert ("send", spec.name) in operations


def test_operation_messages_belong_to_their_channel(doc: Document) -> None:
    for name, operation in doc["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation.get("messages", []):
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), name
            deref(doc, message)


# -- the records are what the code produces ----------------------------------------------------


def test_documented_complaint_record_fields_are_the_ones_to_record_produces(doc: Document) -> None:
    payload = only_payload(doc, "complaints.state")
    record = state_record(RECEIVED)

    assert set(payload["properties"]) == set(record)
    assert set(payload["required"]) == set(record)


def test_documented_workload_record_fields_are_the_ones_to_record_produces(doc: Document) -> None:
    payload = only_payload(doc, "complaints.workload")
    state = fold(RECEIVED)
    [member] = workload.memberships_changed(None, state)
    view = workload.apply(workload.DepartmentWorkload(department="Apparel"), None, member)
    record = workload.to_record(view, state.received_at)

    assert set(payload["properties"]) == set(record)
    assert set(payload["required"]) == set(record)


def test_documented_share_fields_are_the_models(doc: Document) -> None:
    payload = only_payload(doc, "complaints.workload-shares")

    assert set(payload["properties"]) == set(workload.Share.model_fields)
    assert set(payload["required"]) == set(workload.Share.model_fields)


def rejected(key: bytes | None, value: bytes) -> Document:
    """The record the worker would publish on complaints.rejected for this message (to a fresh complaint)."""
    try:
        accept(None, decode_keyed_event(key, value))
    except Rejection as rejection:
        record = rejection_record(rejection, key=key, value=value, topic=EVENTS.name, partition=2, offset=41)
        loaded: Document = json.loads(record)
        return loaded
    raise AssertionError("expected a rejection")


def test_documented_rejection_fields_are_the_ones_rejection_record_produces(doc: Document) -> None:
    payload = only_payload(doc, "complaints.rejected")
    record = rejected(b"C-9", b"{oops")

    assert set(payload["properties"]) == set(record)
    assert set(payload["required"]) == set(record)


def test_documented_reason_codes_are_every_rejection_code(doc: Document) -> None:
    def codes(kind: type[Rejection]) -> set[str]:
        return {kind.code}.union(*(codes(sub) for sub in kind.__subclasses__()))

    payload = only_payload(doc, "complaints.rejected")

    assert set(payload["properties"]["reason_code"]["enum"]) == codes(Rejection) - {Rejection.code}


def test_shared_schemas_match_the_code(doc: Document) -> None:
    schemas = doc["components"]["schemas"]

    assert tuple(schemas["Stage"]["enum"]) == STAGES
    assert schemas["Money"]["pattern"] == MONEY_PATTERN


# -- and they validate against what is documented (needs jsonschema) ---------------------------


def test_real_records_validate_against_the_documented_schemas(doc: Document) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    ruled = fold(RECEIVED, ASSIGNED, RULED)
    late_alerts = alert_records(RECEIVED, hours_later=80)
    view = workload.rebuild("Customer Service", [workload.membership(ruled, "Customer Service")])

    samples = {
        "complaints.state": [
            state_record(RECEIVED),
            state_record(RECEIVED, ASSIGNED, RULED),
            state_record(RECEIVED, hours_later=80),
            state_record(MAJOR_INJURY, hours_later=5),
        ],
        "complaints.workload": [
            workload.to_record(view, ruled.last_event_at),
            workload.to_record(view),
            workload.to_record(workload.rebuild("Apparel", []), ruled.last_event_at),
        ],
        "complaints.alerts": [*late_alerts, *alert_records(MAJOR_INJURY, hours_later=0)],
        "complaints.sla-ticks": [{"complaint_id": "C-9", "due_at": RECEIVED["occurred_at"]}],
        "complaints.workload-shares": [
            workload.share_of(workload.tally_of(view), 3).model_dump(mode="json"),
            workload.share_of(workload.Tally("Apparel"), 0).model_dump(mode="json"),
        ],
        "complaints.rejected": [
            rejected(None, b"\xff"),
            rejected(b"C-9", json.dumps(ASSIGNED).encode()),
            rejected(b"C-1", json.dumps(RECEIVED).encode()),
        ],
    }
    assert ruled.ruling is not None
    assert {alert["kind"] for alert in late_alerts} >= {"at_risk", "breached", "escalated"}
    assert state_record(RECEIVED, hours_later=80)["escalation_level"] > 0
    for topic, records in samples.items():
        validator = jsonschema.Draft7Validator(only_payload(doc, topic))
        for record in records:
            validator.validate(record)
