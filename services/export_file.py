"""The export file's lines: one accepted event a line, with its place and time in the log.

`complaintflow export` writes them, `replay --from-file` and `import` read them back (docs/replay.md):

    {"partition": 0, "offset": 12, "timestamp_ms": 1795400000000, "event": {...the event as published...}}
"""

from __future__ import annotations

import orjson

from events.errors import ComplaintflowError
from projections.history import LoggedEvent


class ExportFileError(ComplaintflowError):
    """An export file that cannot be read back: the message names the file, line and problem."""


def export_line(entry: LoggedEvent) -> bytes:
    """One line of an export (docs/replay.md): position, log time and the event as published,
    re-encoded compactly so an event published across several lines still takes one."""
    record = {
        "partition": entry.partition,
        "offset": entry.offset,
        "timestamp_ms": entry.timestamp_ms,
        "event": orjson.loads(entry.value),
    }
    return orjson.dumps(record) + b"\n"


def parse_line(raw: bytes, *, where: str) -> LoggedEvent:
    """An export line back into a log entry, or an `ExportFileError` naming `where` and the problem."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ExportFileError(f"{where}: not JSON ({error.msg}); is this a `complaintflow export` file?") from None
    if not isinstance(record, dict) or not isinstance(record.get("event"), dict):
        raise ExportFileError(f'{where}: expected an object {{"partition", "offset", "timestamp_ms", "event"}}')
    timestamp = record.get("timestamp_ms")
    if not (_is_int(record.get("partition")) and _is_int(record.get("offset"))) or not (
        timestamp is None or _is_int(timestamp)
    ):
        raise ExportFileError(f"{where}: partition and offset must be integers, timestamp_ms an integer or null")
    complaint_id = record["event"].get("complaint_id")
    return LoggedEvent(
        partition=record["partition"],
        offset=record["offset"],
        timestamp_ms=timestamp,
        key=complaint_id.encode() if isinstance(complaint_id, str) else None,
        value=orjson.dumps(record["event"]),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
