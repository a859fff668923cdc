"""Server-Sent Events for the live alert stream, and the ids that let a client resume exactly.

An event's id is where the client stands in complaints.alerts: for each partition, the next
offset it has not seen (`0:17,1:4,...`). Offsets mean the same on every worker, so a client that
reconnects with `Last-Event-ID` gets what it missed and nothing twice, whichever worker answers.
"""

from __future__ import annotations

from typing import Any

import orjson


def seen_id(seen: dict[int, int]) -> str:
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(seen.items()))


def parse_seen(last_event_id: str | None) -> dict[int, int] | None:
    """The position a `Last-Event-ID` names; None when absent or not one of ours (start from now)."""
    if not last_event_id:
        return None
    seen: dict[int, int] = {}
    for part in last_event_id.split(","):
        partition, _, offset = part.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            return None
        seen[int(partition)] = int(offset)
    return seen


def format_alert(alert: dict[str, Any], seen: dict[int, int]) -> bytes:
    """One `alert` event: JSON on a single data line (orjson never writes a raw newline)."""
    return b"id: " + seen_id(seen).encode() + b"\nevent: alert\ndata: " + orjson.dumps(alert) + b"\n\n"
