"""`complaintflow export` and `import`: carry the accepted history from one cluster to another.

The embedded broker keeps nothing across restarts; an export is how its history reaches a real
cluster (or a colleague's laptop). One JSON object a line (services/export_file.py), in log order
(partition by partition, offset by offset).

Only events the fold accepts are written: rejected messages and exact repeats changed nothing, and
complaints.rejected keeps them for the audit. `timestamp_ms` is the record's log timestamp: import
publishes each event with it, because the fold judges events by it (an event from the future is
rejected against it) and replay settles SLA clocks at it. So replaying an import gives the same
projections as replaying the original log.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from events.codec import decode_keyed_event
from events.errors import ComplaintflowError, Rejection
from projections.history import History, Horizon, Horizons
from services.admin import ensure_topics
from services.clients import producer
from services.export_file import ExportFileError, export_line
from services.progress import Progress
from services.replay import FileLog, KafkaLog
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import EVENTS

SEND_WINDOW = 5000
"""Deliveries awaited together on import: bounds memory, keeps the producer's batches full."""


class ImportRefused(ComplaintflowError):
    """complaints.events already holds records: an import would interleave two histories."""


@dataclass(frozen=True)
class ExportReport:
    read: int
    written: int
    complaints: int


@dataclass(frozen=True)
class ImportReport:
    sent: int
    complaints: int
    topic: str


async def export_log(settings: Settings, path: Path, *, until: datetime | None, stderr: TextIO) -> ExportReport:
    """Write the accepted events of complaints.events (those that occurred by `until`, if given).
    Written to a temporary file renamed at the end, so a failed export leaves no half file behind."""
    horizon = Horizon(until or datetime.now(UTC), occurred_by=until)
    history = History(load_rulebook(settings), Horizons(horizon), settle=False)
    partial = path.with_name(path.name + ".partial")
    written = read = 0
    try:
        async with KafkaLog(settings) as log:
            progress = Progress(stderr, "export", log.total)
            with partial.open("wb") as output:
                async for entry in log.events():
                    read += 1
                    progress.advance()
                    if history.feed(entry).outcome == "accepted":
                        output.write(export_line(entry))
                        written += 1
            progress.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return ExportReport(read=read, written=written, complaints=len(history.complaint_ids()))


async def import_log(settings: Settings, path: Path, *, force: bool, stderr: TextIO) -> ImportReport:
    """Publish an export into complaints.events, keyed by complaint, with the original log times.

    The whole file is checked first (nothing is sent from a file with a bad line). One producer
    sends in file order; it keeps one request in flight per partition, so each complaint's events
    land in their original order."""
    source = FileLog(path)
    async with source:
        complaints = _check(source)
    await ensure_topics(settings)
    topic = settings.topic(EVENTS.name)
    if not force:
        async with KafkaLog(settings) as existing:
            if existing.total:
                raise ImportRefused(
                    f"{topic} on {settings.bootstrap_servers} already holds {existing.total} records: import "
                    "fills an empty cluster (it would interleave two histories); pass --force to append anyway"
                )
    progress = Progress(stderr, "import", source.total)
    client = producer(settings)
    await client.start()
    try:
        window: list[asyncio.Future[Any]] = []
        for entry in source.entries():
            window.append(await client.send(topic, key=entry.key, value=entry.value, timestamp_ms=entry.timestamp_ms))
            if len(window) >= SEND_WINDOW:
                await asyncio.gather(*window)
                progress.advance(len(window))
                window.clear()
        await asyncio.gather(*window)
        progress.advance(len(window))
    finally:
        await client.stop()
        progress.close()
    return ImportReport(sent=source.total, complaints=complaints, topic=topic)


def _check(source: FileLog) -> int:
    """Every line is an event the decoder accepts, keyed by its complaint; returns the complaints seen."""
    complaints: set[str] = set()
    for number, entry in enumerate(source.entries(), start=1):
        try:
            complaints.add(decode_keyed_event(entry.key, entry.value).complaint_id)
        except Rejection as rejection:
            raise ExportFileError(f"{source.path}: event {number} ({entry.position}): {rejection}") from None
    return len(complaints)
