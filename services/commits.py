"""Work that must reach the broker before Faust commits the offsets of the messages that caused it.

The complaint agent writes a changed complaint's table value (store and changelog) once per commit
instead of once per event (services/agents.py, `save_held_cases`): the changes are held decoded
until Faust is about to commit. Offsets committed past an event whose table change was never sent
would lose that change for good on a crash, so every commit first awaits `before_commit`.

faust-streaming 0.15.3 commits through one method, `Consumer._commit_offsets(offsets)`, whatever
asked for the commit (the commit timer, `commit_every`, a failed task, the worker's stop): it gets
the offsets already worked out from the acknowledged messages, flushes the producer and commits.
`install` wraps it so that it awaits `before_commit` first, then does exactly that. Anything held
when the wrapper starts covers every acknowledged offset in `offsets` (a message is acknowledged
after its agent step, which held its change), and the producer flush that follows sends what
`before_commit` produced. If `before_commit` raises, nothing is committed: the worker crashes, as
it does when Faust cannot commit, and the messages are redelivered after the restart.

Exactly-once mode commits through Faust's transactions instead, which this does not cover:
`install` refuses to run under it (the dev broker has no transactions anyway). It refuses any other
Faust version too, and tests/unit/test_commits.py fails when a wrapped method changes upstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.enums import ProcessingGuarantee

from events.errors import ConfigurationError
from services.pins import require_faust

_ORIGINAL_COMMIT_OFFSETS = Consumer._commit_offsets


def install(app: faust.App, before_commit: Callable[[], Awaitable[None]]) -> None:
    """Make every offset commit in this process await `before_commit()` first: the wrapper is on
    Faust's consumer class, and a worker process runs one app (`app` is checked for its guarantee)."""
    require_faust(
        "services/commits.py wraps Consumer._commit_offsets", "that it is still the one path every commit takes"
    )
    guarantee: object = app.conf.processing_guarantee  # Faust types the setting as the enum class, not a member
    if guarantee != ProcessingGuarantee.AT_LEAST_ONCE:
        raise ConfigurationError(
            "the complaint agent saves its table values before each commit, which exactly-once mode's transactions "
            "bypass: run the worker at least once (Faust's default processing_guarantee)"
        )

    async def commit_offsets(self: Consumer, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> Any:
        await before_commit()
        return await _ORIGINAL_COMMIT_OFFSETS(self, offsets, start_new_transaction=start_new_transaction)

    Consumer._commit_offsets = commit_offsets  # type: ignore[method-assign]
