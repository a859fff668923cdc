"""The recovery walk (services/agents.py) that rebuilds the SLA deadline index and the department
shares beside the agents: what it schedules and counts, what it skips, and how it fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from services import agents
from services.cases import StoredCase, UnsavedCases, encode_stored
from services.shares import PartitionShares, Recount
from tests.folding import cases_of
from tests.wire import received

NOW = datetime.now(UTC)


def stored(complaint_id: str, partition: int, department: str) -> bytes:
    [case] = cases_of([received(complaint_id, department=department, at=NOW - timedelta(minutes=5))], agents.rules)
    return encode_stored(partition, case)


async def test_the_walk_watches_and_counts_the_complaints_of_owned_partitions_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    table = {
        b"C-1": stored("C-1", 0, "客服中心"),
        b"C-2": stored("C-2", 1, "维修部"),
        b"C-3": stored("C-3", 2, "维修部"),  # a standby's: another worker owns partition 2
        b"C-4": b"\x020\x1fnot zstd",  # damaged: its next event is rejected, for redrive
        b"C-5": b"\x02cut short",  # damaged before its partition ends
    }
    monkeypatch.setattr(agents, "complaints_by_id", table)
    monkeypatch.setattr(agents, "deadlines", agents.DeadlineIndex())
    monkeypatch.setattr(agents, "shares", PartitionShares())
    recount = Recount(table)
    monkeypatch.setattr(agents, "recount", recount)
    assert len(recount) == 5  # what /metrics shows as complaintflow_recovery_walk_unreached_complaints

    await agents.walk_complaints_held(list(table), {0, 1}, recount)

    assert len(recount) == 0

    assert len(agents.deadlines) == 2  # C-1 and C-2: their assignment clocks run (30 minutes)
    due = agents.deadlines.pop_due(NOW + timedelta(hours=1))
    assert sorted(complaint_id for complaint_id, _, _ in due) == ["C-1", "C-2"]
    assert {(share.partition, share.department, share.open) for share in agents.shares.take_changed()} == {
        (0, "客服中心", 1),
        (1, "维修部", 1),
    }
    assert agents.recount is None, "the agent counts into the shares again"
    assert "not watching complaint b'C-4'" in caplog.text and "not watching complaint b'C-5'" in caplog.text


async def test_the_walk_counts_a_complaint_changed_since_the_recovery_as_the_agent_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {b"C-1": stored("C-1", 0, "客服中心")}  # as last saved
    [moved] = cases_of([received("C-1", department="维修部", at=NOW - timedelta(minutes=5))], agents.rules)
    unsaved = UnsavedCases(limit=10)
    unsaved.hold("C-1", StoredCase(0, moved))  # changed by a step since, saved at the next commit
    monkeypatch.setattr(agents, "complaints_by_id", table)
    monkeypatch.setattr(agents, "unsaved", unsaved)
    monkeypatch.setattr(agents, "deadlines", agents.DeadlineIndex())
    monkeypatch.setattr(agents, "shares", PartitionShares())
    recount = Recount(table)
    monkeypatch.setattr(agents, "recount", recount)

    await agents.walk_complaints_held(list(table), {0}, recount)

    assert {(share.department, share.open) for share in agents.shares.take_changed()} == {("维修部", 1)}
    assert len(agents.deadlines) == 1


async def test_a_walk_that_fails_stops_the_worker_unless_it_is_stopping(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(agents.os, "_exit", exits.append)
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    failed.set_exception(RuntimeError("a bug"))

    agents._exit_if_failed(failed)
    monkeypatch.setattr(agents, "app", SimpleNamespace(should_stop=True))
    agents._exit_if_failed(failed)
    cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cancelled.cancel()
    agents._exit_if_failed(cancelled)

    assert exits == [agents.EXIT_WALK_FAILED]
