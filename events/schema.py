"""The JSON Schema (draft 2020-12) of the wire contract, generated from the pydantic models.

The models are the source of truth; `events/schema/complaint-event.v1.json` is their published
form, for channel developers and for `docs/asyncapi.yaml`. It is committed, so a change to the
models must come with a regenerated file, and a test fails until it does:

    python -m events.schema --write   # regenerate the committed file
    python -m events.schema --check   # exit 1 if the committed file is stale (CI)
    python -m events.schema           # print the schema

Everything but `main()` is pure: no file I/O, so the schema can be rendered anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from events.codec import EVENT_ADAPTER
from events.models import SCHEMA_VERSION

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"urn:complaintflow:schema:complaint-event:v{SCHEMA_VERSION}"
SCHEMA_FILE = f"complaint-event.v{SCHEMA_VERSION}.json"
SCHEMA_PATH = Path(__file__).parent / "schema" / SCHEMA_FILE
"""Where the committed schema lives (inside the package: it ships as package data)."""

_DESCRIPTION = (
    "One complaint event as published to the Kafka topic complaints.events (UTF-8 JSON, keyed by "
    "complaint_id). The envelope is shared; `data` depends on `type`, the discriminator. Amounts are "
    "decimal strings in CNY; timestamps are ISO 8601 with a UTC offset; unknown fields are rejected. "
    "Generated from events/models.py by `python -m events.schema --write`: do not edit by hand."
)


def contract_schema() -> dict[str, Any]:
    """The schema of any event of the contract: a `oneOf` of every event type, discriminated on `type`."""
    generated = EVENT_ADAPTER.json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"ComplaintEvent v{SCHEMA_VERSION}",
        "description": _DESCRIPTION,
        **generated,
    }


def render() -> str:
    """The schema as committed: sorted keys, 2-space indent, trailing newline (stable diffs)."""
    return json.dumps(contract_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None, *, path: Path = SCHEMA_PATH) -> int:
    """Print, write or check the committed schema; returns the exit status (1 = stale)."""
    parser = argparse.ArgumentParser(
        prog="python -m events.schema", description="The JSON Schema of the wire contract."
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"regenerate {SCHEMA_FILE}")
    action.add_argument("--check", action="store_true", help=f"exit 1 if {SCHEMA_FILE} differs from the models")
    args = parser.parse_args(argv)
    expected = render()
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != expected:
            state = "is missing" if current is None else "is stale: it differs from what events/models.py generates"
            print(f"{path} {state}; run `python -m events.schema --write` and commit the result", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    sys.stdout.write(expected)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
