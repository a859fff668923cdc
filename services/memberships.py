"""The memberships table's values: what one complaint contributes to one department's workload.

Two formats, told apart by the first byte (an old value is JSON, so it starts with `{`):

- format 0, the first: the `Membership` as JSON, ~215 bytes;
- format 1: `\\x01` and the JSON packed with dictionaries.MEMBERSHIP_V1, ~60 bytes.

Values are written in format 1 and read in either: changelogs of running deployments hold
format 0 values. The memberships topic itself stays JSON: it is a wire format, not a table's.
"""

from __future__ import annotations

from projections.workload import Membership
from services.dictionaries import MEMBERSHIP_V1
from services.packing import Packer

PACKED_V1 = b"\x01"
_memberships_v1 = Packer(MEMBERSHIP_V1)


def encode_membership(membership: Membership) -> bytes:
    return PACKED_V1 + _memberships_v1.pack(membership.model_dump_json().encode())


def decode_membership(raw: bytes) -> Membership:
    """A table value in either format: ValueError (pydantic's ValidationError) if it is neither,
    zlib.error if its packed JSON is damaged."""
    if raw.startswith(PACKED_V1):
        return Membership.model_validate_json(_memberships_v1.unpack(raw[1:]))
    return Membership.model_validate_json(raw)
