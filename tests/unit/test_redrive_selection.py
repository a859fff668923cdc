"""Which rejections `complaintflow redrive` picks."""

from __future__ import annotations

from typing import Any

import pytest

from services.redrive import Selection


def rejection(
    code: str = "unknown_complaint", key: str = "C-1", partition: int = 0, offset: int = 10
) -> dict[str, Any]:
    return {
        "reason_code": code,
        "key": key,
        "complaint_id": None,
        "source_partition": partition,
        "source_offset": offset,
    }


@pytest.mark.parametrize(
    ("selection", "picked"),
    [
        (Selection(), True),
        (Selection(reasons=frozenset({"unknown_complaint"})), True),
        (Selection(reasons=frozenset({"invalid"})), False),
        (Selection(complaints=frozenset({"C-1"})), True),
        (Selection(complaints=frozenset({"C-2"})), False),
        (Selection(partition=0, from_offset=10, to_offset=10), True),
        (Selection(partition=1), False),
        (Selection(from_offset=11), False),
        (Selection(to_offset=9), False),
    ],
)
def test_every_given_filter_must_match(selection: Selection, picked: bool) -> None:
    assert selection.matches(rejection()) is picked


def test_the_complaint_id_of_the_rejection_wins_over_its_key() -> None:
    record = {**rejection(key="not-the-id"), "complaint_id": "C-7"}

    assert Selection(complaints=frozenset({"C-7"})).matches(record)
    assert not Selection(complaints=frozenset({"not-the-id"})).matches(record)
