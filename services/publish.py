"""`complaintflow publish FILE.jsonl`: send a file of events, checked with the agents' own decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from events.codec import decode_event
from events.errors import Rejection
from services.clients import producer
from services.settings import Settings
from services.topics import EVENTS


@dataclass
class PublishReport:
    lines: int = 0
    sent: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)


async def publish_file(settings: Settings, path: Path, *, send_invalid: bool = False) -> PublishReport:
    """Send each non-blank line, keyed by its complaint_id. A line the decoder rejects is reported
    with its line number and reason, and not sent unless `send_invalid` (then the worker rejects it)."""
    report = PublishReport()
    client = producer(settings)
    await client.start()
    try:
        deliveries = []
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                raw = line.strip()
                if not raw:
                    continue
                report.lines += 1
                try:
                    key: bytes | None = decode_event(raw).complaint_id.encode()
                except Rejection as rejection:
                    report.failures.append((number, rejection.reason))
                    if not send_invalid:
                        continue
                    key = _best_effort_key(raw)
                deliveries.append((number, await client.send(settings.topic(EVENTS.name), key=key, value=raw)))
        for number, delivery in deliveries:
            try:
                await delivery
                report.sent += 1
            except Exception as error:  # the broker refused this record; report it, keep the others
                report.failures.append((number, f"broker refused the record: {error}"))
    finally:
        await client.stop()
    return report


def _best_effort_key(raw: bytes) -> bytes | None:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    complaint_id = document.get("complaint_id") if isinstance(document, dict) else None
    return complaint_id.encode() if isinstance(complaint_id, str) else None
