"""The Faust agents: decode, fold with the pure core, save, publish. Nothing else lives here.

fold_complaints
    reads   complaints.events (key complaint_id)
    writes  table complaints_by_id; complaints.state; complaints.workload-memberships; complaints.rejected
    concurrency 1 (it writes a table); at-least-once: a redelivered event is recognised by its
    event_id and its consequences are published again (downstream folds ignore what they have).
fold_workload
    reads   complaints.workload-memberships (key department)
    writes  table memberships_by_department; complaints.workload
    concurrency 1; at-least-once: memberships carry the complaint version, stale ones change nothing.

Only the project's `Rejection`s are caught (they go to complaints.rejected); anything else is a
bug, and is logged with topic, partition and offset before it propagates.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

import orjson
from faust.types import EventT

from events.codec import decode_keyed_event
from events.errors import Rejection
from projections import complaint, workload
from projections.complaint import ComplaintState, accept, dump_state, load_state
from projections.workload import DepartmentWorkload, Membership
from services.app import (
    app,
    complaints_by_id,
    events_topic,
    memberships_by_department,
    memberships_topic,
    rejected_topic,
    state_topic,
    workload_topic,
)
from services.rejections import rejection_record

log = logging.getLogger(__name__)
SEPARATOR = b"\x1f"


@app.agent(events_topic, concurrency=1)
async def fold_complaints(stream: AsyncIterator[bytes]) -> None:
    async for message in stream.events():  # type: ignore[attr-defined]
        with _logged_position(message):
            await fold_complaint_event(message)


async def fold_complaint_event(message: EventT) -> None:
    try:
        event = decode_keyed_event(message.key, message.value)
        before = _load_complaint(event.complaint_id)
        after = accept(before, event)
    except Rejection as rejection:
        await reject(message, rejection)
        return
    if after is before:  # redelivered: what it caused may have been lost in a crash, so say it again
        await publish_complaint(after, workload.every_membership(after))
        return
    complaints_by_id[after.complaint_id.encode()] = dump_state(after)
    await publish_complaint(after, workload.memberships_changed(before, after))


async def publish_complaint(state: ComplaintState, memberships: Iterable[Membership]) -> None:
    await state_topic.send(key=state.complaint_id.encode(), value=orjson.dumps(complaint.to_record(state)))
    for member in memberships:
        await memberships_topic.send(key=member.department.encode(), value=member.model_dump_json().encode())


async def reject(message: EventT, rejection: Rejection) -> None:
    log.info(
        "rejected %s[%s]@%s: %s", message.message.topic, message.message.partition, message.message.offset, rejection
    )
    record = rejection_record(
        rejection,
        key=message.key,
        value=message.value,
        topic=message.message.topic,
        partition=message.message.partition,
        offset=message.message.offset,
    )
    await rejected_topic.send(key=message.key, value=record)


@app.agent(memberships_topic, concurrency=1)
async def fold_workload(stream: AsyncIterator[bytes]) -> None:
    async for message in stream.events():  # type: ignore[attr-defined]
        with _logged_position(message):
            await fold_membership(Membership.model_validate_json(message.value))


async def fold_membership(after: Membership) -> None:
    key = after.department.encode() + SEPARATOR + after.complaint_id.encode()
    stored = memberships_by_department.get(key)
    before = None if stored is None else Membership.model_validate_json(stored)
    view = workload_of(after.department)
    if workload.supersedes(after, before):
        view = workload.apply(view, before, after)
        memberships_by_department[key] = after.model_dump_json().encode()
        _workloads[after.department] = view
    await workload_topic.send(key=after.department.encode(), value=orjson.dumps(workload.to_record(view)))


_workloads: dict[str, DepartmentWorkload] = {}
"""Department counts, derived from memberships_by_department; rebuilt after any rebalance."""


def workload_of(department: str) -> DepartmentWorkload:
    if department not in _workloads:
        prefix = department.encode() + SEPARATOR
        members = (
            Membership.model_validate_json(v) for k, v in memberships_by_department.items() if k.startswith(prefix)
        )
        _workloads[department] = workload.rebuild(department, members)
    return _workloads[department]


@app.on_partitions_revoked.connect
async def _forget_workloads(*args: object, **kwargs: object) -> None:
    _workloads.clear()


@app.on_partitions_assigned.connect
async def _forget_workloads_again(*args: object, **kwargs: object) -> None:
    _workloads.clear()


def _load_complaint(complaint_id: str) -> ComplaintState | None:
    stored = complaints_by_id.get(complaint_id.encode())
    return None if stored is None else load_state(stored)


class _logged_position:
    """Logs where a message that broke the agent came from, then lets the error propagate."""

    def __init__(self, message: EventT) -> None:
        self.message = message.message

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if error is not None:
            log.exception(
                "unexpected error at %s[%s]@%s", self.message.topic, self.message.partition, self.message.offset
            )
