"""Properties of the folds over generated valid histories: duplicates, order and replay change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    complaint_sets,
    histories,
    interleaved,
    redelivered,
    ruling_details,
    wire,
    with_crashes,
    with_duplicates,
)

from events.codec import decode_event
from events.errors import ImpossibleTransition
from events.models import RuledData
from projections import workload
from projections.complaint import ComplaintState, accept, replay, to_record
from projections.workload import DepartmentWorkload, Membership
from tests.folding import dump_state, load_state
from tests.wire import received

FOLDS = settings(max_examples=80, deadline=None)


def fold_log(log: list[dict[str, Any]]) -> tuple[dict[str, ComplaintState], list[Membership]]:
    return fold_deliveries([(document, True) for document in log])


def fold_deliveries(
    deliveries: list[tuple[dict[str, Any], bool]],
) -> tuple[dict[str, ComplaintState], list[Membership]]:
    """Decode and accept every event in order, as the complaint agent does, and collect what it publishes to
    the workload agent: the changed memberships, or every membership again on a duplicate. A delivery marked
    False crashed after saving the state and before publishing: its memberships are lost."""
    states: dict[str, ComplaintState] = {}
    published: list[Membership] = []
    for document, publishes in deliveries:
        event = decode_event(wire(document))
        before = states.get(event.complaint_id)
        after = accept(before, event)
        states[event.complaint_id] = after
        if not publishes:
            continue
        if after is before:
            published += workload.every_membership(after)
        else:
            published += workload.memberships_changed(before, after)
    return states, published


def dumps(states: dict[str, ComplaintState]) -> dict[str, bytes]:
    return {complaint_id: dump_state(state) for complaint_id, state in states.items()}


@FOLDS
@given(complaints=complaint_sets(), data=st.data())
def test_a_valid_history_is_accepted_whole_and_ends_where_the_lifecycle_rules_say(complaints, data):
    log = data.draw(interleaved(complaints))

    states, _ = fold_log(log)

    assert sorted(states) == sorted(history.complaint_id for history in complaints)
    for history in complaints:
        state = states[history.complaint_id]
        assert state.version == len(history.events)
        assert set(state.applied) == {event["event_id"] for event in history.events}
        record = to_record(state)
        assert (record["stage"], record["open"]) == (history.stage, history.is_open)
        assert (record["owner_department"], record["department"], record["handler"]) == (
            history.owner_department,
            history.department,
            history.handler,
        )
        assert record["department_changes"] == history.department_changes
        assert state.paid_amount == history.paid_amount
        assert record["owner_department"] == history.events[0]["data"]["department"]


@FOLDS
@given(complaints=complaint_sets(), data=st.data())
def test_exact_duplicates_anywhere_after_the_original_change_no_state(complaints, data):
    log = data.draw(interleaved(complaints))
    noisy = data.draw(with_duplicates(log))

    clean_states, _ = fold_log(log)
    noisy_states, _ = fold_log(noisy)

    assert dumps(noisy_states) == dumps(clean_states)


@FOLDS
@given(complaints=complaint_sets(), data=st.data())
def test_the_fold_is_deterministic_and_its_table_form_round_trips(complaints, data):
    log = data.draw(with_duplicates(data.draw(interleaved(complaints))))

    first, _ = fold_log(log)
    second, _ = fold_log(log)

    assert first == second
    assert dumps(first) == dumps(second)
    assert {complaint_id: load_state(raw) for complaint_id, raw in dumps(first).items()} == first


@FOLDS
@given(complaints=complaint_sets(min_size=2), data=st.data())
def test_any_interleaving_of_complaints_gives_the_same_states(complaints, data):
    one_order = data.draw(interleaved(complaints))
    another_order = data.draw(interleaved(complaints))

    one, _ = fold_log(one_order)
    another, _ = fold_log(another_order)
    alone = {history.complaint_id: fold_log(list(history.events))[0][history.complaint_id] for history in complaints}

    assert dumps(one) == dumps(another) == dumps(alone)


@FOLDS
@given(complaints=complaint_sets(), data=st.data())
def test_replay_of_the_whole_log_equals_the_incremental_fold(complaints, data):
    log = data.draw(with_duplicates(data.draw(interleaved(complaints))))

    incremental, _ = fold_log(log)

    assert dumps(replay([decode_event(wire(document)) for document in log])) == dumps(incremental)


@FOLDS
@given(ruling=ruling_details)
def test_the_record_writes_a_ruling_as_pydantic_writes_it(ruling):
    """`to_record` writes the ruling itself, not through pydantic's serializer: field for field and
    in the same order, whatever the ruling."""
    data = RuledData.model_validate(ruling)
    ruled = accept(None, decode_event(wire(received("C-1"))))._replace(ruling=data)

    assert list(to_record(ruled)["ruling"].items()) == list(data.model_dump(mode="json").items())


@FOLDS
@given(history=histories(max_steps=20), data=st.data())
def test_a_duplicate_is_the_same_object_at_every_point_of_a_history(history, data):
    state = None
    for index, document in enumerate(history.events):
        state = accept(state, decode_event(wire(document)))
        earlier = history.events[data.draw(st.integers(0, index), label="repeat of event")]

        assert accept(state, decode_event(wire(earlier))) is state


@FOLDS
@given(history=histories(max_steps=20, closed=True), data=st.data())
def test_a_closed_complaint_accepts_nothing_new(history, data):
    states, _ = fold_log(list(history.events))
    closed = states[history.complaint_id]
    assert (closed.stage, history.stage) == ("closed", "closed")
    retry = {**data.draw(st.sampled_from(history.events)), "event_id": "after-closing"}

    with pytest.raises(ImpossibleTransition, match="it is closed"):
        accept(closed, decode_event(wire(retry)))


def deliver_all(members: list[Membership]) -> dict[str, DepartmentWorkload]:
    """The workload agent: keep the latest membership per (department, complaint), fold each into its view."""
    views: dict[str, DepartmentWorkload] = {}
    latest: dict[tuple[str, str], Membership] = {}
    for member in members:
        key = (member.department, member.complaint_id)
        before = latest.get(key)
        view = views.get(member.department, DepartmentWorkload(department=member.department))
        views[member.department] = workload.apply(view, before, member)
        if workload.supersedes(member, before):
            latest[key] = member
    return views


@settings(max_examples=100, deadline=None)
@given(complaints=complaint_sets(max_size=5), data=st.data())
def test_workload_from_redelivered_memberships_in_any_order_equals_the_rebuild(complaints, data):
    log = data.draw(with_duplicates(data.draw(interleaved(complaints))))
    states, published = fold_deliveries(data.draw(with_crashes(log)))
    deliveries = data.draw(redelivered(published))

    views = deliver_all(deliveries)

    departments = {department for state in states.values() for department in state.departments_seen}
    assert views == {
        department: workload.rebuild(department, [workload.membership(state, department) for state in states.values()])
        for department in departments
    }
    still_open = sum(history.is_open for history in complaints)
    assert sum(state.is_open for state in states.values()) == still_open
    assert sum(view.open for view in views.values()) == still_open
    assert sum(view.owned for view in views.values()) == still_open
    assert sum(sum(view.by_stage.values()) for view in views.values()) == still_open


@settings(max_examples=100, deadline=None)
@given(complaints=complaint_sets(max_size=6), partitions=st.integers(1, 4), data=st.data())
def test_shares_of_every_partition_add_up_to_the_departments_workload(complaints, partitions, data):
    """The complaint agent's bookkeeping: per (partition, department) a Tally, each accepted event
    taking out what the complaint counted before and putting in what it counts now."""
    log = data.draw(with_duplicates(data.draw(interleaved(complaints))))
    partition_of = {history.complaint_id: data.draw(st.integers(0, partitions - 1)) for history in complaints}
    states: dict[str, ComplaintState] = {}
    tallies: dict[tuple[int, str], workload.Tally] = {}
    for document in log:
        event = decode_event(wire(document))
        before = states.get(event.complaint_id)
        after = states[event.complaint_id] = accept(before, event)
        for member in workload.memberships_changed(before, after) if after is not before else []:
            tally = tallies.setdefault(
                (partition_of[after.complaint_id], member.department), workload.Tally(member.department)
            )
            tally.replace(None if before is None else workload.membership(before, member.department), member)
    now = max(state.last_event_at for state in states.values()) + timedelta(minutes=data.draw(st.integers(0, 999)))

    for department in {department for _, department in tallies}:
        shares = [
            workload.share_of(tally, partition) for (partition, name), tally in tallies.items() if name == department
        ]
        members = [workload.membership(state, department) for state in states.values()]
        assert workload.combined_record(department, shares, now) == workload.to_record(
            workload.rebuild(department, members), now
        )
