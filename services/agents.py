"""The Faust agents and the SLA timer: decode, fold with the pure core, save, publish. Nothing else.

fold_complaints
    reads   complaints.events (key complaint_id) and complaints.sla-ticks (the timer's wake-ups)
    writes  table complaints_by_id; complaints.alerts; complaints.state; complaints.rejected
            (the table and the state records through services/output.py: Faust's producer, without
            Faust's per-message bookkeeping; a changed case is held and reaches the table once per
            offset commit, before it: services/commits.py); each state record goes to the complaint's
            own partition, and into this worker's read model once the broker has it, as does each
            event's position as read (services/feed.py: the read model does not read them back)
    concurrency 1 (it writes a table). Every message is settled against the wall clock: alerts
    that became due are published through the urgent producer that never lingers (services/urgent.py),
    and their delivery is awaited before the table next remembers a case (`save_held_cases`), so a
    crash can repeat an alert (same alert_id) but never lose one. A redelivered event is recognised
    by its event_id and its state record is published again.
wake_due_complaints (timer, every second)
    sends a tick for each complaint whose next threshold passed, from an in-memory deadline index
    rebuilt from the table after every recovery, by a walk that runs beside the agents.
warn_about_the_calendar (at start, then daily)
    warns while the working-day calendar ends within 45 days or holds a year not yet from its
    notice (docs/sla.md).
publish_workload_shares (timer, every COMPLAINTFLOW_WORKLOAD_INTERVAL_SECONDS)
    sends what this worker's complaints count for in each department, where it changed
    (services/shares.py: counted with every step, rebuilt from the table after every recovery).
add_up_workloads
    reads   complaints.workload-shares (key department)
    writes  table shares_by_department; complaints.workload
    concurrency 1; the latest share of each partition counts, the department's record is their sum.

Only the project's `Rejection`s are caught (they go to complaints.rejected); anything else is a
bug, and is logged with topic, partition and offset before it propagates.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

import orjson
from aiokafka.structs import RecordMetadata
from faust.types import EventT, StreamT

from events.codec import decode_keyed_event, for_orjson
from events.errors import ConfigurationError, InvalidEvent, ProcessingFailed, Rejection, UnknownPolicyVersion
from projections import case as cases
from projections import workload
from projections.case import Case, Settled
from projections.clocks import ClockView
from projections.workload import Share
from services import commits, output
from services.app import (
    app,
    complaint_inputs,
    complaints_by_id,
    feed,
    rules,
    settings,
    shares_by_department,
    shares_topic,
    sla_ticks_topic,
    urgent,
    workload_topic,
)
from services.cases import DeadlineIndex, RecentCases, StoredCase, UnsavedCases, decode_stored, stored_partition
from services.metrics import metrics
from services.rejections import rejected_key, rejection_record
from services.rules import calendar_warnings
from services.shares import PartitionShares, Recount
from services.topics import ALERTS, EVENTS, REJECTED, SLA_TICKS, STATE
from services.urgent import Unconfirmed

log = logging.getLogger(__name__)
SEPARATOR = b"\x1f"
CALENDAR_CHECK_SECONDS = 24 * 3600
WALK_TURN_SECONDS = 0.001
EXIT_CANNOT_REJECT = 70
EXIT_WALK_FAILED = 71
EXIT_CANNOT_ALERT = 72
deadlines = DeadlineIndex()
"""complaint → when it next needs settling; covers the complaints of this worker's partitions."""
alerts, rejected, states, ticks = (settings.topic(spec.name) for spec in (ALERTS, REJECTED, STATE, SLA_TICKS))
shares = PartitionShares()
"""(partition, department) → what this worker's complaints count for there."""
recent = RecentCases(settings.case_cache_size)
"""The complaints last folded here, decoded: their next event skips decoding the table's value."""
unsaved = UnsavedCases(settings.unsaved_cases_limit)
"""The cases changed since the last save: the table gets them before Faust's next commit."""
unconfirmed_alerts = Unconfirmed()
"""The alerts sent since the last save began: awaited by the next, before it writes the table."""
unconfirmed_rejections = Unconfirmed()
"""The rejections sent since the last commit began: awaited by the next, before it commits."""
_saving = asyncio.Lock()
"""One save at a time: the commit's, the agent's when too many are held, or a rebalance's wait."""
recount: Recount | None = None
"""While the recovery walk runs: the shares it counts afresh, and the complaints it has yet to reach."""
_walk: asyncio.Future[None] | None = None


def wall_clock() -> datetime:
    """Live mode's `now`. Replay passes event time or --as-of instead: the core never reads a clock."""
    return datetime.now(UTC)


@app.agent(complaint_inputs, concurrency=1)
async def fold_complaints(stream: StreamT[bytes]) -> None:
    async for message in stream.events():
        with _logged_position(message):
            if message.message.topic == ticks:
                await settle_due_complaint(message)
            else:
                feed.took_event(message.message.partition, message.message.offset, message.key)
                await fold_complaint_event(message)


async def fold_complaint_event(message: EventT[bytes]) -> None:
    try:
        event = decode_keyed_event(message.key, message.value)
        before = load_case(event.complaint_id)
        after = cases.accept_event(before, event, rules, published_at=published_at(message))
        now = wall_clock()
        assessment = cases.assess(after, rules, now)  # judged before anything is saved or published
    except Rejection as rejection:
        await reject(message, rejection)
        return
    except ConfigurationError as gap:  # e.g. a year the working-day calendar lacks: fixable, then redrivable
        log.error("cannot judge the SLA clocks at %s: %s", _position(message), gap)
        await reject(message, ProcessingFailed(f"the worker cannot judge this complaint's SLA clocks: {gap}"))
        return
    except Exception as error:  # a bug: keep the message (rejected, redrivable), never skip it
        log.exception("processing failed at %s", _position(message))
        await reject(message, ProcessingFailed(f"the worker failed on this message: {type(error).__name__}"))
        return
    if after is before:  # redelivered: what it caused may have been lost in a crash, so say it again
        metrics.count_event("duplicate")
        await publish_case(message.message.partition, after, now, assessment.views)
        return
    metrics.count_event("accepted")
    await settle_and_publish(message.message.partition, before, assessment, now)


async def settle_due_complaint(message: EventT[bytes]) -> None:
    complaint_id = _woken(message.key)
    if complaint_id is None:  # not a tick of ours (the timer keys each by its complaint): rejected, not a crash
        await reject(message, InvalidEvent("a tick must be keyed by the UTF-8 complaint_id it wakes"))
        return
    current = load_case(complaint_id)
    if current is None:  # a tick for a complaint this worker never held: nothing is due
        return
    now = wall_clock()
    try:
        assessment = cases.assess(current, rules, now)
    except (UnknownPolicyVersion, ConfigurationError) as gap:  # its next event is rejected likewise, for redrive
        log.error("cannot settle the SLA clocks of %s: %s", current.complaint_id, gap)
        return
    await settle_and_publish(message.message.partition, current, assessment, now)


def _woken(key: bytes | None) -> str | None:
    """The complaint a tick wakes, from its key; None for a key the timer never writes."""
    try:
        return None if key is None else key.decode()
    except UnicodeDecodeError:
        return None


async def settle_and_publish(partition: int, before: Case | None, assessment: cases.Assessment, now: datetime) -> None:
    """Raise the alerts due at `now`, watch the case's next deadline and count it, hold it for the
    next save if it changed, publish it. Nothing awaits between the count and holding the case,
    which the recovery walk reads before the table: a walk running meanwhile sees both or neither."""
    metrics.clock_evaluations += 1
    settled = assessment.settled
    await raise_alerts(settled, now)
    key = settled.case.complaint_id.encode()
    deadlines.schedule(settled.case.complaint_id, partition, assessment.next_due_at)
    standing = cases.standing(settled.case, rules, now, assessment.views)
    counting = shares if recount is None else recount.counting(key)
    if counting is not None:  # None: the recovery walk has yet to reach it, and counts it as it then is
        counting.count(partition, before, settled.case, cases.departments_touched(before, settled.case), standing)
    if settled.case is not before:
        unsaved.hold(settled.case.complaint_id, StoredCase(partition, settled.case))
        if unsaved.full:
            await save_held_cases()
    await publish_case(partition, settled.case, now, assessment.views)


async def save_held_cases() -> None:
    """Write every case changed since the last save to the table and its changelog: before each
    commit of offsets (`before_commit`), and whenever too many are held. The alerts those cases
    remember as raised are on the broker first: their steps sent them before holding the cases."""
    async with _saving:
        unsaved.start_saving()
        await _await_deliveries(unconfirmed_alerts.take(), "an alert", EXIT_CANNOT_ALERT)
        while (held := unsaved.next_to_save()) is not None:
            complaint_id, (partition, case) = held
            value = recent.encode(complaint_id, partition, case)
            await output.save(complaints_by_id, complaint_id.encode(), value, partition)


async def before_commit() -> None:
    """What every offset commit awaits first (services/commits.py): the rejections of the messages
    it covers are on the broker, and the cases they changed are in the table. A message is
    acknowledged after its step, which sent its rejection or held its case: all are in hand here."""
    rejections = unconfirmed_rejections.take()
    await save_held_cases()
    await _await_deliveries(rejections, "a rejection", EXIT_CANNOT_REJECT)


async def _await_deliveries(deliveries: list[asyncio.Future[RecordMetadata]], what: str, exit_code: int) -> None:
    """Wait until the broker has every one of `deliveries`. If one failed, stop the worker rather than
    go on: what follows (writing the table, committing offsets) would record as done what the broker
    does not have. The messages since the last commit are delivered again after the restart."""
    for delivery in deliveries:
        try:
            await delivery
        except Exception as error:
            log.critical("cannot publish %s (%s): stopping so that its message is processed again", what, error)
            os._exit(exit_code)


commits.install(app, before_commit)


async def raise_alerts(settled: Settled, now: datetime) -> None:
    """Publish new alerts and retractions. Their delivery is awaited before the table next remembers a
    case (`save_held_cases`), not here: the step goes on while the broker takes them, and a step's
    case is held (for that save) only after its alerts were sent."""
    sent = (*settled.raised, *settled.retracted)
    if not sent:
        return  # most steps: nothing to send, and no generator to build for it
    for alert in sent:
        value = orjson.dumps(cases.alert_record(alert, now))
        unconfirmed_alerts.add(await urgent.send(alerts, key=alert.complaint_id.encode(), value=value))
    metrics.count_alerts(alert.kind for alert in sent)


async def publish_case(partition: int, case: Case, now: datetime, views: list[ClockView]) -> None:
    """The case's state record, to its own partition (which the read model relies on: services/feed.py),
    and into this worker's read model once the broker has it."""
    record = cases.to_record(case, rules, now, views, instant=for_orjson)  # its instants written by orjson
    value = orjson.dumps(record)
    taken = feed.state_sent(partition, record, value)
    await output.publish(app, states, case.complaint_id.encode(), value, partition, taken)


async def reject(message: EventT[bytes], rejection: Rejection) -> None:
    """Record the rejection: sent here, and awaited before the next commit (`before_commit`), so a
    message's offset is committed only once its rejection is safe, and a flood of hostile input costs
    no round trip per message. If even that fails, the worker stops rather than skip the message: it
    is redelivered after the restart."""
    log.info("rejected %s: %s", _position(message), rejection)
    metrics.count_event("rejected", rejection.code)
    record = rejection_record(
        rejection,
        key=message.key,
        value=message.value,
        topic=message.message.topic,
        partition=message.message.partition,
        offset=message.message.offset,
    )
    unconfirmed_rejections.add(await urgent.send(rejected, key=rejected_key(message.key), value=record))


def _position(message: EventT[bytes]) -> str:
    return f"{message.message.topic}[{message.message.partition}]@{message.message.offset}"


def published_at(message: EventT[bytes]) -> datetime | None:
    """The message's log timestamp: the same instant for the live worker and for a replay."""
    timestamp = message.message.timestamp
    return None if timestamp is None or timestamp < 0 else datetime.fromtimestamp(timestamp, UTC)


def load_case(complaint_id: str) -> Case | None:
    held = unsaved.get(complaint_id)
    if held is not None:
        unsaved.hits += 1
        return held.case
    stored = complaints_by_id.get(complaint_id.encode())
    return None if stored is None else recent.decode(complaint_id, stored).case


@app.timer(interval=settings.alert_timer_interval_seconds)  # type: ignore[untyped-decorator]  # faust's app.timer is untyped
async def wake_due_complaints() -> None:
    for complaint_id, partition, due_at in deadlines.pop_due(wall_clock()):
        tick = {"complaint_id": complaint_id, "due_at": due_at.isoformat()}
        await sla_ticks_topic.send(key=complaint_id.encode(), value=orjson.dumps(tick), partition=partition)


@app.task  # type: ignore[untyped-decorator]  # faust's app.task is untyped
async def warn_about_the_calendar() -> None:
    """At start, then every day: a worker runs for months, and a calendar's end comes every December."""
    while True:
        for warning in calendar_warnings(rules, settings, wall_clock().date()):
            log.warning(warning)
        await asyncio.sleep(CALENDAR_CHECK_SECONDS)


@complaints_by_id.on_recover
async def watch_complaints_held() -> None:
    """After every recovery (start, rebalance) the deadline index and the workload shares are rebuilt
    from the complaints of the partitions this worker now owns (the table also holds standbys), by a
    walk in the background: the agents resume at once instead of after it.

    The walk costs ~100 µs a complaint held (decoded and judged: ~10 s for 100,000, which held every
    event back while it ran) and lets the event loop run every `WALK_TURN_SECONDS`, so the agents,
    the timers and the web server run meanwhile. Each complaint is judged as the worker holds it when
    the walk reaches it (changed since and not saved yet, or as the table has it), and the agent's
    steps are counted as `Recount` says, so the index and the shares end as a walk with everything
    stopped would leave them; the shares are taken over whole
    at the end, so the shares timer never publishes one counted halfway. Until the walk reaches a
    complaint only the agent's steps schedule its deadline: an alert due meanwhile is raised when
    the walk reaches its complaint, as it was when the walk ended while everything waited."""
    global _walk, recount
    _stop_walking()
    owned, keys = owned_partitions(), list(complaints_by_id.keys())
    deadlines.clear()  # here, not in the walk: before Faust resumes the agents
    recount = Recount(keys)
    _walk = asyncio.ensure_future(walk_complaints_held(keys, owned, recount))
    _walk.add_done_callback(_exit_if_failed)


async def walk_complaints_held(keys: list[bytes], owned: set[int], mine: Recount) -> None:
    global recount
    loop = asyncio.get_running_loop()
    try:
        now, turn_ends = wall_clock(), loop.time() + WALK_TURN_SECONDS
        for key in keys:
            if loop.time() >= turn_ends:
                await asyncio.sleep(0)
                now, turn_ends = wall_clock(), loop.time() + WALK_TURN_SECONDS
            mine.reach(key)
            held = unsaved.get(key.decode())
            if held is not None:  # changed since the recovery, not saved yet: as the agent holds it
                watch(held.partition, held.case, now, mine.counted)
                continue
            stored = complaints_by_id.get(key)
            if stored is None:
                continue
            try:
                if stored_partition(stored) not in owned:  # a standby's: not decoded
                    continue
                partition, case = decode_stored(stored)
            except ValueError as damaged:  # its next event is rejected likewise, for redrive
                log.error("not watching complaint %r: its table value does not decode: %s", key, damaged)
                continue
            watch(partition, case, now, mine.counted)
        shares.take_over(mine.counted)
    finally:
        if recount is mine:  # (a walk cancelled by a rebalance leaves the next walk's recount alone)
            recount = None
    log.info("SLA timer watches %d complaints", len(deadlines))


def watch(partition: int, case: Case, now: datetime, counted: PartitionShares) -> None:
    """Schedule the complaint's next deadline and count it, `case` as the worker holds it at `now`."""
    try:
        assessment = cases.assess(case, rules, now)  # one judgement: next deadline, alerts due, clocks
    except (UnknownPolicyVersion, ConfigurationError) as gap:
        log.error("not watching the SLA clocks of %s: %s", case.complaint_id, gap)
        counted.hold(partition, case, "ok")
        return
    # alerts due but not yet raised (a crash before they went out): settled at once
    due_now = now if assessment.settled.raised else None
    deadlines.schedule(case.complaint_id, partition, assessment.next_due_at or due_now)
    counted.hold(partition, case, cases.standing(case, rules, now, assessment.views))


def _stop_walking() -> None:
    if _walk is not None and not _walk.done():
        _walk.cancel()


def _exit_if_failed(walk: asyncio.Future[None]) -> None:
    """A walk that failed left deadlines unwatched and shares uncounted: stop rather than run on
    without them (the restart walks again, and the failure is in the log)."""
    if walk.cancelled() or walk.exception() is None:
        return
    if app.should_stop:  # the worker is stopping anyway: let it finish (its last commit, its flush)
        log.warning("the recovery walk ended in the worker's stop", exc_info=walk.exception())
        return
    log.critical("the recovery walk failed: stopping", exc_info=walk.exception())
    os._exit(EXIT_WALK_FAILED)


def owned_partitions() -> set[int]:
    events = settings.topic(EVENTS.name)
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == events}


@app.timer(interval=settings.workload_interval_seconds)  # type: ignore[untyped-decorator]  # faust's app.timer is untyped
async def publish_workload_shares() -> None:
    changed = shares.take_changed()
    try:
        for share in changed:
            await shares_topic.send(key=share.department.encode(), value=share.model_dump_json().encode())
    except Exception:
        shares.mark_changed(changed)  # sent again next time: a share is the whole count, not a delta
        raise


@app.agent(shares_topic, concurrency=1)
async def add_up_workloads(stream: StreamT[bytes]) -> None:
    async for message in stream.events():
        with _logged_position(message):
            await fold_share(Share.model_validate_json(message.value), message.value)


async def fold_share(share: Share, raw: bytes) -> None:
    shares_by_department[share.department.encode() + SEPARATOR + str(share.partition).encode()] = raw
    latest = shares_of(share.department)
    latest[share.partition] = share
    record = workload.combined_record(share.department, latest.values(), wall_clock())
    await workload_topic.send(key=share.department.encode(), value=orjson.dumps(record))


_shares: dict[str, dict[int, Share]] = {}
"""department → partition → its latest share; derived from shares_by_department, rebuilt after any rebalance."""


def shares_of(department: str) -> dict[int, Share]:
    if department not in _shares:
        prefix = department.encode() + SEPARATOR
        latest = (Share.model_validate_json(v) for k, v in shares_by_department.items() if k.startswith(prefix))
        _shares[department] = {share.partition: share for share in latest}
    return _shares[department]


@app.on_partitions_revoked.connect
async def _forget_partitions(*args: object, **kwargs: object) -> None:
    """Nothing counted for partitions that may now be another worker's is published from here (and
    the cases held decoded for them are let go); a recovery walk still running stops.

    The changes not saved yet are dropped, not saved: their events were not committed (every commit
    saves first), so after the rebalance whoever owns each partition reads them again from the
    committed offset and folds them again from the table as last saved, as after a crash. A save
    under way finishes first, and its records are flushed, so nothing of this worker's reaches a
    changelog after the partitions are handed over. Then the read model reads them from the broker
    again."""
    _stop_walking()
    _shares.clear()
    shares.clear()
    async with _saving:
        unsaved.clear()
    await app.producer.flush()
    recent.clear()
    await feed.disown()


@app.on_partitions_assigned.connect
async def _forget_partitions_again(*args: object, **kwargs: object) -> None:
    _shares.clear()
    shares.clear()
    feed.own(owned_partitions())


class _logged_position:
    """Logs where a message that broke the agent came from, then lets the error propagate."""

    def __init__(self, message: EventT[bytes]) -> None:
        self.message = message.message

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if error is not None:
            log.exception(
                "unexpected error at %s[%s]@%s", self.message.topic, self.message.partition, self.message.offset
            )
