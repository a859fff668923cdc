"""`complaintflow replay`: the projections as they stood at any moment, rebuilt from the event log.

Reads complaints.events (or an export file) with a plain aiokafka consumer: manual assignment, no
group id (it never joins the live group, commits nothing, and produces nothing), partition by
partition from the beginning to the end the log had when the replay started. That end is
verified by a fetch (`services.offsets.verified_end_offsets`): the dev broker under-reports
ListOffsets after batched writes, and on Apache Kafka the two agree. Records are folded one at a
time by `projections.history.History`, which keeps one case per complaint, never the log.

Output is a pure function of the log, the policy files and `--as-of`: sorted by complaint and
department, JSON with sorted keys, no wall clock unless `--as-of` is left to default to now. How it
is printed is services/render.py.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from events.errors import ComplaintflowError
from projections.history import Folded, History, Horizon, Horizons, LoggedEvent
from services.clients import UnknownTopic, read_topic
from services.export_file import ExportFileError, parse_line
from services.kafka_options import client_options
from services.offsets import verified_end_offsets
from services.progress import Progress
from services.render import Format, write_csv, write_json_lines, write_projections, write_table, write_timeline
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import EVENTS, REJECTED

FETCH_BYTES = 64 << 20
"""Per fetch and per partition: a message of several MB (complaints.events keeps hostile input too) must fit."""
STALL_SECONDS = 30.0
FREEZE_EVERY = 10_000
"""Log entries folded between two `gc.freeze()` calls: see `spared_collector`."""
YOUNG_GENERATION = 100_000
"""Container objects allocated (less those freed) before a fold's collector looks at its youngest
generation again, where Python's default is 700 and a worker's 10,000 (services/collector.py).
What a collection of it walks is what the fold keeps until the next freeze, since the fold makes
next to no cycles: the fewer the walks, the less time. Garbage in cycles (a rejection's traceback)
waits for at most this many allocations: a few MB, freed in the same block."""


class LogReadError(ComplaintflowError):
    """The log could not be read to its end (the broker stopped answering for a partition)."""


class ReplayOptionsError(ComplaintflowError):
    """Options that cannot be combined; the message says why."""


@dataclass(frozen=True)
class ReplayRequest:
    as_of: datetime | None = None
    """None: now (and the output then says when now was)."""
    complaint: str | None = None
    department: str | None = None
    from_file: Path | None = None
    format: Format = "table"
    rejected: bool = False
    jobs: int | None = None
    """Processes folding the log (`services.parallel_replay`); None: `default_jobs`. A timeline is
    always folded in this process."""


class EventLog(Protocol):
    total: int

    def events(self) -> AsyncIterator[LoggedEvent]: ...


class KafkaLog:
    """complaints.events from its beginning to the end it had when entered, partition by partition."""

    def __init__(self, settings: Settings, ranges: dict[int, tuple[int, int]] | None = None) -> None:
        """`ranges`: partition → (beginning, end) as another `KafkaLog` found them (the shards of a
        parallel replay all read the parent's snapshot); None: found when entered."""
        self.settings = settings
        self.topic = settings.topic(EVENTS.name)
        self.ranges: dict[int, tuple[int, int]] = dict(ranges or {})
        self._given = ranges is not None
        self.total = sum(max(0, end - beginning) for beginning, end in self.ranges.values())
        self._consumer = _consumer(settings)

    async def __aenter__(self) -> KafkaLog:
        await self._consumer.start()
        if self._given:
            return self
        try:
            await self._consumer.topics()  # loads the cluster's metadata
            partitions = self._consumer.partitions_for_topic(self.topic)
            if not partitions:
                raise UnknownTopic(
                    f"topic {self.topic} does not exist on {self.settings.bootstrap_servers}: nothing to read "
                    "(check KAFKA_BOOTSTRAP_SERVERS and COMPLAINTFLOW_TOPIC_PREFIX)"
                )
            assignment = [TopicPartition(self.topic, partition) for partition in sorted(partitions)]
            listed = await self._consumer.end_offsets(assignment)
            ends = await verified_end_offsets(lambda: _consumer(self.settings, fetch_max_wait_ms=10), listed)
            beginnings = await self._consumer.beginning_offsets(assignment)
        except BaseException:
            await self._consumer.stop()
            raise
        self.ranges = {tp.partition: (beginnings[tp], ends[tp]) for tp in assignment}
        self.total = sum(max(0, end - beginning) for beginning, end in self.ranges.values())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for partition, (beginning, end) in sorted(self.ranges.items()):
            if end > beginning:
                async for entry in self._partition(TopicPartition(self.topic, partition), beginning, end):
                    yield entry

    async def _partition(self, partition: TopicPartition, beginning: int, end: int) -> AsyncIterator[LoggedEvent]:
        self._consumer.assign([partition])
        self._consumer.seek(partition, beginning)
        stalled = 0.0
        while await self._consumer.position(partition) < end:
            batch = (await self._consumer.getmany(partition, timeout_ms=500, max_records=5000)).get(partition, [])
            stalled = 0.0 if batch else stalled + 0.5
            if stalled > STALL_SECONDS:
                position = await self._consumer.position(partition)
                raise LogReadError(
                    f"{self.topic}[{partition.partition}] stopped answering at offset {position} before its end "
                    f"{end}; is the broker at {self.settings.bootstrap_servers} healthy?"
                )
            for record in batch:
                if record.offset >= end:  # written after the replay started
                    return
                yield LoggedEvent(record.partition, record.offset, record.timestamp, record.key, record.value or b"")


class FileLog:
    """An export file read back as a log (`replay --from-file`), one line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0

    async def __aenter__(self) -> FileLog:
        try:
            with self.path.open("rb") as lines:
                self.total = sum(1 for line in lines if line.strip())
        except OSError as error:
            raise ExportFileError(f"cannot read {self.path}: {error.strerror}") from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def events(self) -> AsyncIterator[LoggedEvent]:
        for entry in self.entries():
            yield entry

    def entries(self) -> Iterator[LoggedEvent]:
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield parse_line(line, where=f"{self.path}:{number}")


def _consumer(settings: Settings, *, fetch_max_wait_ms: int = 500) -> AIOKafkaConsumer:
    """No group: nothing joins, nothing is committed; the live group never sees a replay.

    `fetch_max_wait_ms`: how long the broker may hold a fetch that finds nothing. The end check
    (`verified_end_offsets`) needs only the high-water mark, which an empty answer carries too: at
    aiokafka's default 500 ms, a log with an empty partition made a replay start half a second later."""
    return AIOKafkaConsumer(
        **client_options(settings),
        client_id=f"{settings.app_id}-replay",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )


async def fold_log(
    log: EventLog, history: History, progress: Progress, *, wanted: Callable[[LoggedEvent], bool] | None = None
) -> None:
    """Feed every entry of `log` to `history` (with `wanted`, only the entries it wants: one
    complaint's for a timeline, one shard's in a parallel replay); `progress` counts them all."""
    with spared_collector() as keep:
        async for entry in log.events():
            progress.advance()
            if wanted is None or wanted(entry):
                history.feed(entry)
            if progress.done % FREEZE_EVERY == 0:
                keep()
    progress.close()


@contextmanager
def spared_collector() -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector kept off what a fold holds, until the block ends.

    A fold keeps one `Case` per complaint (pydantic models: several hundred thousand objects the
    collector tracks at 20,000 complaints) and lets the previous version of a case go by reference
    count: folding makes next to no reference cycles (13 objects over 11,391 events, a rejection's
    traceback). Yet every full collection walked all the cases kept, to find nothing (20 of them
    over a 113k-event replay, 0 objects freed): a fifth of that replay's CPU.

    The block yields `gc.freeze`, to call as what is kept grows: it moves every object alive into a
    generation the collector skips. Young garbage is still collected, every `YOUNG_GENERATION`
    allocations rather than 700: at 700, the young generation's collections still walked what the
    fold kept since the last freeze, and again in the middle generation's, ~8 % of a replay's CPU
    (docs/performance.md, "Replay's fold compiled, and its collector"). At the end of the block
    everything frozen goes back under collection (`gc.unfreeze`) and the thresholds are restored."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, *thresholds[1:])
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def run_replay(settings: Settings, request: ReplayRequest, stdout: TextIO, stderr: TextIO) -> int:
    """`complaintflow replay`: projections (or a timeline, or the rejections) on `stdout`; the
    progress bar and a one-line summary on `stderr`."""
    if request.rejected:
        if request.from_file is not None:
            raise ReplayOptionsError(
                "--rejected lists complaints.rejected on the cluster; an export file holds accepted events only"
            )
        await list_rejected(settings, request, stdout)
        return 0
    from services.parallel_replay import fold  # it builds on this module

    as_of = request.as_of or datetime.now(UTC)
    history = History(load_rulebook(settings), Horizons(Horizon(as_of, occurred_by=as_of)), watch=request.complaint)
    log: FileLog | KafkaLog = FileLog(request.from_file) if request.from_file else KafkaLog(settings)
    async with log:
        only_key = None if request.complaint is None else request.complaint.encode()
        wanted = None if only_key is None else lambda entry: entry.key == only_key
        folded = await fold(settings, log, history, request.jobs, Progress(stderr, "replay", log.total), wanted=wanted)
    with spared_collector() as keep:
        keep()  # the cases are all there: the final settles and the output only add short-lived objects
        if request.complaint is not None:
            write_timeline(stdout, history, request.complaint, as_of, request.format)
        else:
            write_projections(stdout, folded, as_of, request.department, request.format)
    print(summary(folded, as_of), file=stderr)
    return 0


def summary(history: Folded, as_of: datetime) -> str:
    counts = history.counts
    return (
        f"replayed {sum(counts.values()):,} events as of {as_of.isoformat()}: {counts['accepted']:,} accepted, "
        f"{counts['duplicate']:,} repeats, {counts['rejected']:,} rejected, {counts['later']:,} after --as-of; "
        f"{len(history.complaint_ids()):,} complaints"
    )


# --- rejected messages ---------------------------------------------------------------------------

REJECTED_COLUMNS = (
    "source_partition",
    "source_offset",
    "reason_code",
    "complaint_id",
    "event_id",
    "key",
    "rejected_at",
    "value_size",
    "value_sha256",
    "reason",
)


async def list_rejected(settings: Settings, request: ReplayRequest, out: TextIO) -> None:
    """complaints.rejected, sorted by source position (then time), filtered by --complaint and --as-of."""
    found = []
    async for message in read_topic(settings, settings.topic(REJECTED.name)):
        if message.value is None:
            continue
        record = orjson.loads(message.value)
        if _rejection_matches(record, request):
            found.append(record)
    found.sort(key=lambda r: (r["source_topic"], r["source_partition"], r["source_offset"], r["rejected_at"]))
    if request.format == "json":
        out.write('{"rejected":[')
        write_json_lines(out, found)
        out.write("]}\n")
    elif request.format == "csv":
        write_csv(out, [{name: record.get(name) for name in REJECTED_COLUMNS} for record in found])
    else:
        rows = [
            [
                f"{r['source_partition']}@{r['source_offset']}",
                r["reason_code"],
                r.get("complaint_id") or r.get("key") or "-",
                r.get("event_id") or "-",
                r["rejected_at"],
                r["reason"],
            ]
            for r in found
        ]
        out.write(f"rejected messages: {len(rows)}\n")
        write_table(out, ("POSITION", "REASON_CODE", "COMPLAINT", "EVENT", "REJECTED_AT", "REASON"), rows)


def _rejection_matches(record: dict[str, Any], request: ReplayRequest) -> bool:
    if request.complaint is not None and request.complaint not in (record.get("complaint_id"), record.get("key")):
        return False
    return request.as_of is None or datetime.fromisoformat(record["rejected_at"]) <= request.as_of
