"""Every case a sequence of wire events passes through, folded with the live core: what the
property tests of the table's codecs compare, case by case."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import orjson

from events.codec import decode_event
from events.errors import Rejection
from projections.case import Case, Rulebook, accept_event


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
