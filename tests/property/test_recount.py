"""The shares a recovery walk counts while the agent goes on folding (services/shares.py, `Recount`):
whatever the interleaving of the walk's steps and the agent's, the walk ends with what counting
the table as it then stands would give."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections import case as cases
from projections.case import Case
from projections.workload import Share, Standing
from services.rules import load_rulebook
from services.settings import Settings
from services.shares import PartitionShares, Recount
from tests.folding import cases_of
from tests.wire import T0, assigned, followed_up, minutes, paid, received, ruled

RULES = load_rulebook(Settings())
DEPARTMENTS = ["客服中心", "维修部", "物业部"]
STANDINGS: tuple[Standing, ...] = ("ok", "at_risk", "breached")


def life(complaint_id: str, departments: list[str]) -> list[Case]:
    """Every case a complaint passes through: received, moved between departments, ruled, paid, closed."""
    documents = [received(complaint_id, department=departments[0], at=T0)]
    documents += [assigned(complaint_id, d, f"h-{n}", at=T0 + minutes(5 * n)) for n, d in enumerate(departments, 1)]
    documents += [ruled(complaint_id, at=T0 + minutes(40)), paid(complaint_id, at=T0 + minutes(50))]
    documents.append(followed_up(complaint_id, at=T0 + minutes(60)))
    lived = cases_of(documents, RULES)
    assert len(lived) == len(documents), "every event of the life is accepted"
    return lived


def standing(case: Case) -> Standing:
    """Any standing will do, as long as the walk and the agent agree on it for the same case."""
    return STANDINGS[case.revision % 3]


def every_share(counted: PartitionShares) -> dict[tuple[int, str], Share]:
    whole = PartitionShares()
    whole.take_over(counted)  # marks every share for publishing
    return {(share.partition, share.department): share for share in whole.take_changed()}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_walk_interleaved_with_the_agent_counts_the_table_as_it_ends(data: Any) -> None:
    count = data.draw(st.integers(1, 5), label="complaints")
    lives = [
        life(f"C-{n}", data.draw(st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=3))) for n in range(count)
    ]
    partition = [n % 2 for n in range(count)]
    # how far each complaint was when the worker recovered; -1: not received yet (not in the table)
    step = [data.draw(st.integers(-1, len(lived) - 1), label=f"C-{n} recovered at") for n, lived in enumerate(lives)]
    keys = [f"C-{n}".encode() for n in range(count) if step[n] >= 0]
    recount, unwalked = Recount(keys), list(keys)

    def walk() -> None:
        key = unwalked.pop(0)
        recount.reach(key)
        n = int(key.decode()[2:])
        recount.counted.hold(partition[n], lives[n][step[n]], standing(lives[n][step[n]]))

    def agent(n: int) -> None:
        if step[n] + 1 == len(lives[n]):
            return
        before, after = lives[n][step[n]] if step[n] >= 0 else None, lives[n][step[n] + 1]
        counting = recount.counting(f"C-{n}".encode())
        if counting is not None:
            counting.count(partition[n], before, after, cases.departments_touched(before, after), standing(after))
        step[n] += 1

    moves = st.one_of(st.just("walk"), st.integers(0, count - 1))
    for move in data.draw(st.lists(moves, max_size=40), label="interleaving"):
        if move == "walk":
            if unwalked:
                walk()
        else:
            agent(move)
    while unwalked:
        walk()

    fresh = PartitionShares()
    for n in range(count):
        if step[n] >= 0:
            fresh.hold(partition[n], lives[n][step[n]], standing(lives[n][step[n]]))
    assert every_share(recount.counted) == every_share(fresh)
