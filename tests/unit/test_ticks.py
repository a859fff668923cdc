"""The complaint agent's wake-ups: a message on the ticks topic that names no complaint is bad input,
rejected like a keyless event, never a crash that would stop the worker on every redelivery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from events.errors import Rejection
from services import agents


@pytest.mark.parametrize("key", [None, b"\xff\xfe"], ids=["no key", "not UTF-8"])
async def test_a_tick_that_names_no_complaint_is_rejected(monkeypatch: pytest.MonkeyPatch, key: bytes | None) -> None:
    rejected: list[Rejection] = []

    async def record(message: object, rejection: Rejection) -> None:
        rejected.append(rejection)

    monkeypatch.setattr(agents, "reject", record)
    tick = SimpleNamespace(key=key, value=b"{}", message=SimpleNamespace(topic=agents.ticks, partition=0, offset=7))

    await agents.settle_due_complaint(tick)  # type: ignore[arg-type]

    assert [rejection.code for rejection in rejected] == ["invalid"]
    assert "keyed by the UTF-8 complaint_id" in rejected[0].reason
