"""The broker goes away and comes back empty (the embedded broker keeps nothing): the worker keeps
its process, reports unhealthy on /healthz meanwhile, and then says plainly that the data is gone."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.broker import EmbeddedBroker, free_port
from services.topics import ALL_TOPICS
from tests.integration.conftest import ARTIFACTS, start_worker, stop_worker

pytestmark = pytest.mark.integration


def health(port: int) -> tuple[int | None, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None, {}


def wait_until(port: int, accepts: Callable[[int | None, dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = health(port)
        if accepts(status, body):
            return body
        assert time.monotonic() < deadline, f"/healthz still answers {status} {body}"
        time.sleep(0.5)


def test_a_worker_survives_a_broker_outage_and_says_when_the_broker_came_back_empty(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    broker_port, web_port = free_port(), free_port()
    env = {
        **worker_env,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker_port}",
        "COMPLAINTFLOW_WEB_PORT": str(web_port),
        "COMPLAINTFLOW_DATA_DIR": str(tmp_path),
    }
    broker = EmbeddedBroker(broker_port, log_path=ARTIFACTS / "outage-tansu.log")
    broker.start()
    worker = start_worker(env, "outage-worker.log")
    try:
        wait_until(web_port, lambda status, body: status == 200, timeout=90)

        broker.stop()
        down = wait_until(web_port, lambda status, body: status == 503, timeout=30)
        assert down["broker"]["reachable"] is False and down["status"] == "unhealthy"
        time.sleep(5)
        assert worker.poll() is None, "the worker must keep its process while the broker is away"

        broker = EmbeddedBroker(broker_port, log_path=ARTIFACTS / "outage-tansu-restarted.log")
        broker.start()
        empty = wait_until(web_port, lambda status, body: body.get("broker", {}).get("reachable"), timeout=30)
        assert empty["status"] == "unhealthy"
        missing = empty["broker"]["missing_topics"]
        # which ones depends on the race with the clients whose metadata requests make Tansu
        # auto-create a topic again (complaints.events, once in six runs); the rest stay missing
        assert missing and set(missing) <= {spec.name for spec in ALL_TOPICS}
        assert "lost its data" in empty["broker"]["error"]
        deadline = time.monotonic() + 30
        while "has lost complaintflow's topics" not in (ARTIFACTS / "outage-worker.log").read_text():
            assert time.monotonic() < deadline, "the worker's log does not say the broker lost its data"
            time.sleep(0.5)
        assert worker.poll() is None, "the worker must not crash when the broker comes back empty"
    finally:
        stop_worker(worker)
        broker.stop()
