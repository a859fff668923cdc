"""services/output.py stands in for Faust's table write and send paths: the Faust methods it
replaces must still do what it does (a Faust upgrade that changes them fails here), and it must
refuse tables it cannot stand in for."""

from __future__ import annotations

from datetime import timedelta

import faust
import pytest
from faust.tables.base import Collection
from faust.tables.table import Table
from mode.utils.collections import ManagedUserDict

from events.errors import ConfigurationError
from services import output
from tests.upstream import source_hash

# sha256 of inspect.getsource() of each method in faust-streaming 0.15.3 (and mode-streaming's
# ManagedUserDict). If one changes: re-read it, check that services/output.py still writes what it
# writes (store, changelog partition, persisted offset), then record the new hash.
STOOD_IN_FOR = {
    "ManagedUserDict.__setitem__": (
        ManagedUserDict.__setitem__,
        "f3bdf602abc08dd1ace4cf2094d860f6569520a0af1e0428962678b56a2752d4",
    ),
    "Table.on_key_set": (
        Table.on_key_set,
        "a370e35ca55c2c7e36e93f0d4b485927c32d49199043cab2314572846184dd94",
    ),
    "Collection.send_changelog": (
        Collection.send_changelog,
        "3dd3884e1b5fc0e1612bc688b83d9318a1805ddc49700d3b6b37bade73c3905d",
    ),
    "Collection.partition_for_key": (
        Collection.partition_for_key,
        "3b2291811b8dd791cdd0e690b2b09d966a4e961e2a2861182241195696393bed",
    ),
    "Collection._on_changelog_sent": (
        Collection._on_changelog_sent,
        "60122c86a120d82cffa95da4c22323e12d67fa82f3112f08ac7f8edde7c47826",
    ),
}


def test_the_faust_methods_output_stands_in_for_are_unchanged() -> None:
    found = {name: source_hash(method) for name, (method, _) in STOOD_IN_FOR.items()}
    changed = {name: digest for name, digest in found.items() if digest != STOOD_IN_FOR[name][1]}

    assert changed == {}, "re-read each, then record its new hash"


def test_the_case_table_is_one_output_can_write() -> None:
    from services.app import complaints_by_id

    assert output.require_plain(complaints_by_id) is complaints_by_id


@pytest.mark.parametrize(
    "options",
    [
        {"key_type": bytes, "value_type": bytes, "window": "tumbling"},
        {"key_type": str, "value_type": bytes},
        {"key_type": bytes, "value_type": int},
    ],
)
def test_a_windowed_or_typed_table_is_refused_with_what_to_do(options: dict[str, object]) -> None:
    app = faust.App("output-test", broker="memory://", store="memory://")
    if options.pop("window", None):
        table = app.Table("windowed", **options).tumbling(timedelta(minutes=1), expires=timedelta(hours=1)).table  # type: ignore[arg-type]
    else:
        table = app.Table("typed", **options)  # type: ignore[arg-type]

    with pytest.raises(ConfigurationError, match="table\\[key\\] = value"):
        output.require_plain(table)
