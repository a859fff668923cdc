"""The complaints table's value codec: every case a history passes through reads back equal,
from the packed format written now and from the plain JSON format older changelogs hold."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from sla_strategies import sla_histories

from events.codec import decode_event
from events.errors import Rejection
from projections.case import Case, accept_event, dump_case
from services.cases import SEPARATOR, decode_stored, encode_stored
from services.rules import load_rulebook
from services.settings import Settings

RULES = load_rulebook(Settings())


def cases_of(documents: tuple[dict[str, Any], ...]) -> list[Case]:
    case: Case | None = None
    held = []
    for document in documents:
        with suppress(Rejection):
            case = accept_event(case, decode_event(orjson.dumps(document)), RULES)
        if case is not None:
            held.append(case)
    return held


@settings(max_examples=60, deadline=None)
@given(history=sla_histories(), partition=st.integers(0, 2**19 - 1))
def test_every_case_of_a_history_reads_back_equal_in_both_formats(history: Any, partition: int) -> None:
    for case in cases_of(history.events):
        packed = encode_stored(partition, case)
        plain = str(partition).encode() + SEPARATOR + dump_case(case)  # format 0, as older workers wrote it

        assert decode_stored(packed) == (partition, case)
        assert decode_stored(plain) == (partition, case)
        assert len(packed) < len(plain)
