"""Broker, deployments, worker processes and Kafka plumbing shared by the benchmarks.

Every process started here is a context manager that stops it (SIGTERM, then SIGKILL), so an
error or Ctrl-C anywhere leaves no broker or worker running. Logs go to test-artifacts/bench/.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from services.admin import ensure_topics
from services.broker import free_port, stop_process
from services.clients import read_topic
from services.offsets import verified_end_offsets
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "test-artifacts" / "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
Ends = dict[TopicPartition, int]


async def deployment(bootstrap: str, name: str, partitions: int = 4) -> Settings:
    """Settings of an isolated deployment (own topic prefix and app id) on the broker; topics created."""
    settings = Settings(
        kafka_bootstrap_servers=bootstrap, topic_prefix=f"{name}.", app_id=f"{name}.app", partitions=partitions
    )
    await ensure_topics(settings)
    return settings


class Baseline:
    """`python -m benchmarks.baseline` as a subprocess: the plain aiokafka loop, reading the events
    of `source` and writing the outputs of `target` (deployment settings); stopped on exit."""

    def __init__(self, source: Settings, target: Settings, *, events: int | None = None, changelog: bool = False):
        self.arguments = ["--bootstrap", source.bootstrap_servers, "--source", source.topic_prefix]
        self.arguments += ["--target", target.topic_prefix, "--group", f"{target.topic_prefix}baseline"]
        self.arguments += [*(["--events", str(events)] if events is not None else []), *(["--changelog"] * changelog)]
        self.log = LOGS / f"{target.topic_prefix}baseline.log"
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Baseline:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.baseline", *self.arguments, cwd=ROOT, stdout=PIPE, stderr=log
            )
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def line(self, key: str, timeout: float) -> dict[str, Any]:
        """The next JSON line it prints that has `key` (`ready`, or the final `consumed`)."""
        assert self.process is not None and self.process.stdout is not None, "baseline not started"
        async with asyncio.timeout(timeout):
            while raw := await self.process.stdout.readline():
                found = orjson.loads(raw)
                if key in found:
                    return dict(found)
        raise RuntimeError(f"the baseline exited without printing {key!r}; see {self.log}")


class Worker:
    """`complaintflow worker` for one deployment, as a subprocess; a context manager that stops it."""

    def __init__(
        self,
        settings: Settings,
        log: Path,
        data_dir: Path,
        module: str = "services.cli",
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`module`: what `python -m` runs with the argument `worker` (`benchmarks.task_clock` times
        it); `environment`: set for the worker besides the deployment's settings."""
        self.settings, self.log, self.data_dir, self.module = settings, log, data_dir, module
        self.environment = dict(environment or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.web_port = 0

    def start(self) -> Worker:
        self.web_port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.bootstrap_servers,
            "COMPLAINTFLOW_TOPIC_PREFIX": self.settings.topic_prefix,
            "COMPLAINTFLOW_APP_ID": self.settings.app_id,
            "COMPLAINTFLOW_PARTITIONS": str(self.settings.partitions),
            "COMPLAINTFLOW_DATA_DIR": str(self.data_dir),
            "COMPLAINTFLOW_WEB_PORT": str(self.web_port),
            "COMPLAINTFLOW_SESSION_TIMEOUT_SECONDS": "6",
            "COMPLAINTFLOW_LOG_LEVEL": "info",
            **self.environment,
        }
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self.started_at = time.time()
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "worker"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "worker not started"
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {self.log}")

    async def logged(self, text: str, timeout: float = 120.0) -> float:
        """Wait for a log line (written since this start) containing `text`; return its logged time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            for line in self.log.read_text(errors="replace").splitlines():
                stamp = log_time(line)
                if text in line and stamp is not None and stamp >= self.started_at - 1:
                    return stamp
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no {text!r} in {self.log} within {timeout:.0f} s")

    async def collector_seconds(self) -> float | None:
        """CPU seconds the worker has spent in Python's garbage collector so far, all generations
        (its /metrics); None from a worker that does not say."""
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{self.web_port}/metrics") as response,
            ):
                text = await response.text()
        except aiohttp.ClientError:
            return None
        spent = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(COLLECTOR_SECONDS)]
        return sum(spent) if spent else None

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process, grace_seconds=30)

    def __enter__(self) -> Worker:
        return self  # started by whoever times it

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


COLLECTOR_SECONDS = "complaintflow_collector_seconds_total{"
_LOG_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def log_time(line: str) -> float | None:
    """The epoch time of a Faust/mode log line (`[2026-11-22 14:16:07,084] ...`, local time)."""
    found = _LOG_STAMP.match(line)
    return None if found is None else datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14 and 15 of stat


async def cpu_per_second(pid: int, seconds: float) -> float:
    """CPU seconds the process used per wall second over the next `seconds`."""
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


async def settled(worker: Worker, *, below: float = 0.1, timeout: float = 300.0) -> None:
    """Wait until the worker uses under `below` of a core for two seconds running (its queues are empty)."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2 and time.monotonic() < deadline:
        worker.check_alive()
        quiet = quiet + 1 if await cpu_per_second(worker.pid, 1.0) < below else 0


async def publish(settings: Settings, messages: Iterable[tuple[bytes, bytes]]) -> Ends:
    """Send as fast as the broker takes them (big batches); return each partition's end offset."""
    client = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await client.start()
    try:
        topic = settings.topic("complaints.events")
        pending = [await client.send(topic, key=key, value=value) for key, value in messages]
        ends: Ends = {}
        for metadata in await asyncio.gather(*pending):
            tp = TopicPartition(metadata.topic, metadata.partition)
            ends[tp] = max(ends.get(tp, 0), metadata.offset + 1)
        return ends
    finally:
        await client.stop()


async def publish_paced(settings: Settings, messages: list[tuple[bytes, bytes]], rate: float) -> list[float]:
    """Send at `rate` messages/s with the project's client settings; return each send's wall time."""
    client = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    await client.start()
    try:
        loop, topic, sent_at, pending = asyncio.get_running_loop(), settings.topic("complaints.events"), [], []
        started = loop.time()
        for n, (key, value) in enumerate(messages):
            ahead = started + n / rate - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            sent_at.append(time.time())
            pending.append(await client.send(topic, key=key, value=value))
        await asyncio.gather(*pending)
        return sent_at
    finally:
        await client.stop()


async def wait_committed(
    settings: Settings, group: str, ends: Mapping[TopicPartition, int], worker: Worker, timeout: float = 3600
) -> int:
    """Wait until consumer group `group` has committed every partition up to `ends` (all processed),
    or `timeout` passes; return how many of those messages it has committed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            worker.check_alive()
            committed = [min(await consumer.committed(tp) or 0, end) for tp, end in ends.items()]
            if sum(committed) == sum(ends.values()) or time.monotonic() > deadline:
                return sum(committed)
            await asyncio.sleep(1.0)
    finally:
        await consumer.stop()


async def state_published(settings: Settings, final: Mapping[bytes, int]) -> float:
    """When the last complaint's state record reached its final version (the record's own
    timestamp, i.e. when it was produced). Raises if a complaint never got there."""
    reached: dict[bytes, float] = {}
    topic = settings.topic("complaints.state")
    async for record in read_topic(settings, topic):
        key = record.key
        if (
            key is not None
            and key in final
            and key not in reached
            and record.value
            and orjson.loads(record.value)["version"] >= final[key]
        ):
            reached[key] = record.timestamp / 1000
    missing = len(final) - len(reached)
    if missing:
        raise RuntimeError(f"{missing} of {len(final)} complaints never reached their final version on {topic}")
    return max(reached.values())


class Tail:
    """A group-less consumer positioned at a topic's true end; `collect` feeds new records with the
    wall time they became visible here."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def collect(self, done: Callable[[ConsumerRecord[bytes, bytes], float], bool], timeout: float) -> bool:
        """Call `done(record, seen_at)` for each new record until it returns True (then True) or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await self.consumer.getmany(timeout_ms=100)
            seen_at = time.time()
            for records in batches.values():
                for record in records:
                    if done(record, seen_at):
                        return True
        return False


TAIL_FETCH_WAIT_MS = 5
"""The instrument's own fetch wait: Tansu answers a fetch that found nothing only when the wait
expires (services/fetching.py), so a tail with aiokafka's default 500 ms added up to half a
second to every latency it measured. On Kafka the wait costs nothing; here 5 ms keeps it out."""


@asynccontextmanager
async def tailing(settings: Settings, topic: str) -> AsyncIterator[Tail]:
    def group_less() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=TAIL_FETCH_WAIT_MS,
        )

    consumer = group_less()
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        ends = await verified_end_offsets(group_less, await consumer.end_offsets(partitions))
        for tp in partitions:
            consumer.seek(tp, ends[tp])
        yield Tail(consumer)
    finally:
        await consumer.stop()


async def read_seconds(settings: Settings, topics: Iterable[str]) -> tuple[int, float]:
    """(records, seconds) to read `topics` to their end with a plain consumer, one after the other."""
    started, count = time.perf_counter(), 0
    for topic in topics:
        async for _ in read_topic(settings, topic, idle_seconds=2.0):
            count += 1
    return count, time.perf_counter() - started
