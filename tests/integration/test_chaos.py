"""Chaos (issue 6): workers killed with SIGKILL while events flow, a second worker joining and the
first leaving, and in the end the live read models equal a replay of the log.

Deselected from `make test` for now (pyproject.toml addopts): it finds drift today (issue 6 is
open; see the closing note of 2026-11-23). Run it alone, and bigger:

    .venv/bin/pytest -m chaos tests/integration/test_chaos.py
    COMPLAINTFLOW_CHAOS_COMPLAINTS=5000 .venv/bin/pytest -m chaos tests/integration/test_chaos.py

`verify` compares every complaint's latest state record with the replay of its events and every
department's workload with the replayed one; the test also waits until no complaint lags the log,
so an event that was skipped (acknowledged but never folded) fails it instead of hiding as lag.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.admin import ensure_topics
from services.broker import free_port
from services.clients import send_events
from services.settings import Settings
from services.simulate import simulate
from services.verify import VerifyReport, verify
from tests.integration.conftest import ARTIFACTS

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

COMPLAINTS = int(os.environ.get("COMPLAINTFLOW_CHAOS_COMPLAINTS", "500"))
RATE = float(os.environ.get("COMPLAINTFLOW_CHAOS_RATE", "60"))


@pytest.fixture
def deployment(
    worker_env: dict[str, str], settings: Settings, policy_file: Path, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Settings]]:
    prefix = f"chaos-{uuid.uuid4().hex[:8]}."
    env = {
        **worker_env,
        "COMPLAINTFLOW_TOPIC_PREFIX": prefix,
        "COMPLAINTFLOW_APP_ID": f"{prefix}app",
        "COMPLAINTFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    yield (
        env,
        settings.model_copy(update={"topic_prefix": prefix, "app_id": f"{prefix}app", "policy_file": policy_file}),
    )


class Workers:
    """Worker processes of one deployment, each with its own web port and log."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.started = env, 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        env = {**self.env, "COMPLAINTFLOW_WEB_PORT": str(free_port())}
        with (ARTIFACTS / f"chaos-worker-{self.started}.log").open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


async def positions(settings: Settings, group: str) -> list[tuple[int, int | None, int | None]]:
    """(partition, committed offset of the worker group, end) of complaints.events, for a failure message."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic("complaints.events"), p) for p in range(settings.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        return [(tp.partition, await consumer.committed(tp), ends[tp]) for tp in tps]
    finally:
        await consumer.stop()


async def converged(settings: Settings, timeout: float) -> VerifyReport:
    """Verify until nothing lags the log and nothing drifts, or the timeout; the last report."""
    deadline = time.monotonic() + timeout
    while True:
        report = await verify(settings, io.StringIO())
        if (not report.differences and not report.lagging) or time.monotonic() > deadline:
            return report
        await asyncio.sleep(3)


async def test_sigkills_a_joining_worker_and_a_leaving_one_leave_no_drift(
    deployment: tuple[dict[str, str], Settings],
) -> None:
    env, settings = deployment
    await ensure_topics(settings)
    start = datetime.now(UTC) - timedelta(seconds=90 * COMPLAINTS)  # the simulator's mean gap: all in the past
    now = datetime.now(UTC)
    events = [event for event in simulate(11, COMPLAINTS, start) if datetime.fromisoformat(event["occurred_at"]) < now]
    workers = Workers(env)
    first = workers.start()
    flowing = asyncio.create_task(send_events(settings, events, rate=RATE))
    second = third = None
    try:
        await asyncio.sleep(4)
        kill(first)  # mid-stream, no goodbye
        first = workers.start()
        await asyncio.sleep(4)
        second = workers.start()  # joins during the load: partitions move
        await asyncio.sleep(5)
        kill(first)
        await asyncio.sleep(3)
        third = workers.start()
        sent = await flowing
        await asyncio.sleep(2)
        stop(second)  # leaves cleanly: the third takes everything over
        report = await converged(settings, timeout=float(os.environ.get("COMPLAINTFLOW_CHAOS_SETTLE", "120")))
    finally:
        flowing.cancel()
        for worker in (first, second, third):
            if worker is not None and worker.poll() is None:
                stop(worker)

    assert sent == len(events)
    if report.differences or report.lagging:
        print("DIAG", await positions(settings, env["COMPLAINTFLOW_APP_ID"]), flush=True)
    drift = "\n".join(difference.describe() for difference in report.differences[:20])
    assert not report.differences, f"{report.summary()}\n{drift}"
    assert not report.lagging, f"{report.lagging} complaints never caught up with the log: events skipped"
    assert report.complaints == len({event["complaint_id"] for event in events}) and report.events > len(events) * 0.9
