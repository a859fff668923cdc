"""Every case a sequence of wire events passes through, folded with the live core: what the
property tests of the table's codecs compare, case by case; and a complaint's state through the
table and back."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import orjson

from events.codec import decode_event
from events.errors import Rejection
from projections.case import Case, Rulebook, accept_event, dump_case, load_case
from projections.clocks import SlaState
from projections.complaint import ComplaintState


def cases_of(documents: Iterable[dict[str, Any]], rules: Rulebook) -> list[Case]:
    """The case after each event (rejected ones leave it as it was), from the first accepted on."""
    case: Case | None = None
    held = []
    for document in documents:
        with suppress(Rejection):
            case = accept_event(case, decode_event(orjson.dumps(document)), rules)
        if case is not None:
            held.append(case)
    return held


def dump_state(state: ComplaintState) -> bytes:
    """The table's bytes of a case holding `state` (a new complaint's clocks, revision 1)."""
    return dump_case(
        Case(complaint=state, sla=SlaState(policy_version="any", clocks={}, notices={}, raised={}), revision=1)
    )


def load_state(raw: bytes) -> ComplaintState:
    """The state `dump_state` wrote, as the table's reader loads it (validated)."""
    return load_case(raw).complaint
