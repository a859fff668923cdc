"""The wire contract of complaint events: models, codec, errors and the generated JSON Schema.

The field validators and the codec (`types`, `codec`) may be compiled with mypyc when the project
is installed (setup.py); an extension older than its source is refused before anything is
imported from it (`events.extensions`)."""

from pathlib import Path

from events.extensions import refuse_stale

refuse_stale("events", Path(__file__).parent)

from events.codec import decode_event, encode_event, fingerprint  # noqa: E402  # after the check
from events.errors import Rejection  # noqa: E402
from events.models import ComplaintEvent  # noqa: E402

__all__ = ["ComplaintEvent", "Rejection", "decode_event", "encode_event", "fingerprint"]
