"""The complaint agent's workload shares (services/shares.py): counted with each step, rebuilt from the table."""

from __future__ import annotations

from typing import Any

import orjson

from events.codec import decode_keyed_event
from projections import case as cases
from projections.case import Case
from projections.workload import Share
from services.rules import load_rulebook
from services.settings import Settings
from services.shares import PartitionShares
from tests.wire import assigned, minutes, received

RULES = load_rulebook(Settings())


def step(case: Case | None, document: dict[str, Any]) -> Case:
    event = decode_keyed_event(document["complaint_id"].encode(), orjson.dumps(document))
    return cases.accept_event(case, event, RULES)


def counts(changed: list[Share]) -> dict[tuple[int, str], tuple[int, int, int]]:
    return {(share.partition, share.department): (share.open, share.owned, share.breached) for share in changed}


def test_each_step_moves_the_complaint_between_the_departments_it_touches_in_its_partition():
    shares = PartitionShares()
    first = step(None, received("C-1", department="客服中心"))
    shares.count(2, None, first, cases.departments_touched(None, first), "ok")

    assert counts(shares.take_changed()) == {(2, "客服中心"): (1, 1, 0)}
    assert shares.take_changed() == []

    second = step(first, assigned("C-1", "维修部", at=first.complaint.received_at + minutes(5)))
    shares.count(2, first, second, cases.departments_touched(first, second), "breached")

    assert counts(shares.take_changed()) == {(2, "客服中心"): (0, 1, 0), (2, "维修部"): (1, 0, 1)}

    shares.count(2, second, second, cases.departments_touched(second, second), "ok")

    assert counts(shares.take_changed()) == {(2, "维修部"): (1, 0, 0)}


def test_a_rebuild_publishes_every_share_again_including_emptied_ones():
    shares = PartitionShares()
    first = step(None, received("C-1", department="客服中心"))
    moved = step(first, assigned("C-1", "维修部", at=first.complaint.received_at + minutes(5)))
    again = step(moved, assigned("C-1", "物业部", at=first.complaint.received_at + minutes(9)))

    shares.rebuild([(0, again, "ok"), (1, step(None, received("C-2", department="维修部")), "at_risk")])

    assert counts(shares.take_changed()) == {
        (0, "客服中心"): (0, 1, 0),
        (0, "维修部"): (0, 0, 0),
        (0, "物业部"): (1, 0, 0),
        (1, "维修部"): (1, 1, 0),
    }


def test_shares_counted_apart_are_published_only_once_taken_over_and_replace_the_old_counts():
    shares = PartitionShares()
    before = step(None, received("C-9", department="物业部"))
    shares.count(3, None, before, cases.departments_touched(None, before), "ok")
    shares.take_changed()
    counted = PartitionShares()  # what a recovery counts while the worker's timers still run
    counted.hold(0, step(None, received("C-1", department="客服中心")), "breached")

    assert shares.take_changed() == [], "nothing counted apart is published before the swap"
    shares.take_over(counted)
    assert counts(shares.take_changed()) == {(0, "客服中心"): (1, 1, 1)}


def test_shares_that_could_not_be_published_are_published_next_time():
    shares = PartitionShares()
    first = step(None, received("C-1"))
    shares.count(0, None, first, cases.departments_touched(None, first), "ok")
    lost = shares.take_changed()

    shares.mark_changed(lost)

    assert shares.take_changed() == lost
