"""The complaint state machine (projections.complaint.accept), one rule of DOMAIN.md at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

import pytest
from conftest import amended, assigned, at, decode, fold, followed_up, inspected, paid, received, repaid, ruled

from events.errors import ConflictingDuplicate, ImpossibleTransition, Rejection, UnknownComplaint
from events.models import EVENT_TYPES, ComplaintEvent
from projections import complaint as complaint_module
from projections.complaint import accept, mask_phone, replay, to_record
from tests.folding import dump_state, load_state


def rejected(state, document, expected=ImpossibleTransition):
    """Accepting `document` must raise exactly `expected`; returns it for further checks."""
    event = decode(document)
    with pytest.raises(Rejection) as caught:
        accept(state, event)
    assert type(caught.value) is expected
    assert caught.value.complaint_id == event.complaint_id
    assert caught.value.event_id == event.event_id
    return caught.value


def handled_and_ruled(decision="refund", amount="1500.00"):
    return fold(received(minute=0), assigned(minute=5), ruled(decision=decision, amount=amount, minute=60))


# --- the happy path ---------------------------------------------------------------------------


def test_the_happy_path_walks_every_stage_and_closes_when_the_customer_is_satisfied():
    state = accept(None, decode(received(department="customer_service", claim_amount="1500.00", minute=0)))
    assert (state.stage, state.version, state.handler) == ("received", 1, None)

    state = accept(state, decode(assigned(department="repair", handler="wang", minute=10)))
    assert (state.stage, state.department, state.handler) == ("assigned", "repair", "wang")

    state = accept(state, decode(inspected(kind="lab", status="requested", minute=20)))
    assert (state.stage, state.lab_inspection_pending) == ("inspecting", True)

    state = accept(state, decode(inspected(kind="lab", status="reported", minute=2 * 24 * 60)))
    assert (state.stage, state.lab_inspection_pending) == ("inspecting", False)

    state = accept(state, decode(ruled(decision="refund", amount="1500.00", minute=3 * 24 * 60)))
    assert state.stage == "ruled"
    assert state.ruling is not None
    assert (state.ruling.decision, state.ruling.amount) == ("refund", Decimal("1500.00"))

    state = accept(state, decode(paid(amount="1500.00", minute=3 * 24 * 60 + 30)))
    assert (state.stage, state.paid_amount) == ("paid", Decimal("1500.00"))

    state = accept(state, decode(followed_up(satisfied=True, minute=5 * 24 * 60)))
    assert (state.stage, state.satisfied, state.is_open) == ("closed", True, False)
    assert state.version == 7
    assert state.owner_department == "customer_service"
    assert state.last_event_at.isoformat() == at(5 * 24 * 60)
    assert state.received_at.isoformat() == at(0)


def test_an_unsatisfied_follow_up_reopens_the_complaint_to_assigned():
    state = fold(received(), assigned(handler="wang"), ruled(), paid())

    state = fold(followed_up(satisfied=False), state=state)

    assert (state.stage, state.satisfied, state.is_open) == ("assigned", False, True)
    assert state.handler == "wang"


def test_a_reopened_complaint_can_be_ruled_paid_and_closed_again_and_payments_add_up():
    state = fold(received(), assigned(), ruled(amount="100.00"), paid(amount="100.00"), followed_up(satisfied=False))

    state = fold(ruled(decision="compensate", amount="50.50"), paid(amount="50.50"), followed_up(), state=state)

    assert state.stage == "closed"
    assert state.paid_amount == Decimal("150.50")
    assert state.ruling is not None and state.ruling.decision == "compensate"


def test_a_ruling_can_follow_assignment_without_any_inspection():
    state = fold(received(), assigned(), ruled())

    assert state.stage == "ruled"


def test_a_merchant_who_rejects_the_ruling_gets_a_new_one_and_the_latest_counts():
    state = fold(received(), assigned(), ruled(decision="repair", amount="0"))

    state = fold(ruled(decision="refund", amount="800.00"), state=state)

    assert state.ruling is not None
    assert (state.ruling.decision, state.ruling.amount) == ("refund", Decimal("800.00"))


# --- first-contact ownership and buck-passing (R1, R12) -----------------------------------------


def test_reassignment_moves_department_and_handler_but_never_the_owner():
    state = fold(received(department="customer_service"), assigned(department="repair", handler="wang"))

    state = fold(assigned(department="sales", handler="zhao"), state=state)

    assert state.owner_department == "customer_service"
    assert (state.department, state.handler) == ("sales", "zhao")
    assert state.departments_seen == ("customer_service", "repair", "sales")


def test_reassigning_within_the_same_department_is_not_a_department_change():
    state = fold(received(department="repair"), assigned(department="repair", handler="wang"))

    state = fold(
        assigned(department="repair", handler="li"), assigned(department="repair", handler="wang"), state=state
    )

    assert state.department_changes == 0
    assert state.handler == "wang"


def test_the_water_pump_case_repair_engineering_sales_repair_counts_three_changes():
    # DOMAIN R12: the case bounced between repair, engineering and sales; three hand-overs.
    state = fold(
        received(department="repair", minute=0),
        assigned(department="repair", handler="wang", minute=10),
        assigned(department="engineering", handler="zhou", minute=60 * 24 * 20),
        assigned(department="engineering", handler="wu", minute=60 * 24 * 25),
        assigned(department="sales", handler="zhao", minute=60 * 24 * 50),
        assigned(department="repair", handler="wang", minute=60 * 24 * 90),
    )

    assert state.department_changes == 3
    assert state.department == state.owner_department == "repair"
    assert state.departments_seen == ("repair", "engineering", "sales")


def test_reassignment_is_allowed_in_any_open_stage_without_moving_the_stage():
    state = fold(received(), assigned(), ruled(), paid())

    state = fold(assigned(department="finance", handler="qian"), state=state)

    assert (state.stage, state.department, state.department_changes) == ("paid", "finance", 1)


# --- impossible transitions -------------------------------------------------------------------


def test_paying_before_any_ruling_is_rejected_and_says_why():
    state = fold(received(), assigned())

    error = rejected(state, paid())

    assert error.code == "impossible_transition"
    assert str(error) == "cannot apply 'paid' to complaint C-1001: there is no ruling yet (stage assigned)"


def test_paying_a_ruling_that_rejected_the_claim_is_rejected():
    state = handled_and_ruled(decision="reject", amount="0")

    error = rejected(state, paid(amount="10.00"))

    assert "nothing is owed" in str(error)


def test_ruling_while_a_lab_inspection_is_pending_is_rejected_until_the_report_arrives():
    state = fold(received(), assigned(), inspected(kind="lab", status="requested"))

    error = rejected(state, ruled())
    assert "lab inspection is pending" in str(error)

    state = fold(inspected(kind="lab", status="reported"), ruled(), state=state)
    assert state.stage == "ruled"


def test_a_lab_report_without_a_request_is_rejected():
    state = fold(received(), assigned())

    error = rejected(state, inspected(kind="lab", status="reported"))

    assert "no lab inspection was requested" in str(error)


@pytest.mark.parametrize("document", [inspected(), ruled()])
def test_inspecting_or_ruling_before_anyone_is_assigned_is_rejected(document):
    state = fold(received())

    error = rejected(state, document)

    assert "nobody is assigned yet" in str(error)


@pytest.mark.parametrize("document", [inspected(), ruled()])
def test_inspecting_or_ruling_once_paid_is_rejected(document):
    state = fold(received(), assigned(), ruled(), paid())

    error = rejected(state, document)

    assert "already paid" in str(error)


@pytest.mark.parametrize(
    "history",
    [
        [received()],
        [received(), assigned()],
        [received(), assigned(), inspected()],
        [received(), assigned(), ruled(decision="refund", amount="10.00")],
    ],
    ids=["received", "assigned", "inspecting", "ruled-owing-money"],
)
def test_following_up_before_settlement_is_rejected(history):
    state = fold(*history)

    error = rejected(state, followed_up())

    assert f"it is not settled yet (stage {state.stage})" in str(error)


@pytest.mark.parametrize(("decision", "amount"), [("reject", "0"), ("reject", "300.00"), ("repair", "0")])
def test_following_up_is_allowed_straight_after_a_ruling_that_needs_no_payment(decision, amount):
    state = handled_and_ruled(decision=decision, amount=amount)

    state = fold(followed_up(satisfied=True), state=state)

    assert state.stage == "closed"
    assert state.paid_amount == 0


@pytest.mark.parametrize(
    "document",
    [assigned(), inspected(), ruled(), paid(), followed_up(), followed_up(satisfied=False), received()],
    ids=lambda document: f"{document['type']}-{document['event_id']}",
)
def test_nothing_new_is_accepted_once_closed(document):
    state = fold(received(), assigned(), ruled(), paid(), followed_up(satisfied=True))

    error = rejected(state, document)

    assert error.reason.startswith(f"cannot apply '{document['type']}' to complaint C-1001: it is closed")


@pytest.mark.parametrize("document", [assigned(), inspected(), ruled(), paid(), followed_up()])
def test_an_event_for_a_complaint_never_received_is_an_unknown_complaint(document):
    error = rejected(None, document, expected=UnknownComplaint)

    assert error.code == "unknown_complaint"
    assert isinstance(error, ImpossibleTransition)
    assert "never received" in str(error)


def test_an_event_dated_before_the_complaint_was_received_is_rejected():
    state = fold(received(minute=60))

    error = rejected(state, assigned(minute=59))

    assert "before the complaint was received" in str(error)
    assert at(60) in str(error)


def test_an_event_at_the_very_moment_of_receipt_written_in_another_offset_is_accepted():
    state = fold(received(occurred_at="2024-05-01T10:00:00+08:00"))

    state = fold(assigned(occurred_at="2024-05-01T02:00:00Z"), state=state)

    assert state.stage == "assigned"


def test_a_late_event_does_not_move_last_event_at_backwards():
    state = fold(received(minute=0), assigned(minute=30))

    state = fold(assigned(department="sales", minute=20), state=state)

    assert state.last_event_at.isoformat() == at(30)


def test_a_second_received_with_a_new_event_id_is_rejected():
    state = fold(received(event_id="E-first"), assigned())

    error = rejected(state, received(event_id="E-second", minute=5))

    assert "already received" in str(error)


# --- idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("at_stage", [1, 2, 3, 4])
def test_an_exact_duplicate_returns_the_very_same_state(at_stage):
    history = [received(), assigned(), ruled(), paid()]
    state = fold(*history[:at_stage])
    repeat = history[at_stage - 1]

    again = accept(state, decode(repeat))

    assert again is state
    assert again.version == at_stage


def test_an_old_event_redelivered_after_later_ones_changes_nothing():
    first = assigned(department="repair", handler="wang")
    state = fold(received(), first, assigned(department="sales", handler="zhao"))

    again = accept(state, decode(first))

    assert again is state
    assert (again.department, again.handler) == ("sales", "zhao")


def test_a_duplicate_of_any_event_after_closing_is_still_just_a_duplicate():
    history = [received(), assigned(), ruled(), paid(), followed_up()]
    state = fold(*history)

    for document in history:
        assert accept(state, decode(document)) is state


def test_the_same_event_id_with_different_contents_is_a_conflicting_duplicate():
    state = fold(received(), assigned(event_id="E-a", department="repair", handler="wang"))

    error = rejected(state, assigned(event_id="E-a", department="repair", handler="li"), expected=ConflictingDuplicate)

    assert error.code == "conflicting_duplicate"
    assert "E-a" in str(error)
    assert "new event_id" in str(error)


def test_reusing_the_received_event_id_with_other_contents_is_a_conflicting_duplicate():
    state = fold(received(event_id="E-r", claim_amount="10.00"))

    rejected(state, received(event_id="E-r", claim_amount="20.00"), expected=ConflictingDuplicate)


def test_a_rejected_event_leaves_no_trace_so_it_can_be_redriven_later():
    state = fold(received(), assigned())
    payment = paid(event_id="E-early")
    rejected(state, payment)

    state = fold(ruled(), payment, state=state)

    assert state.stage == "paid"


def test_replay_skips_rejected_events_and_folds_each_complaint_on_its_own():
    log = [
        received(complaint_id="C-1"),
        paid(complaint_id="C-2"),  # never received
        received(complaint_id="C-2"),
        paid(complaint_id="C-1"),  # no ruling yet
        assigned(complaint_id="C-1", department="sales"),
        assigned(complaint_id="C-2"),
    ]

    states = replay([decode(document) for document in log])

    assert sorted(states) == ["C-1", "C-2"]
    assert (states["C-1"].stage, states["C-1"].department, states["C-1"].version) == ("assigned", "sales", 2)
    assert (states["C-2"].stage, states["C-2"].version) == ("assigned", 2)


# --- what leaves the fold ---------------------------------------------------------------------


def test_to_record_masks_the_phone_and_carries_what_dashboards_need():
    state = fold(
        received(department="customer_service", phone="13812345678", claim_amount="2500.00", minute=0),
        assigned(department="repair", handler="wang", minute=7),
    )

    record = to_record(state)

    assert record["customer"]["phone"] == "138****5678"
    assert "13812345678" not in str(record)
    assert {
        key: record[key]
        for key in (
            "complaint_id",
            "stage",
            "owner_department",
            "department",
            "handler",
            "claim_amount",
            "department_changes",
            "version",
            "last_event_at",
        )
    } == {
        "complaint_id": "C-1001",
        "stage": "assigned",
        "owner_department": "customer_service",
        "department": "repair",
        "handler": "wang",
        "claim_amount": "2500.00",
        "department_changes": 1,
        "version": 2,
        "last_event_at": at(7),
    }
    assert record["open"] is True
    assert "applied" not in record


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("110", "***"),
        ("62345678", "******78"),
        ("+8613812345678", "+86*******5678"),
    ],
)
def test_mask_phone_keeps_only_the_first_three_and_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("phone", ["1", "1234", "62345678", "0755-2345678", "13812345678", "008613812345678"])
def test_mask_phone_hides_at_least_four_digits_or_half_of_a_short_number(phone):
    digits = phone.replace("-", "")
    hidden = mask_phone(phone).count("*")

    assert hidden >= 4 or hidden * 2 >= len(digits)


def test_dump_and_load_state_round_trip_every_field():
    state = fold(
        received(department="customer_service", merchant=None, phone="+86 138 1234 5678"),
        assigned(department="repair"),
        inspected(kind="lab", status="requested"),
        inspected(kind="lab", status="reported"),
        ruled(amount="99.90"),
        paid(amount="99.90", payer="mall_advance"),
        followed_up(satisfied=False),
    )

    loaded = load_state(dump_state(state))

    assert loaded == state
    assert dump_state(loaded) == dump_state(state)
    assert loaded.received_at.utcoffset() == state.received_at.utcoffset()


def test_a_state_whose_payments_add_up_past_twelve_digits_still_loads():
    biggest = "999999999999.99"
    state = fold(received(claim_amount=biggest), assigned(), ruled(amount=biggest), paid(amount=biggest))
    state = fold(paid(amount=biggest), state=state)

    assert state.paid_amount == Decimal("1999999999999.98")
    assert to_record(state)["paid_amount"] == "1999999999999.98"
    assert load_state(dump_state(state)) == state


# --- amended claims (issue 3) ------------------------------------------------------------------


@pytest.mark.parametrize("stage_events", [[], [assigned(minute=5)], [assigned(minute=5), ruled(minute=30)]])
def test_a_claim_can_be_amended_until_the_customer_is_paid(stage_events):
    before = fold(received(minute=0), *stage_events)

    after = fold(amended(claim_amount="2600.00", minute=40), state=before)

    assert after.claim_amount == Decimal("2600.00")
    assert after.stage == before.stage and after.version == before.version + 1


def test_an_amendment_after_payment_is_impossible():
    state = fold(received(minute=0), assigned(minute=5), ruled(minute=30), paid(minute=40))

    error = rejected(state, amended(minute=50))

    assert "has been paid" in error.reason


def test_an_amendment_needs_a_reason():
    with pytest.raises(Rejection, match="reason"):
        decode(amended(reason=""))


# --- the mall's advance payment and its recovery from the merchant (R3) ------------------------


def advanced(amount="1500.00"):
    return fold(
        received(minute=0),
        assigned(minute=5),
        ruled(minute=30),
        paid(amount=amount, payer="mall_advance", minute=40),
        followed_up(minute=60),
    )


def test_a_mall_advance_opens_a_recovery_record_that_stays_until_the_merchant_repays():
    state = advanced()

    assert to_record(state)["recovery"] == {
        "merchant": state.merchant,
        "advanced": "1500.00",
        "repaid": "0",
        "outstanding": "1500.00",
        "settled": False,
    }
    partly = fold(repaid(amount="500.00", minute=2000), state=state)
    assert to_record(partly)["recovery"]["outstanding"] == "1000.00"
    settled = fold(repaid(amount="1000.00", minute=3000), state=partly)
    assert to_record(settled)["recovery"] == {**to_record(partly)["recovery"], "repaid": "1500.00",
                                               "outstanding": "0.00", "settled": True}  # fmt: skip


def test_a_repayment_is_accepted_after_closing_and_changes_nothing_else():
    state = advanced()
    assert state.stage == "closed"

    after = fold(repaid(minute=5000), state=state)

    assert after.stage == "closed" and after.paid_amount == state.paid_amount
    assert after.version == state.version + 1


def test_no_recovery_record_when_the_merchant_paid_the_customer_itself():
    state = fold(received(minute=0), assigned(minute=5), ruled(minute=30), paid(minute=40))

    assert to_record(state)["recovery"] is None
    assert "owes the mall 0" in rejected(state, repaid(minute=50)).reason


def test_a_merchant_cannot_repay_more_than_the_mall_advanced():
    error = rejected(advanced("800.00"), repaid(amount="900.00", minute=5000))

    assert "repays 900.00 CNY but owes the mall 800.00 CNY" in error.reason


def test_other_events_are_still_refused_once_closed():
    rejected(advanced(), assigned(minute=5000))


def test_every_event_type_of_the_contract_has_exactly_one_transition_rule() -> None:
    """Transitions are looked up by the event's exact class: a type without a rule would only fail
    when its first event arrives."""
    union = get_args(get_args(ComplaintEvent)[0])

    assert set(complaint_module._RULES) == set(union)
    assert {cls.model_fields["type"].annotation for cls in union} == {Literal[kind] for kind in EVENT_TYPES}
