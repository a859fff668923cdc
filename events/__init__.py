"""The wire contract of complaint events: models, codec, errors and the generated JSON Schema."""

from events.codec import decode_event, encode_event, fingerprint
from events.errors import Rejection
from events.models import ComplaintEvent

__all__ = ["ComplaintEvent", "Rejection", "decode_event", "encode_event", "fingerprint"]
