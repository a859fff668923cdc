"""The real thing: a Tansu broker from the pinned wheel, the topics, and a worker process.

Session-scoped: one broker and one worker serve every integration test; tests keep out of each
other's way by using their own complaint ids. Logs land in test-artifacts/.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.admin import ensure_topics
from services.broker import EmbeddedBroker, free_port
from services.cases import decode_stored
from services.clients import read_topic
from services.rules import SHIPPED_POLICY
from services.settings import Settings
from services.topics import COMPLAINTS_TABLE, changelog_name
from services.verify import VerifyReport, verify

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    ARTIFACTS.mkdir(exist_ok=True)
    with EmbeddedBroker(free_port(), log_path=ARTIFACTS / per_process("tansu.log")) as running:
        yield running


def per_process(log_name: str) -> str:
    """`log_name` for this pytest process. `make test` runs the suite in two (pytest-xdist), and
    each that runs an integration test starts its own session broker and worker: `tansu-gw0.log`
    and `tansu-gw1.log`, not one file both write."""
    process = os.environ.get("PYTEST_XDIST_WORKER")
    if process is None:
        return log_name
    stem, _, suffix = log_name.rpartition(".")
    return f"{stem}-{process}.{suffix}"


TEST_POLICY_VERSION = "2026-11-integration"
CHANNEL_TOKENS = {"hotline": "hotline-test-token", "wechat": "wechat-test-token"}
DASHBOARD_TOKEN = "dashboard-test-token"


@pytest.fixture(scope="session")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policy under its own version, so tests see the worker judge by the configured file."""
    shipped = (SHIPPED_POLICY).read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{TEST_POLICY_VERSION}"', shipped), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def worker_env(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory, policy_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "COMPLAINTFLOW_PARTITIONS": "4",
        "COMPLAINTFLOW_SESSION_TIMEOUT_SECONDS": "6",
        "COMPLAINTFLOW_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
        "COMPLAINTFLOW_WEB_PORT": str(free_port()),
        "COMPLAINTFLOW_LOG_LEVEL": os.environ.get("COMPLAINTFLOW_TEST_LOG_LEVEL", "info"),
        "COMPLAINTFLOW_POLICY_FILE": str(policy_file),
        "COMPLAINTFLOW_CHANNEL_TOKENS": orjson.dumps(CHANNEL_TOKENS).decode(),
        "COMPLAINTFLOW_DASHBOARD_TOKENS": orjson.dumps([DASHBOARD_TOKEN]).decode(),
    }


@pytest.fixture(scope="session")
def settings(broker: EmbeddedBroker) -> Settings:
    return Settings(kafka_bootstrap_servers=broker.bootstrap_servers, partitions=4)


@pytest.fixture(scope="session")
async def topics(settings: Settings) -> None:
    await ensure_topics(settings)


@pytest.fixture(scope="session")
async def producer(settings: Settings, topics: None) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False)
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(scope="session")
async def worker(
    worker_env: dict[str, str], topics: None, settings: Settings
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """One worker process for the session, started once the topics exist, stopped with SIGTERM."""
    process = start_worker(worker_env, per_process("worker.log"))
    yield process
    stop_worker(process)


@pytest.fixture
def deployment(
    worker_env: dict[str, str], settings: Settings, policy_file: Path, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Settings]]:
    """A deployment of its own on the session's broker (topic prefix, app id, data dir, web port),
    for tests that start, kill and restart their own workers; the workers' policy file."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    env = {
        **worker_env,
        "COMPLAINTFLOW_TOPIC_PREFIX": prefix,
        "COMPLAINTFLOW_APP_ID": f"{prefix}app",
        "COMPLAINTFLOW_DATA_DIR": str(tmp_path / "data"),
        "COMPLAINTFLOW_WEB_PORT": str(free_port()),  # the session's worker may hold the shared one
    }
    yield (
        env,
        settings.model_copy(update={"topic_prefix": prefix, "app_id": f"{prefix}app", "policy_file": policy_file}),
    )


def start_worker(env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    """`complaintflow worker` as a process of its own, its output in test-artifacts/`log_name`."""
    with (ARTIFACTS / log_name).open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), SIGKILL if it takes over 30 s."""
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def complaintflow(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command line, run as a user would, with its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *arguments], env=env, capture_output=True, text=True, timeout=120
    )


async def verify_until_caught_up(settings: Settings, timeout: float) -> VerifyReport:
    """`verify` until the live read models have caught up with the log and equal its replay, or
    the timeout: the last report either way, for the test to judge."""
    deadline = time.monotonic() + timeout
    while True:
        report = await verify(settings, io.StringIO())
        if (not report.differences and not report.lagging and report.complaints) or time.monotonic() > deadline:
            return report
        await asyncio.sleep(1.0)


def drift(report: VerifyReport) -> str:
    """The first differences and the summary of a report, for an assertion message."""
    return "\n".join([difference.describe() for difference in report.differences[:20]] + [report.summary()])


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Fresh ids, so tests sharing the session's topics never see each other's complaints."""
    return lambda prefix="C": f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    """A bare topic of the test's own on the session's broker (the project's come from `ensure_topics`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def send(producer: AIOKafkaProducer, settings: Settings, key: bytes | None, value: bytes) -> None:
    await producer.send_and_wait(settings.topic("complaints.events"), key=key, value=value)


async def wait_for_record(
    settings: Settings,
    topic: str,
    matches: Callable[[bytes | None, dict[str, Any]], bool],
    *,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """The last record on `topic` that `matches`, waiting until one appears (or failing with what was seen)."""
    found = await wait_for_records(settings, topic, matches, timeout=timeout)
    return found[-1]


async def wait_for_records(
    settings: Settings,
    topic: str,
    matches: Callable[[bytes | None, dict[str, Any]], bool],
    *,
    count: int = 1,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Every record on `topic` that `matches`, in log order, once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        async for record in read_topic(settings, settings.topic(topic)):
            value = orjson.loads(record.value) if record.value else {}
            if matches(record.key, value):
                found.append(value)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} matching records on {topic} within {timeout:.0f} s")
        await asyncio.sleep(0.3)


async def wait_until_saved(
    settings: Settings, complaint_ids: list[str], version: int, *, timeout: float = 30.0
) -> dict[str, list[bytes]]:
    """Every table value the complaints table's changelog holds for each complaint, once the last of
    each is at `version`: the worker saves what changed at its next offset commit (services/commits.py)."""
    changelog, wanted = changelog_name(settings.app_id, COMPLAINTS_TABLE), {cid.encode() for cid in complaint_ids}
    deadline = time.monotonic() + timeout
    while True:
        saved: dict[str, list[bytes]] = {cid: [] for cid in complaint_ids}
        async for record in read_topic(settings, changelog):
            if record.key in wanted and record.value:
                saved[record.key.decode()].append(record.value)
        behind = [
            cid
            for cid, values in saved.items()
            if not values or decode_stored(values[-1]).case.complaint.version != version
        ]
        if not behind:
            return saved
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(behind)} complaints not saved at version {version} within {timeout:.0f} s: {behind[:5]}"
            )
        await asyncio.sleep(0.25)


EVENTS_TOTAL = re.compile(
    r'^complaintflow_events_total\{outcome="(?P<outcome>[a-z_]+)",reason="(?P<reason>[a-z_]*)"\} (?P<count>\S+)$', re.M
)


def parse_metrics(text: str) -> dict[str, float]:
    """A worker's /metrics as sample (name and labels, as written) → value."""
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def event_outcomes(text: str) -> Counter[tuple[str, str]]:
    """complaintflow_events_total of a worker's /metrics, by (outcome, rejection reason)."""
    return Counter(
        {(found["outcome"], found["reason"]): int(float(found["count"])) for found in EVENTS_TOTAL.finditer(text)}
    )
