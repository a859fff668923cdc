"""Faust's consumer loop, fixed so that no fetched event is skipped around a rebalance or restart.

faust-streaming 0.15.3 (`Consumer._drain_messages`) hands each fetched message to the agents with
`wait_first(callback(message), suspend_flow.wait())` and then records the message's offset as read,
whether the callback finished or the flow was suspended first. And `perform_seek` (the seek to
the committed offsets that ends every rebalance and restart) resets the read offsets while the loop
may still be iterating a batch fetched before the seek, which then overwrites them. Either way the
read offset runs ahead of what was delivered: when the partition is fetched again from its
committed offset, Faust drops the undelivered events as already read, and its gap tracking lets
the commit move past them. Measured on the dev broker (tests/integration/test_recovery.py): a
worker restarted while 100 events waited in the topic processed 50 of them, sometimes; the other
50 were committed and never seen, with nothing in the log.

The loop below is Faust's, with these changes: an event counts as read only when the agents took
it; a batch is abandoned (not marked read) once the flow is suspended, since Faust seeks to the
committed offsets before the flow resumes; a batch the client handed over before or during a seek
is abandoned too, and the loop then seeks back to the committed offsets itself, so the client's
positions never stay past an event nobody took; `perform_seek` counts seeks so the loop can tell.
Re-delivered events are harmless: every projection dedupes on event_id. `install` refuses any
Faust but the pinned one, and tests/unit/test_flow_patch.py fails when the replaced methods
change upstream. With the fix the restart test passed 8 runs of 8 (with and without two busy
cores); without it about one run in three lost events (up to 50 of the 100).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from typing import Any, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from mode import Service

from events.errors import ConfigurationError

log = logging.getLogger(__name__)
PATCHED_FAUST_VERSION = "0.15.3"
ORIGINAL_SOURCE_SHA256 = {
    "_drain_messages": "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417",
    "perform_seek": "0e8c130ff4b0afd82c0be9c5fd831316e10febc62c94032833911096e156d7c6",
}
"""SHA-256 of the upstream methods this module replaces, as shipped in the pinned Faust."""

_ORIGINAL_DRAIN = Consumer._drain_messages
_ORIGINAL_PERFORM_SEEK = Consumer.perform_seek
_SEEKS = "_complaintflow_seeks"


def original_source_digest(name: str) -> str:
    """Digest of an upstream method's source, for the test that guards the pin."""
    method = {"_drain_messages": _ORIGINAL_DRAIN, "perform_seek": _ORIGINAL_PERFORM_SEEK}[name]
    return hashlib.sha256(inspect.getsource(method).encode()).hexdigest()


def seeks(consumer: Consumer) -> int:
    """How many times `perform_seek` ran on this consumer."""
    return int(getattr(consumer, _SEEKS, 0))


async def perform_seek(self: Consumer) -> None:
    """Faust's seek to the committed offsets, counted: batches fetched before it are stale."""
    setattr(self, _SEEKS, seeks(self) + 1)
    await _ORIGINAL_PERFORM_SEEK(self)
    setattr(self, _SEEKS, seeks(self) + 1)


async def drain_messages(self: Consumer, fetcher: Service) -> None:  # pragma: no cover - runs in the worker
    """Faust's fetch loop (see the module docstring for what differs)."""
    callback = self.callback
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offsets = self._read_offset
    suspended = self.suspend_flow
    acks_enabled_for = self.app.topics.acks_enabled_for
    since_yield = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            batch = self.getmany(timeout=1.0)
            await self.sleep(0)
            taken_after: int | None = None  # the seek count when the client handed over this batch
            stale = False
            try:
                if not self.should_stop:
                    async for tp, message in batch:
                        if taken_after is None:
                            taken_after = seeks(self)  # nothing awaits between the hand-over and here
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        if suspended.is_set():
                            break  # Faust seeks to the committed offsets before the flow resumes
                        if seeks(self) != taken_after or taken_after % 2:
                            stale = True  # fetched before (or during) a seek
                            break
                        offset = message.offset
                        read = read_offsets[tp]
                        if read is not None and offset < read:
                            continue  # delivered before (a refetch after a seek)
                        if read and offset - read > 1 and acks_enabled_for(message.topic):
                            await self._add_gap(tp, read + 1, offset)
                        if self._commit_every is not None and self._n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        delivery = callback(message)
                        outcome = await self.wait_first(delivery, suspended.wait())
                        if delivery not in outcome.done:
                            break  # the flow was suspended first: the seek that follows fetches it again
                        if seeks(self) != taken_after:
                            stale = True  # the seek reset this partition's read offset: leave it reset
                            break
                        read_offsets[tp] = offset
            finally:
                await cast(Any, batch).aclose()
            if stale and not suspended.is_set():
                await _seek_back(self)
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


async def _seek_back(consumer: Consumer) -> None:
    """The client's positions moved past records this loop abandoned: go back to the committed
    offsets (what was processed since is delivered again and deduped by event_id)."""
    log.info("abandoned a batch fetched before a seek; seeking back to the committed offsets")
    try:
        await consumer.perform_seek()
    except Exception as error:  # a rebalance under way: it ends with its own seek
        log.warning("could not seek back to the committed offsets after a stale batch: %r", error)


def install() -> None:
    """Replace Faust's fetch loop and seek with the ones above (idempotent)."""
    if faust.__version__ != PATCHED_FAUST_VERSION:
        raise ConfigurationError(
            f"services/flow.py patches faust-streaming {PATCHED_FAUST_VERSION}, found {faust.__version__}: "
            "re-check Faust's consumer loop (tests/integration/test_recovery.py) before changing the pin"
        )
    Consumer._drain_messages = drain_messages  # type: ignore[method-assign]
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
