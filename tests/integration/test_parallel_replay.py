"""`replay --jobs N` on the real broker: the same bytes as `--jobs 1` in every format, with a
complaint published to two partitions, from an export file too; a child's error is the one
`--jobs 1` gives, with the same exit code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.export import export_log
from services.export_file import ExportFileError
from services.replay import ReplayRequest, run_replay
from services.settings import Settings
from tests.integration.conftest import complaintflow
from tests.integration.test_replay import AS_OF, BASE, a_log_with_noise, wire
from tests.wire import assigned, minutes, received

pytestmark = pytest.mark.integration


async def replayed_with_summary(settings: Settings, **request: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    assert await run_replay(settings, ReplayRequest(as_of=AS_OF, **request), out, err) == 0
    return out.getvalue(), err.getvalue()


async def publish_to(settings: Settings, messages: list[tuple[int, tuple[bytes, bytes]]]) -> None:
    """Each message to the partition given, as a channel with a partitioner of its own would."""
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False)
    await client.start()
    try:
        for partition, (key, value) in messages:
            await client.send_and_wait(settings.topic("complaints.events"), key=key, value=value, partition=partition)
    finally:
        await client.stop()


async def test_three_jobs_print_the_bytes_one_job_prints_with_a_complaint_in_two_partitions(
    deployment: tuple[dict[str, str], Settings],
) -> None:
    _, settings = deployment
    await a_log_with_noise(settings)
    split = [received("C-split", amount="800.00", at=BASE), assigned("C-split", "物业部", "h-2", at=BASE + minutes(5))]
    await publish_to(settings, [(0, wire(split[0])), (3, wire(split[1]))])

    for form in ("json", "csv", "table"):
        one = await replayed_with_summary(settings, format=form, jobs=1)
        assert await replayed_with_summary(settings, format=form, jobs=3) == one, form
        if form == "json":
            in_split = next(c for c in orjson.loads(one[0])["complaints"] if c["complaint_id"] == "C-split")
            assert (in_split["department"], in_split["handler"]) == ("物业部", "h-2"), "both partitions folded"
    by_department = await replayed_with_summary(settings, department="物业部", jobs=1)
    assert await replayed_with_summary(settings, department="物业部", jobs=3) == by_department
    assert "C-split" in by_department[0]
    assert "replayed " in one[1] and "\r" not in one[1]


async def test_two_jobs_over_an_export_file_print_what_one_job_prints(
    deployment: tuple[dict[str, str], Settings], tmp_path: Path
) -> None:
    _, settings = deployment
    await a_log_with_noise(settings)
    exported = tmp_path / "history.jsonl"
    await export_log(settings, exported, until=None, stderr=io.StringIO())

    two = await replayed_with_summary(settings, from_file=exported, format="json", jobs=2)

    assert two == await replayed_with_summary(settings, from_file=exported, format="json", jobs=1)
    assert two[0] == (await replayed_with_summary(settings, format="json", jobs=2))[0]


async def test_an_error_in_a_child_is_the_error_one_job_gives_with_the_same_exit_code(
    deployment: tuple[dict[str, str], Settings], tmp_path: Path
) -> None:
    env, settings = deployment
    broken = tmp_path / "broken.jsonl"
    line = orjson.dumps({"partition": 0, "offset": 0, "timestamp_ms": None, "event": received("C-1")}).decode()
    broken.write_text(f"{line}\n{line}\nnot json\n", encoding="utf-8")

    errors = []
    for jobs in (1, 2):
        with pytest.raises(ExportFileError) as raised:
            await replayed_with_summary(settings, from_file=broken, jobs=jobs)
        errors.append(str(raised.value))
    runs = [complaintflow("replay", "--from-file", str(broken), "--jobs", jobs, env=env) for jobs in ("1", "2")]

    assert errors[0] == errors[1] and f"{broken}:3: not JSON" in errors[0]
    assert [run.returncode for run in runs] == [2, 2]
    assert runs[0].stderr == runs[1].stderr == f"complaintflow: {errors[0]}\n"
    missing = complaintflow("replay", "--jobs", "2", env={**env, "COMPLAINTFLOW_TOPIC_PREFIX": "none-such."})
    assert missing.returncode == 2 and "does not exist" in missing.stderr
