"""The console script as a user runs it: publish a file, simulate a stream, `up` and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from services.broker import free_port, port_is_open
from services.clients import latest_by_key
from services.settings import Settings
from tests.integration.conftest import ARTIFACTS, complaintflow, wait_for_record
from tests.wire import T0, assigned, minutes, received

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


async def test_publish_sends_the_good_lines_and_names_the_bad_ones(
    tmp_path: Path, worker_env: dict[str, str], settings: Settings, new_id: Callable[[str], str]
) -> None:
    complaint_id = new_id("C")
    lines = [
        orjson.dumps(received(complaint_id)),
        b"not json at all",
        orjson.dumps(assigned(complaint_id, "客服中心", "h-9", at=T0 + minutes(2))),
        b"",
    ]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")

    result = complaintflow("publish", str(source), env=worker_env)

    assert result.returncode == 1, result.stderr
    assert "sent 2, failed 1 (of 3 lines)" in result.stdout
    assert "line 2: not JSON" in result.stderr
    state = await wait_for_record(
        settings, "complaints.state", lambda k, v: k == complaint_id.encode() and v["version"] == 2
    )
    assert state["handler"] == "h-9"


async def test_simulate_publishes_a_stream_the_worker_accepts_entirely(
    worker_env: dict[str, str], settings: Settings
) -> None:
    prefix_env = {**worker_env}
    result = complaintflow(
        "simulate", "--seed", "4242", "--complaints", "40", "--start", "2026-01-05T09:00:00+08:00", env=prefix_env
    )
    assert result.returncode == 0, result.stderr
    sent = int(result.stdout.split()[1])
    assert sent >= 40 * 3

    from services.simulate import simulate

    expected = list(simulate(4242, 40, T0.replace(year=2026, month=1, day=5)))
    assert len(expected) == sent
    last_versions: dict[str, int] = {}
    for wire_event in expected:
        last_versions[wire_event["complaint_id"]] = last_versions.get(wire_event["complaint_id"], 0) + 1
    deadline = time.monotonic() + 120
    while True:  # partitions are processed independently: wait for every complaint, not just the last sent
        states = await latest_by_key(settings, settings.topic("complaints.state"))
        versions = {cid: states.get(cid.encode(), {}).get("version") for cid in last_versions}
        if versions == last_versions or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert versions == last_versions
    rejected = await latest_by_key(settings, settings.topic("complaints.rejected"))
    assert not [key for key in rejected if key.decode() in last_versions]


def test_up_runs_the_demo_and_ctrl_c_stops_worker_and_broker(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if "KAFKA_BOOTSTRAP_SERVERS" not in name},
        "COMPLAINTFLOW_EMBEDDED_BROKER_PORT": str(port),
        "COMPLAINTFLOW_WEB_PORT": str(free_port()),
        "COMPLAINTFLOW_DATA_DIR": str(tmp_path),
        "COMPLAINTFLOW_SESSION_TIMEOUT_SECONDS": "6",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = ARTIFACTS / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--complaints", "5", "--rate", "200"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            deadline = time.monotonic() + 90
            while b"Ctrl-C stops" not in log_path.read_bytes():
                assert up.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            assert port_is_open(port)
            assert_the_printed_dashboard_address_and_token_work(log_path.read_text())
            os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
            assert up.wait(timeout=60) == 0, log_path.read_text()
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
    output = log_path.read_text()
    assert "embedded Tansu broker on 127.0.0.1:" in output
    assert "complaintflow tail complaints.state" in output
    assert output.rstrip().endswith("stopped")
    assert not port_is_open(port), "the broker must stop with Ctrl-C"


def assert_the_printed_dashboard_address_and_token_work(output: str) -> None:
    found = re.search(r"dashboard\s+(http://\S+/)\s+\(dashboard token for this run: (\S+)\)", output)
    assert found, output
    url, token = found.groups()
    deadline = time.monotonic() + 60
    while True:
        request = urllib.request.Request(url + "workload", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                assert "departments" in json.loads(response.read())
                return
        except OSError:  # the web server starts once the worker has recovered its tables
            assert time.monotonic() < deadline, output
            time.sleep(0.5)
