"""Department workload (projections.workload): counts folded from versioned memberships."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import T0, assigned, decode, fold, followed_up, paid, received, ruled

from projections import workload
from projections.complaint import ComplaintState, accept
from projections.workload import DepartmentWorkload, Membership


class Board:
    """An in-memory workload agent: the latest membership per (department, complaint) and the views.

    It does what the agent does with each membership: `apply` it against the one it remembers,
    and remember it only when it supersedes that one.
    """

    def __init__(self) -> None:
        self.views: dict[str, DepartmentWorkload] = {}
        self.latest: dict[tuple[str, str], Membership] = {}

    def deliver(self, *members: Membership) -> None:
        for member in members:
            key = (member.department, member.complaint_id)
            before = self.latest.get(key)
            view = self.views.get(member.department, DepartmentWorkload(department=member.department))
            self.views[member.department] = workload.apply(view, before, member)
            if workload.supersedes(member, before):
                self.latest[key] = member

    def view(self, department: str) -> DepartmentWorkload:
        return self.views.get(department, DepartmentWorkload(department=department))


def counts(view: DepartmentWorkload) -> dict:
    """A view's counts, without the open-since index that only feeds `oldest_open_seconds`."""
    return view.model_dump(exclude={"open_since"})


def step(board: Board, state: ComplaintState | None, document: dict) -> ComplaintState:
    """Accept one wire event and deliver the memberships it changed, as the complaint agent would."""
    after = accept(state, decode(document))
    board.deliver(*workload.memberships_changed(state, after))
    return after


def walk(board: Board, *documents: dict, state: ComplaintState | None = None) -> ComplaintState:
    for document in documents:
        state = step(board, state, document)
    assert state is not None
    return state


def test_a_received_complaint_counts_as_open_and_owned_in_the_receiving_department_without_a_handler():
    board = Board()

    walk(board, received(department="customer_service"))

    assert counts(board.view("customer_service")) == counts(
        DepartmentWorkload(
            department="customer_service", open=1, owned=1, by_stage={"received": 1}, handlers={"(unassigned)": 1}
        )
    )


def test_assignment_within_the_department_names_the_handler_and_moves_the_stage():
    board = Board()

    walk(board, received(department="repair"), assigned(department="repair", handler="wang"))

    assert counts(board.view("repair")) == counts(
        DepartmentWorkload(department="repair", open=1, owned=1, by_stage={"assigned": 1}, handlers={"wang": 1})
    )


def test_moving_a_complaint_takes_it_out_of_the_old_department_and_into_the_new_one():
    board = Board()
    walk(board, received(complaint_id="C-1", department="repair"), assigned(complaint_id="C-1", department="repair"))
    walk(board, received(complaint_id="C-2", department="repair"), assigned(complaint_id="C-2", department="repair"))

    state = walk(board, received(complaint_id="C-3", department="repair"), assigned(complaint_id="C-3", handler="li"))
    walk(board, assigned(complaint_id="C-3", department="engineering", handler="zhou"), state=state)

    assert board.view("repair").open == 2
    assert board.view("repair").handlers == {"wang": 2}
    assert counts(board.view("engineering")) == counts(
        DepartmentWorkload(department="engineering", open=1, owned=0, by_stage={"assigned": 1}, handlers={"zhou": 1})
    )


def test_owned_stays_with_the_first_department_wherever_the_complaint_goes():
    board = Board()

    walk(
        board,
        received(department="customer_service"),
        assigned(department="repair", handler="wang"),
        assigned(department="engineering", handler="zhou"),
        assigned(department="sales", handler="zhao"),
    )

    assert {name: (view.open, view.owned) for name, view in board.views.items()} == {
        "customer_service": (0, 1),
        "repair": (0, 0),
        "engineering": (0, 0),
        "sales": (1, 0),
    }


def test_a_repeated_membership_changes_nothing_and_returns_the_same_view():
    board = Board()
    state = walk(board, received(department="repair"), assigned(department="repair"))
    member = workload.membership(state, "repair")
    view = board.view("repair")

    again = workload.apply(view, member, member)

    assert again is view


def test_an_older_membership_arriving_after_a_newer_one_changes_nothing():
    board = Board()
    state = walk(board, received(department="repair"))
    older = workload.membership(state, "repair")
    state = walk(board, assigned(department="repair", handler="wang"), ruled(), state=state)
    view = board.view("repair")

    board.deliver(older)

    assert board.view("repair") is view
    assert view.by_stage == {"ruled": 1}
    assert board.latest[("repair", state.complaint_id)].version == state.version


def test_a_newer_membership_delivered_before_the_older_ones_wins():
    departure = fold(received(department="repair"), assigned(department="repair", handler="wang"))
    moved = fold(assigned(department="sales", handler="zhao"), state=departure)
    board = Board()

    board.deliver(*workload.memberships_changed(departure, moved))
    board.deliver(*workload.every_membership(departure))

    assert board.view("repair") == DepartmentWorkload(department="repair", open=0, owned=1)
    assert board.view("sales").open == 1


def test_a_closed_complaint_leaves_every_count():
    board = Board()

    walk(
        board,
        received(department="customer_service"),
        assigned(department="repair", handler="wang"),
        ruled(),
        paid(),
        followed_up(satisfied=True),
    )

    assert board.view("customer_service") == DepartmentWorkload(department="customer_service")
    assert board.view("repair") == DepartmentWorkload(department="repair")


def test_a_reopened_complaint_comes_back_as_assigned():
    board = Board()

    walk(board, received(), assigned(handler="wang"), ruled(), paid(), followed_up(satisfied=False))

    assert counts(board.view("repair")) == counts(
        DepartmentWorkload(department="repair", open=1, owned=1, by_stage={"assigned": 1}, handlers={"wang": 1})
    )


def test_memberships_changed_covers_the_owner_and_both_sides_of_a_move():
    before = fold(received(department="customer_service"), assigned(department="repair"))
    after = fold(assigned(department="sales"), state=before)

    changed = workload.memberships_changed(before, after)

    assert sorted(member.department for member in changed) == ["customer_service", "repair", "sales"]
    assert {member.version for member in changed} == {after.version}
    assert [member.department for member in changed if member.handling] == ["sales"]
    assert [member.department for member in changed if member.owned] == ["customer_service"]


def test_every_membership_covers_every_department_ever_involved():
    state = fold(
        received(department="customer_service"),
        assigned(department="repair"),
        assigned(department="sales"),
        assigned(department="repair"),
    )

    members = workload.every_membership(state)

    assert [member.department for member in members] == ["customer_service", "repair", "sales"]


@pytest.mark.parametrize("redelivered", [False, True])
def test_rebuild_from_memberships_equals_the_incremental_views(redelivered):
    board = Board()
    walk(board, received(complaint_id="C-1", department="customer_service"), assigned(complaint_id="C-1"))
    c2 = walk(board, received(complaint_id="C-2", department="repair"), assigned(complaint_id="C-2", handler="li"))
    walk(board, ruled(complaint_id="C-2"), assigned(complaint_id="C-2", department="sales"), state=c2)
    c3 = walk(board, received(complaint_id="C-3", department="sales"), assigned(complaint_id="C-3", department="sales"))
    c3 = walk(
        board, ruled(complaint_id="C-3", decision="reject", amount="0"), followed_up(complaint_id="C-3"), state=c3
    )
    if redelivered:
        board.deliver(*workload.every_membership(c3), *workload.every_membership(c2))

    for department, view in board.views.items():
        members = [member for (name, _), member in board.latest.items() if name == department]
        assert workload.rebuild(department, members) == view

    assert {name: view.open for name, view in board.views.items()} == {"customer_service": 0, "repair": 1, "sales": 1}


def test_to_record_is_the_view_as_json():
    board = Board()
    walk(board, received(department="repair"), assigned(department="repair", handler="wang"))

    record = workload.to_record(board.view("repair"), T0 + timedelta(hours=2))

    assert record == {
        "department": "repair",
        "open": 1,
        "owned": 1,
        "at_risk": 0,
        "breached": 0,
        "by_stage": {"assigned": 1},
        "handlers": {"wang": 1},
        "oldest_open_seconds": 7200.0,
        "evaluated_at": (T0 + timedelta(hours=2)).isoformat(),
    }


def test_oldest_open_is_the_earliest_received_complaint_still_handled_there():
    board = Board()
    first = walk(board, received(complaint_id="C-1", department="repair", minute=0))
    walk(board, received(complaint_id="C-2", department="repair", minute=60))
    now = T0 + timedelta(hours=3)
    assert workload.to_record(board.view("repair"), now)["oldest_open_seconds"] == 3 * 3600

    walk(board, assigned(complaint_id="C-1", department="sales"), state=first)

    assert workload.to_record(board.view("repair"), now)["oldest_open_seconds"] == 2 * 3600
    assert workload.to_record(board.view("sales"), now)["oldest_open_seconds"] == 3 * 3600
    assert workload.to_record(DepartmentWorkload(department="empty"), now)["oldest_open_seconds"] is None


def test_at_risk_and_breached_count_where_the_complaint_is_handled_and_follow_its_latest_standing():
    board = Board()
    state = walk(board, received(department="customer_service"), assigned(department="repair"))

    board.deliver(workload.membership(state, "repair", version=state.version + 1, standing="at_risk"))
    assert (board.view("repair").at_risk, board.view("repair").breached) == (1, 0)

    board.deliver(workload.membership(state, "repair", version=state.version + 2, standing="breached"))
    board.deliver(workload.membership(state, "repair", version=state.version + 1, standing="at_risk"))
    assert (board.view("repair").at_risk, board.view("repair").breached) == (0, 1)
    assert board.view("customer_service").breached == 0

    closed = walk(board, ruled(), paid(), followed_up(satisfied=True), state=state)
    board.deliver(workload.membership(closed, "repair", version=state.version + 9, standing="breached"))
    assert (board.view("repair").open, board.view("repair").breached) == (0, 0)
