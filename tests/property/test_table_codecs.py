"""The complaints table's value codec: every case a history passes through reads back equal,
from the zstd-packed format written now and from the formats older changelogs hold (plain JSON,
zlib-packed); and the partition each names reads without decoding."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sla_strategies import sla_histories

from projections.case import dump_case
from services.cases import PACKED_V1, SEPARATOR, decode_stored, encode_stored, stored_partition
from services.dictionaries import CASE_V1
from services.packing import Zlib
from services.rules import load_rulebook
from services.settings import Settings
from tests.folding import cases_of

RULES = load_rulebook(Settings())
ZLIB = Zlib(CASE_V1)


@settings(max_examples=60, deadline=None)
@given(history=sla_histories(), partition=st.integers(0, 2**19 - 1))
def test_every_case_of_a_history_reads_back_equal_in_every_format(history: Any, partition: int) -> None:
    for case in cases_of(history.events, RULES):
        packed = encode_stored(partition, case)
        plain = str(partition).encode() + SEPARATOR + dump_case(case)  # format 0, as the first workers wrote it
        zlib_packed = PACKED_V1 + str(partition).encode() + SEPARATOR + ZLIB.pack(dump_case(case))  # format 1

        assert decode_stored(packed) == (partition, case)
        assert decode_stored(plain) == (partition, case)
        assert decode_stored(zlib_packed) == (partition, case)
        assert stored_partition(packed) == stored_partition(plain) == stored_partition(zlib_packed) == partition
        assert len(packed) < len(plain)
