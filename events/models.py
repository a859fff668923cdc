"""The wire contract: one envelope, one `data` model per event `type`, schema version 1.

Upstream channels publish these as UTF-8 JSON to `complaints.events`, keyed by `complaint_id`.
Field names and `type` literals are the contract: rename nothing, add only with a new version.
Models are frozen and forbid unknown fields so that a typo upstream is a rejection, not a silent
default.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints

from events.types import Money, Timestamp

SCHEMA_VERSION = 1

Identifier = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128, strip_whitespace=False)]
Text = Annotated[str, StringConstraints(strict=True, max_length=4000)]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]


def _exactly_an_integer(value: object) -> object:
    if type(value) is not int:  # JSON true and 1.0 compare equal to 1; they are not version 1
        raise ValueError(f"schema_version must be the integer 1, got {type(value).__name__}")
    return value


SchemaVersion = Annotated[Literal[1], BeforeValidator(_exactly_an_integer)]

Channel = Literal["hotline", "counter", "web", "wechat", "operator"]
"""Where an event comes from: a customer channel, or `operator` (complaintflow's own tools)."""
CHANNELS: tuple[str, ...] = get_args(Channel)
Category = Literal["quality", "service", "delivery", "installation", "price", "facility", "personal_injury", "other"]
LiableParty = Literal["merchant", "mall", "manufacturer", "customer", "undetermined"]
Decision = Literal["repair", "replace", "refund", "compensate", "reject"]
Payer = Literal["merchant", "mall_advance", "insurer"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Customer(_Strict):
    name: Name
    phone: Annotated[str, StringConstraints(strict=True, min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 -]*$")]


class ReceivedData(_Strict):
    store: Name
    department: Name = Field(description="The receiving department: it owns the complaint for good (R1).")
    other_departments: list[Name] = Field(default_factory=list)
    merchant: Name | None
    category: Category
    claim_amount: Money
    personal_injury: StrictBool
    media_involved: StrictBool
    customer: Customer
    description: Text


class AssignedData(_Strict):
    department: Name
    handler: Name


class InspectedData(_Strict):
    kind: Literal["site", "lab"]
    status: Literal["requested", "reported"]
    findings: Text = ""
    liable_party: LiableParty = "undetermined"


class RuledData(_Strict):
    decision: Decision
    amount: Money
    liable_party: LiableParty
    merchant_accepts: StrictBool
    customer_accepts: StrictBool


class PaidData(_Strict):
    payer: Payer
    amount: Money
    documents: list[Name] = Field(default_factory=list)


class FollowedUpData(_Strict):
    satisfied: StrictBool
    notes: Text = ""


class AmendedData(_Strict):
    claim_amount: Money = Field(description="The new claimed amount (CNY); it replaces the previous one.")
    reason: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4000)] = Field(
        description="Why the claim changed, in words an auditor can follow."
    )


class RepaidData(_Strict):
    amount: Money = Field(description="What the merchant repays the mall of its advance payment (CNY).")
    documents: list[Name] = Field(default_factory=list)


class PolicyAdoptedData(_Strict):
    policy_version: Identifier = Field(description="The SLA policy version the complaint is judged by from now on.")
    reason: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4000)] = Field(
        description="Why an operator moved an open complaint to another policy, for the audit."
    )


class _Envelope(_Strict):
    event_id: Identifier = Field(description="Idempotency key: an event_id seen before is ignored.")
    complaint_id: Identifier
    occurred_at: Timestamp = Field(description="Business time, with its UTC offset.")
    source: Channel
    actor: Name
    schema_version: SchemaVersion


class Received(_Envelope):
    type: Literal["received"]
    data: ReceivedData


class Assigned(_Envelope):
    type: Literal["assigned"]
    data: AssignedData


class Inspected(_Envelope):
    type: Literal["inspected"]
    data: InspectedData


class Ruled(_Envelope):
    type: Literal["ruled"]
    data: RuledData


class Paid(_Envelope):
    type: Literal["paid"]
    data: PaidData


class FollowedUp(_Envelope):
    type: Literal["followed_up"]
    data: FollowedUpData


class Amended(_Envelope):
    type: Literal["amended"]
    data: AmendedData


class PolicyAdopted(_Envelope):
    """An operator applies another SLA policy version to an open complaint (`complaintflow adopt-policy`)."""

    type: Literal["policy_adopted"]
    data: PolicyAdoptedData


class Repaid(_Envelope):
    """The merchant repays the mall what it advanced to the customer (R3 先行赔付 recovery)."""

    type: Literal["repaid"]
    data: RepaidData


ComplaintEvent = Annotated[
    Received | Assigned | Inspected | Ruled | Paid | FollowedUp | Amended | Repaid | PolicyAdopted,
    Field(discriminator="type"),
]
"""Any event of the contract, told apart by its `type`."""

EventType = Literal[
    "received", "assigned", "inspected", "ruled", "paid", "followed_up", "amended", "repaid", "policy_adopted"
]
"""Every event type of the contract (the `type` of each model above)."""
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
