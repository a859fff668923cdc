"""When the read model's feed gives freed memory back: after enough records, once idle, not too often."""

from __future__ import annotations

import platform

from services.allocator import Trimmer, glibc_trim


class Recorded:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_trims_once_idle_after_enough_records() -> None:
    trim = Recorded()
    trimmer = Trimmer(trim, min_records=1000, min_interval=10.0)

    trimmer.took(600)
    assert not trimmer.idle(now=0.0)  # too few records to have freed much
    trimmer.took(400)
    assert trimmer.idle(now=1.0)
    assert not trimmer.idle(now=2.0)  # nothing taken since
    assert trim.calls == 1


def test_trims_at_most_once_per_interval() -> None:
    trim = Recorded()
    trimmer = Trimmer(trim, min_records=1, min_interval=10.0)

    trimmer.took(5)
    assert trimmer.idle(now=100.0)
    trimmer.took(5)
    assert not trimmer.idle(now=105.0)
    assert trimmer.idle(now=110.0)
    assert trim.calls == 2


def test_without_a_trim_function_nothing_happens() -> None:
    trimmer = Trimmer(None, min_records=1)

    trimmer.took(10_000)

    assert not trimmer.idle(now=0.0)


def test_glibc_trim_is_found_and_runs_where_the_c_library_is_glibc() -> None:
    trim = glibc_trim()

    if platform.libc_ver()[0] == "glibc":
        assert trim is not None
        trim()
    else:
        assert trim is None
