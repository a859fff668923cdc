"""Figure 6, recovery: a worker restarted with the same app id (in-memory tables, so it restores
them from their changelogs) until it has caught up: a complaint received right after the restart
has its state record on complaints.state. Baseline: reading those changelogs with a plain consumer."""

from __future__ import annotations

import time

from benchmarks.harness import Worker, publish, read_seconds, tailing
from benchmarks.report import Row
from benchmarks.streams import Event, encode
from services.settings import Settings
from services.topics import TABLES, changelog_name

FIGURE = "6 recovery"
READY = "Worker ready"
WATCHED = "SLA timer watches"


async def changelog_read(settings: Settings) -> tuple[int, float]:
    """(records, seconds) of reading every table changelog of the deployment to its end."""
    return await read_seconds(settings, [changelog_name(settings.app_id, table) for table in TABLES])


async def restart_until_caught_up(worker: Worker, settings: Settings, probe: Event) -> tuple[float, float]:
    """(seconds to the probe's state record, seconds to the log's "Worker ready"), from the restart."""
    key = str(probe["complaint_id"]).encode()
    async with tailing(settings, settings.topic("complaints.state")) as tail:
        worker.start()
        await publish(settings, encode([probe]))
        if not await tail.collect(lambda record, seen_at: record.key == key, timeout=1800):
            raise TimeoutError("the restarted worker did not publish the probe's state within 30 minutes")
        caught_up = time.time() - worker.started_at
    ready = await worker.logged(READY)
    return caught_up, ready - worker.started_at


async def watched_after(worker: Worker) -> float:
    """Seconds from the restart until the recovery walk, which runs beside the agents, had every
    complaint held watched by the SLA timer and counted in the shares."""
    return await worker.logged(WATCHED) - worker.started_at


def rows(caught_up: float, ready: float, watched: float, raw: tuple[int, float], complaints: int) -> list[Row]:
    note = (
        f"Worker ready after {ready:.1f} s; every complaint watched by the SLA timer after {watched:.1f} s; "
        f"the changelogs hold {raw[0]:,} records"
    )
    return [
        Row(FIGURE, f"restart → caught up, {complaints:,} complaints", caught_up, "s", raw[1],
            "aiokafka read of the changelogs", note),
    ]  # fmt: skip
