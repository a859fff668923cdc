"""The complaint agent's wake-ups: a message on the ticks topic that names no complaint is bad input,
rejected like a keyless event, never a crash that would stop the worker on every redelivery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from events.errors import Rejection
from services import agents


async def test_a_tick_without_a_key_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    rejected: list[Rejection] = []

    async def record(message: object, rejection: Rejection) -> None:
        rejected.append(rejection)

    monkeypatch.setattr(agents, "reject", record)
    tick = SimpleNamespace(key=None, value=b"{}", message=SimpleNamespace(topic=agents.ticks, partition=0, offset=7))

    await agents.settle_due_complaint(tick)  # type: ignore[arg-type]

    assert [rejection.code for rejection in rejected] == ["invalid"]
    assert "no key" in rejected[0].reason
