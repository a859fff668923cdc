"""What a worker holds per complaint: the tables' value formats, the packer under them, and the
SLA timer's deadline index."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.codec import decode_event
from projections.case import Case, accept_event, dump_case
from projections.evolve import evolve
from services.cases import DeadlineIndex, RecentCases, StoredCase, UnsavedCases, decode_stored, encode_stored
from services.dictionaries import CASE_V1, STATE_RECORD
from services.packing import DamagedValue, Zlib, Zstd
from services.rules import load_rulebook
from services.settings import Settings
from tests.wire import received

RULES = load_rulebook(Settings())
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FORMAT_BYTE = {Zlib: b"\x01", Zstd: b"\x02"}


def test_a_case_stored_by_an_older_worker_reads_as_it_did() -> None:
    case = accept_event(None, decode_event(orjson.dumps(received("C-1"))), RULES)
    written_first = b"3\x1f" + dump_case(case)  # format 0
    written_zlib_packed = b"\x013\x1f" + Zlib(CASE_V1).pack(dump_case(case))  # format 1

    assert decode_stored(written_first) == (3, case)
    assert decode_stored(written_zlib_packed) == (3, case)
    assert decode_stored(encode_stored(3, case)) == (3, case)


def test_a_case_is_stored_packed_in_a_fraction_of_its_json() -> None:
    case = accept_event(None, decode_event(orjson.dumps(received("C-1"))), RULES)

    stored = encode_stored(12, case)

    assert stored.startswith(b"\x0212\x1f")
    assert len(stored) * 4 < len(dump_case(case))


@pytest.mark.parametrize("packer", [Zlib, Zstd])
def test_a_damaged_packed_case_is_refused_rather_than_misread(packer: type[Zlib | Zstd]) -> None:
    case = accept_event(None, decode_event(orjson.dumps(received("C-1"))), RULES)
    stored = FORMAT_BYTE[packer] + b"0\x1f" + packer(CASE_V1).pack(dump_case(case))
    assert decode_stored(stored) == (0, case)

    with pytest.raises(DamagedValue):
        decode_stored(stored[:-1])
    with pytest.raises(DamagedValue):
        decode_stored(stored[:-6] + bytes([stored[-6] ^ 1]) + stored[-5:])


@pytest.mark.parametrize("packer", [Zlib, Zstd])
def test_a_value_packed_with_another_dictionary_is_refused(packer: type[Zlib | Zstd]) -> None:
    packed = packer(CASE_V1).pack(b'{"complaint":{}}')

    assert packer(CASE_V1).unpack(packed) == b'{"complaint":{}}'
    with pytest.raises(DamagedValue):
        packer(STATE_RECORD).unpack(packed)
    with pytest.raises(DamagedValue):
        packer(CASE_V1).unpack(packed + b"more")


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_deadlines_pop_in_time_order_with_their_partition() -> None:
    index = DeadlineIndex()
    index.schedule("C-2", 1, at(20))
    index.schedule("C-1", 0, at(10))
    index.schedule("C-3", 2, at(30))

    assert index.pop_due(at(25)) == [("C-1", 0, at(10)), ("C-2", 1, at(20))]
    assert len(index) == 1
    assert index.pop_due(at(25)) == []


def test_a_rescheduled_or_cancelled_deadline_wakes_only_as_it_now_says() -> None:
    index = DeadlineIndex()
    index.schedule("C-1", 0, at(10))
    index.schedule("C-1", 3, at(40))  # moved later, and to another partition
    index.schedule("C-2", 0, at(5))
    index.schedule("C-2", 0, None)  # nothing due any more
    index.schedule("C-3", 0, at(15))
    index.schedule("C-3", 0, at(15))  # the same instant again

    assert index.pop_due(at(30)) == [("C-3", 0, at(15))]
    assert index.pop_due(at(60)) == [("C-1", 3, at(40))]
    assert len(index) == 0


def test_many_reschedules_keep_one_wake_up_per_complaint() -> None:
    index = DeadlineIndex()
    for round_ in range(5):
        for n in range(1000):
            index.schedule(f"C-{n}", n % 4, at(60 - round_ * 10 + n % 7))

    due = index.pop_due(at(100))

    assert sorted(complaint for complaint, _, _ in due) == sorted(f"C-{n}" for n in range(1000))
    assert [when for _, _, when in due] == sorted(when for _, _, when in due)
    assert all(when == at(20 + int(complaint[2:]) % 7) for complaint, _, when in due)


def test_a_zstd_packed_value_holds_no_more_memory_than_its_bytes() -> None:
    """A value is kept for the complaint's life: zstandard returns it in a worst-case-sized buffer."""
    record = orjson.dumps({"complaint_id": "C-1", "note": "x" * 1000, "n": list(range(100))})
    packer = Zstd(STATE_RECORD)
    tracemalloc.start()
    try:
        packed = [packer.pack(record) for _ in range(100)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert held < 100 * (len(packed[0]) + 120)  # the bytes, their object header, the list's slot


def case_of(complaint_id: str) -> Case:
    return accept_event(None, decode_event(orjson.dumps(received(complaint_id))), RULES)


def test_a_recent_case_is_handed_back_without_decoding_while_the_table_holds_its_bytes() -> None:
    recent, case = RecentCases(2), case_of("C-1")
    written = recent.encode("C-1", 3, case)

    assert written == encode_stored(3, case)
    assert recent.decode("C-1", written).case is case  # the object in hand, not a decoded copy
    assert recent.decode("C-1", bytes(written)) == (3, case)


def test_a_value_that_changed_in_the_table_is_decoded_afresh() -> None:
    recent, first = RecentCases(2), case_of("C-1")
    recent.encode("C-1", 0, first)
    recovered = encode_stored(1, evolve(first, revision=7))  # e.g. restored from a changelog

    read = recent.decode("C-1", recovered)

    assert read == decode_stored(recovered) and read.partition == 1 and read.case.revision == 7
    assert recent.decode("C-1", recovered) is read  # and it is the one remembered now


def test_only_the_most_recently_used_cases_are_kept() -> None:
    recent = RecentCases(2)
    cases = {complaint_id: case_of(complaint_id) for complaint_id in ("C-1", "C-2", "C-3")}
    written = {complaint_id: recent.encode(complaint_id, 0, case) for complaint_id, case in cases.items()}

    assert len(recent) == 2
    assert recent.decode("C-1", written["C-1"]).case is not cases["C-1"]  # the oldest went: decoded again
    assert recent.decode("C-3", written["C-3"]).case is cases["C-3"]


def test_a_size_of_zero_keeps_nothing() -> None:
    recent, case = RecentCases(0), case_of("C-1")

    assert recent.decode("C-1", recent.encode("C-1", 0, case)) == (0, case)
    assert len(recent) == 0


def test_a_case_changed_again_before_its_save_is_held_once_as_last_changed() -> None:
    unsaved, first, other = UnsavedCases(limit=10), case_of("C-1"), case_of("C-2")
    later = evolve(first, revision=first.revision + 1)

    unsaved.hold("C-1", StoredCase(2, first))
    unsaved.hold("C-1", StoredCase(2, later))
    unsaved.hold("C-2", StoredCase(0, other))

    assert len(unsaved) == 2 and unsaved.get("C-1") == (2, later) and unsaved.get("C-3") is None
    unsaved.start_saving()
    saved = dict(iter(unsaved.next_to_save, None))
    assert saved == {"C-1": (2, later), "C-2": (0, other)}
    assert len(unsaved) == 0 and unsaved.get("C-1") is None, "saved: the table answers for it now"


def test_a_case_stays_readable_until_its_save_reaches_it_and_a_newer_change_wins() -> None:
    unsaved, first = UnsavedCases(limit=10), case_of("C-1")
    unsaved.hold("C-1", StoredCase(1, first))
    unsaved.hold("C-2", StoredCase(1, case_of("C-2")))
    unsaved.start_saving()
    changed_meanwhile = evolve(first, revision=first.revision + 5)

    assert unsaved.get("C-1") == (1, first), "in the save, not written yet"
    unsaved.hold("C-1", StoredCase(1, changed_meanwhile))  # a step while the save awaits its sends
    assert unsaved.get("C-1") == (1, changed_meanwhile)
    while unsaved.next_to_save() is not None:
        pass
    assert unsaved.get("C-1") == (1, changed_meanwhile), "held for the next save"
    unsaved.start_saving()
    assert unsaved.next_to_save() == ("C-1", (1, changed_meanwhile))


def test_unsaved_cases_are_full_at_their_limit_and_cleared_whole() -> None:
    unsaved = UnsavedCases(limit=2)
    unsaved.hold("C-1", StoredCase(0, case_of("C-1")))
    assert not unsaved.full
    unsaved.hold("C-2", StoredCase(0, case_of("C-2")))
    assert unsaved.full
    unsaved.start_saving()
    unsaved.hold("C-3", StoredCase(0, case_of("C-3")))

    unsaved.clear()  # a rebalance: the events behind them are read again from the committed offset

    assert len(unsaved) == 0 and unsaved.next_to_save() is None and unsaved.get("C-3") is None
