"""A worker with the on-disk store (COMPLAINTFLOW_STORE=rocksdb://) keeps its tables across a restart.

With memory:// a restarted worker rebuilds every table from its changelog, record by record;
with rocksdb:// the tables are files under the data directory (rocksdict, which faust-streaming
uses when it is installed) and a restart reads only what the changelog holds past the offset the
store persisted: after a clean stop, nothing. The test reads the files the first worker left,
checks from the second worker's recovery report that it read no changelog record, and that
events for the complaints it never saw being received fold on top of what it found on disk.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from rocksdict import AccessType, Options, Rdict

from services.admin import ensure_topics
from services.cases import decode_stored
from services.clients import latest_by_key
from services.settings import Settings
from services.topics import COMPLAINTS_TABLE, changelog_name
from tests.integration.conftest import ARTIFACTS, start_worker, stop_worker, wait_for_records, wait_until_saved
from tests.wire import T0, assigned, minutes, received

pytestmark = pytest.mark.integration

COMPLAINTS = 12


async def publish(producer: AIOKafkaProducer, settings: Settings, events: list[dict[str, Any]]) -> None:
    for event in events:
        await producer.send_and_wait(
            settings.topic("complaints.events"), key=event["complaint_id"].encode(), value=orjson.dumps(event)
        )


def at_version(ids: list[str], version: int) -> Callable[[bytes | None, dict[str, Any]], bool]:
    wanted = {complaint_id.encode() for complaint_id in ids}
    return lambda key, value: key in wanted and value.get("version") == version


def stored_cases(data_dir: Path) -> dict[str, int]:
    """complaint id → version, read from the complaints table's RocksDB files the worker left; each
    value must be in the file of its own partition (the worker saves outside the step of its event)."""
    partitions = sorted(data_dir.glob(f"v*/tables/{COMPLAINTS_TABLE}-*.db"))
    assert partitions, f"no RocksDB files of {COMPLAINTS_TABLE} under {data_dir}"
    found = {}
    for path in partitions:
        partition = int(path.stem.rsplit("-", 1)[1])
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for key, value in db.items():
                if not key.startswith(b"__faust"):  # Faust's persisted changelog offset
                    stored = decode_stored(value)
                    assert stored.partition == partition, f"{key!r} of partition {stored.partition} in {path.name}"
                    found[key.decode()] = stored.case.complaint.version
        finally:
            db.close()
    return found


async def wait_for_log(path: Path, text: str, timeout: float = 60.0) -> str:
    """The worker's log once it says `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = path.read_text(encoding="utf-8", errors="replace")
        if text in log:
            return log
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path.name} never said {text!r} within {timeout:.0f} s")


def recovery_report(log: str, title: str) -> dict[tuple[str, int], int]:
    """The last table `title` ("Highwater - Active", "Reading Starts At - Active") of Faust's recovery
    log: (changelog, partition) → offset. Faust writes a ditto mark for a repeated topic name."""
    tables = re.findall(rf"\+{re.escape(title)}-*\+.*?\n((?:\|.*\|\n|\+[-+]*\+ *\n)+)", log)
    assert tables, f"no {title!r} table in the worker's log"
    offsets, topic = {}, ""
    for row in tables[-1].splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].isdigit():
            topic = topic if cells[0] == "〃" else cells[0]
            offsets[(topic, int(cells[1]))] = int(cells[2])
    return offsets


async def test_a_restarted_worker_keeps_its_tables_on_disk(
    deployment: tuple[dict[str, str], Settings], producer: AIOKafkaProducer, new_id: Callable[[str], str]
) -> None:
    """Received by the first worker, assigned after the second started: only the disk can have told it
    the complaints' versions, since it read no changelog record."""
    env, settings = deployment
    # three changed cases held at most: the agent saves them in the step of a fourth, of any partition
    env = {**env, "COMPLAINTFLOW_STORE": "rocksdb://", "COMPLAINTFLOW_UNSAVED_CASES_LIMIT": "3"}
    data_dir = Path(env["COMPLAINTFLOW_DATA_DIR"])
    await ensure_topics(settings)
    ids = [new_id("K") for _ in range(COMPLAINTS)]

    first = start_worker(env, "rocksdb-worker-1.log")
    try:
        await publish(producer, settings, [received(cid) for cid in ids])
        await wait_for_records(settings, "complaints.state", at_version(ids, 1), count=COMPLAINTS, timeout=60)
        await wait_until_saved(settings, ids, version=1)  # at its next commit: a stop drops what it holds
    finally:
        stop_worker(first)
    assert stored_cases(data_dir) == dict.fromkeys(ids, 1)

    second = start_worker(env, "rocksdb-worker-2.log")
    try:
        log = await wait_for_log(ARTIFACTS / "rocksdb-worker-2.log", "Worker ready")
        starts, ends = recovery_report(log, "Reading Starts At - Active"), recovery_report(log, "Highwater - Active")
        changelog = changelog_name(settings.app_id, COMPLAINTS_TABLE)
        assert sum(end + 1 for (topic, _), end in ends.items() if topic == changelog) >= COMPLAINTS
        assert starts == ends, "the restarted worker read its tables back from the changelogs, not from disk"
        await publish(producer, settings, [assigned(cid, "客服中心", at=T0 + minutes(3)) for cid in ids])
        await wait_for_records(settings, "complaints.state", at_version(ids, 2), count=COMPLAINTS, timeout=60)
    finally:
        stop_worker(second)
    states = await latest_by_key(settings, settings.topic("complaints.state"))
    assert {cid: (states[cid.encode()]["version"], states[cid.encode()]["stage"]) for cid in ids} == dict.fromkeys(
        ids, (2, "assigned")
    )
    assert stored_cases(data_dir) == dict.fromkeys(ids, 2)
