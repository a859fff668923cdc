"""docs/openapi.yaml as a validator: the API tests check every response body they receive against it.

The OpenAPI document refers to docs/asyncapi.yaml and the generated event schema for the records
they already describe; all three are loaded into one registry, so references resolve as they would
for a reader of the files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012 as _DRAFT

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://complaintflow.invalid/"
FILES = {
    "docs/openapi.yaml": ROOT / "docs" / "openapi.yaml",
    "docs/asyncapi.yaml": ROOT / "docs" / "asyncapi.yaml",
    "events/schema/complaint-event.v1.json": ROOT / "events" / "schema" / "complaint-event.v1.json",
}


@cache
def documents() -> dict[str, Any]:
    return {
        name: (json.loads if path.suffix == ".json" else yaml.safe_load)(path.read_text(encoding="utf-8"))
        for name, path in FILES.items()
    }


def openapi() -> dict[str, Any]:
    return documents()["docs/openapi.yaml"]  # type: ignore[no-any-return]


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (BASE + name, Resource.from_contents(document, default_specification=_DRAFT))
        for name, document in documents().items()
    )


def response_pointer(path: str, method: str, status: int, content_type: str = "application/json") -> str:
    """Where the document gives the schema of that response (following a `$ref` to a shared response)."""
    response = openapi()["paths"][path][method]["responses"][str(status)]
    where = ["paths", path, method, "responses", str(status)]
    if "$ref" in response:
        where = ["components", "responses", response["$ref"].rsplit("/", 1)[-1]]
    return "/" + "/".join(_escaped(part) for part in [*where, "content", content_type, "schema"])


def check(path: str, method: str, status: int, body: Any, content_type: str = "application/json") -> None:
    """Fail with the validation error if `body` is not what the document promises for this response."""
    pointer = response_pointer(path, method, status, content_type)
    Draft202012Validator({"$ref": f"{BASE}docs/openapi.yaml#{pointer}"}, registry=_registry()).validate(body)


def _escaped(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
