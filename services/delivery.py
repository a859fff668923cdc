"""Nothing read is lost when a worker resumes its streams after a restart or a rebalance (issue 6).

After every rebalance Faust (faust-streaming 0.15.3, pinned in pyproject.toml) restores the
tables, then `Recovery.on_recovery_completed` hands the input partitions back to the agents:

    1. consumer.resume_partitions(input partitions)   the fetcher delivers them again
    2. await consumer.perform_seek()                  seek them to their committed offsets
    3. app.flow_control.resume()                      resume the agents' queues, *emptying* them
    4. consumer.resume_flow()

The fetcher runs while 2 awaits the broker, so messages of the input partitions reach the agents'
queues in that window, and 3 throws them away unprocessed. The consumer has noted them as read,
so nothing fetches them again: measured with per-message logging, a restarted worker delivered
every one of 100 `ruled` events exactly once, and 4 of them were never processed (the same in
reverse when the seek ends first: the re-read copies are dropped as already read, "DROPPED
MESSAGE ROFF"). Faust then commits past them: it counts the offsets between two read messages
as acknowledged (`Consumer._add_gap`, meant for compacted topics and transaction markers), and
it lets the committed offset pass one unacknowledged message at the head (`_new_offset`).

The fix is the order upstream settled on for the same race (faust-streaming pull requests 217
and 253, issues 216 and 596): seek while the input partitions are still paused, empty the queues,
and only then let the input partitions flow. Nothing reaches a queue before it is emptied, and
the first message delivered is the committed one. Changelog, standby and recovery partitions are
untouched: they stay as the table recovery left them, as in Faust.

That order alone is not enough: a paused partition is only left out of the set of active
partitions Faust passes to each fetch, and the fetch reads that live set. Recovery pauses the
last active partitions while a fetch waits, aiokafka reads the now empty set as "every
partition", and the consumer discards the input records it returns, after aiokafka has moved
past them; if that happens after the seek, the partition resumes past everything it fetched (2
of 6 restarts lost all 100 rulings with the reorder alone). Each fetch therefore reads a snapshot
of the active partitions taken when it starts, and an empty snapshot fetches nothing.

`install` replaces `Recovery.on_recovery_completed` and `Recovery._resume_streams` (the path of
an app without tables) with copies that differ only in that order, and wraps
`AIOKafkaConsumerThread._fetch_records`. It refuses any other Faust version, and
tests/unit/test_delivery_patch.py fails when a patched method changes upstream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from services.pins import require_faust

ORIGINALS = {
    "on_recovery_completed": Recovery.on_recovery_completed,
    "_resume_streams": Recovery._resume_streams,
}
_ORIGINAL_FETCH_RECORDS = AIOKafkaConsumerThread._fetch_records


async def _fetch_records(
    self: AIOKafkaConsumerThread,
    consumer: Any,
    active_partitions: Any,
    timeout: float | None = None,
    max_records: int | None = None,
) -> Any:
    """Fetch only from the partitions active when the fetch starts (a snapshot, not the live set).

    Faust passes its live set of active partitions, and aiokafka reads an empty set as "every
    partition": when recovery pauses the last active partitions during a fetch, the fetch returns
    records of paused input partitions, which the consumer then discards after aiokafka has moved
    past them. None (a client-only app) still means every partition.
    """
    if active_partitions is not None:
        active_partitions = frozenset(active_partitions)
        if not active_partitions:
            return {}
    return await _ORIGINAL_FETCH_RECORDS(self, consumer, active_partitions, timeout=timeout, max_records=max_records)


def _input_partitions(recovery: Recovery, assignment: set[Any]) -> set[Any]:
    return {tp for tp in assignment if not recovery._is_changelog_tp(tp)}


async def _hand_back_input_partitions(recovery: Recovery, assignment: set[Any]) -> None:
    """Seek the (still paused) input partitions to their commits, empty the agents' queues,
    and only then let the input partitions and the flow resume: nothing in between awaits."""
    app = recovery.app
    consumer = app.consumer
    if assignment:
        recovery.log.info("Seek stream partitions to committed offsets.")
        await recovery._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    recovery.completed.set()
    recovery.log.info("Resuming flow...")
    app.flow_control.resume()  # empties every agent queue: nothing of an input partition is in one yet
    consumer.resume_partitions(_input_partitions(recovery, assignment))
    consumer.resume_flow()


async def on_recovery_completed(self: Recovery, generation_id: int = 0) -> None:
    """Faust 0.15.3's `Recovery.on_recovery_completed`, with the input partitions handed back in order."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(f"Recovery rebalancing again app id {self.app.consumer_generation_id} param {generation_id}")
        return
    await _hand_back_input_partitions(self, assignment)
    await self.app._fetcher.maybe_start()  # type: ignore[attr-defined]
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


async def _resume_streams(self: Recovery, generation_id: int = 0) -> None:
    """Faust 0.15.3's `Recovery._resume_streams` (an app without tables), in the same order."""
    app = self.app
    consumer = app.consumer
    await app.on_rebalance_complete.send()
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again")
        return
    if not assignment:
        self.log.info("Resuming streams with empty assignment")
    await _hand_back_input_partitions(self, assignment)
    await app._fetcher.maybe_start()  # type: ignore[attr-defined]
    self.tables.on_actives_ready()
    self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def install() -> None:
    """Make Faust hand input partitions back to the agents without losing what it fetched."""
    require_faust("services/delivery.py patches Recovery", "how Faust resumes streams after a rebalance")
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
    Recovery._resume_streams = _resume_streams  # type: ignore[method-assign]
    AIOKafkaConsumerThread._fetch_records = _fetch_records  # type: ignore[method-assign]
