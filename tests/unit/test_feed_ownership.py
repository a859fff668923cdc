"""The read model takes this worker's own partitions from its agent (services/feed.py): the feed
pauses such a partition once it has read everything before what the agent handed over, and picks
it up after the last record handed over when it is revoked. Nothing may fall between the two."""

from __future__ import annotations

import itertools

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from services.feed import Handed, OwnPartitions, ReadModelFeed
from services.settings import Settings

EVENTS_0 = TopicPartition("complaints.events", 0)


def owning(*partitions: TopicPartition) -> tuple[OwnPartitions, Handed]:
    """Ownership of `partitions`, and the record of what the agent handed over of the first."""
    own = OwnPartitions()
    own.own(partitions)
    handed = own.ownership(partitions[0])
    assert handed is not None
    return own, handed


def test_a_partition_is_paused_only_once_the_feed_reached_what_the_agent_handed_over() -> None:
    assert not OwnPartitions().to_pause(EVENTS_0, 10), "not owned"
    own, handed = owning(EVENTS_0)
    assert not own.to_pause(EVENTS_0, 10), "owned, but the agent handed nothing over yet"
    assert own.waiting() == []

    handed.took(40)
    handed.took(41)
    assert own.waiting() == [EVENTS_0]
    assert not own.to_pause(EVENTS_0, 39), "offset 39 is neither read nor handed over"
    assert own.to_pause(EVENTS_0, 40)


def test_a_revoked_partition_is_read_again_after_the_last_record_handed_over() -> None:
    own, handed = owning(EVENTS_0, TopicPartition("complaints.events", 1))
    for offset in (7, 8, 9):
        handed.took(offset)
    own.paused.add(EVENTS_0)

    assert own.disown_all() == {EVENTS_0: 10}, "only a paused partition needs a new position"
    assert own.ownership(EVENTS_0) is None and own.paused == set()
    own.own([EVENTS_0])
    handed.took(11)  # a delivery the broker confirmed after the revocation
    assert own.waiting() == [], "it counts for the ownership it was sent in, not the new one"


def test_a_record_handed_over_out_of_order_moves_the_first_back() -> None:
    own, handed = owning(EVENTS_0)
    handed.took(12)
    handed.took(10)
    assert (handed.first, handed.last) == (10, 12)
    assert not own.to_pause(EVENTS_0, 10 - 1), "the feed has yet to read offset 9"
    assert own.to_pause(EVENTS_0, 10)


Step = st.sampled_from(["append", "hand", "feed"])


@given(
    written_before=st.integers(0, 30),
    feed_at=st.integers(0, 30),
    agent_from=st.integers(0, 30),
    chunks=st.lists(st.integers(1, 7), min_size=1, max_size=40),
    steps=st.lists(Step, max_size=120),
    written_after=st.integers(0, 20),
)
def test_every_record_is_read_by_the_feed_or_handed_over_by_the_agent(
    written_before: int, feed_at: int, agent_from: int, chunks: list[int], steps: list[str], written_after: int
) -> None:
    """One partition's life: records written before this worker owns it, then an ownership in which
    others append (events from channels: the agent reads them too) and the agent hands records over
    in order from where it starts (its committed offset, or the first state record it wrote), while
    the feed reads in chunks; then the revocation, records written by the next owner, and the feed
    reading to the end. Every offset must reach the model one way or the other."""
    end = written_before
    position = min(feed_at, end)
    agent_next = min(agent_from, end)
    read = set(range(position))  # before this worker owned the partition
    handed_over: set[int] = set()
    own, handed = owning(EVENTS_0)
    chunk = itertools.cycle(chunks)

    def feed_reads() -> None:
        nonlocal position
        if EVENTS_0 in own.paused:
            return
        until = min(end, position + next(chunk))
        read.update(range(position, until))
        position = until
        if own.to_pause(EVENTS_0, position):
            own.paused.add(EVENTS_0)

    for step in steps:
        if step == "append":
            end += 1
        elif step == "hand" and agent_next < end:
            handed.took(agent_next)
            handed_over.add(agent_next)
            agent_next += 1
        elif step == "feed":
            feed_reads()

    was_paused = EVENTS_0 in own.paused
    resume = own.disown_all()
    if EVENTS_0 in resume:
        position = max(position, resume[EVENTS_0])
    read_during = set(read)
    end += written_after
    while position < end:
        feed_reads()

    assert read | handed_over >= set(range(end))
    if was_paused:
        assert not (read - read_during) & handed_over, "nothing handed over is read again after the revocation"


def test_the_agent_hands_the_model_event_positions_and_state_records_once_the_broker_has_them() -> None:
    feed = ReadModelFeed(Settings(topic_prefix="t."))
    feed.own([2])
    feed.took_event(2, 17, b"C-1")
    record = {"complaint_id": "C-1", "version": 2, "revision": 3, "department": "家电部", "open": True}
    confirm = feed.state_sent(2, record, b'{"complaint_id":"C-1","version":2,"revision":3}')
    assert feed.model.complaint("C-1") is None, "not before the broker has it"

    confirm(2, 5)
    assert feed.model.event_positions("C-1") == [(2, 17)]
    assert feed.model.complaint("C-1") == b'{"complaint_id":"C-1","version":2,"revision":3}'
    assert feed.model.handled_by["C-1"].department == "家电部"
    state = feed._own.ownership(TopicPartition("t.complaints.state", 2))
    events = feed._own.ownership(TopicPartition("t.complaints.events", 2))
    assert state is not None and events is not None
    assert (state.first, events.first) == (5, 17)
