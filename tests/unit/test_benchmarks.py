"""The benchmark harness's pure helpers: percentiles, ratios, the table, BENCHMARKS.md, the
simulated streams and the log timestamps. Nothing here is timed: the figures themselves are
measured by `make bench`, never asserted in a test."""

from __future__ import annotations

import asyncio
import functools
import gc
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from benchmarks import core, instructions, latency, streams, task_clock
from benchmarks.harness import log_time
from benchmarks.live import medians_by_slice
from benchmarks.profile import summarise
from benchmarks.replay import Replayed, aged_row
from benchmarks.replay import fold_per_second as replay_fold_per_second
from benchmarks.replay import rows as replay_rows
from benchmarks.report import (
    HEADERS,
    Row,
    format_number,
    format_ratio,
    format_table,
    percentile,
    ratio,
    render_markdown,
)
from benchmarks.runner import FULL, QUICK
from benchmarks.streams import ASSIGNMENT_BUDGET, due_soon, final_versions, retimed
from benchmarks.tasks import per_event
from benchmarks.throughput import Spent, cpu_rows
from services.rules import load_rulebook
from services.settings import Settings
from services.simulate import CST

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=CST)


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]

    assert percentile(values, 0) == 15
    assert percentile(values, 50) == 35
    assert percentile(values, 100) == 50
    assert percentile(values, 40) == pytest.approx(29.0)  # rank 1.6: 20 + 0.6 x 15
    assert percentile([3.0, 1.0, 2.0], 50) == 2, "order of the sample does not matter"


def test_a_single_value_is_every_percentile() -> None:
    assert [percentile([7.0], q) for q in (0, 50, 99, 100)] == [7, 7, 7, 7]


def test_records_never_seen_make_the_high_percentiles_infinite_not_nan() -> None:
    sample = [10.0] * 98 + [math.inf, math.inf]

    assert percentile(sample, 50) == 10
    assert percentile(sample, 99) == math.inf
    assert percentile(sample, 100) == math.inf


@pytest.mark.parametrize("q", [-1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], q)


def test_an_empty_sample_has_no_percentile() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_ratio_is_value_over_baseline_and_missing_when_either_is() -> None:
    assert ratio(1_100, 28_700) == pytest.approx(0.0383, abs=1e-4)
    assert ratio(None, 10) is None
    assert ratio(10, None) is None
    assert ratio(10, 0) is None
    assert Row("1", "x", 50.0, "events/s", 200.0, "loop").ratio == 0.25


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0, "0"), (28_712.4, "28,712"), (100, "100"), (42.25, "42.2"), (0.01234, "0.0123"), (-3.5, "-3.5")],
)
def test_numbers_are_shown_with_separators_or_three_significant_digits(value: float | None, shown: str) -> None:
    assert format_number(value) == shown


def test_ratios_are_shown_as_multiples() -> None:
    assert [format_ratio(r) for r in (None, 0.0383, 1.0, 12.345, 1234.0)] == ["—", "0.04×", "1.00×", "12.35×", "1,234×"]


ROWS = [
    Row("1 throughput", "Faust worker", 1_100.0, "events/s", 28_700.0, "aiokafka loop", "no changelog in the loop"),
    Row("4 replay", "complaintflow replay", None, "events/s", 30_000.0, "read+decode", "not available yet"),
]


def test_the_table_aligns_columns_and_shows_the_note_when_there_is_no_value() -> None:
    lines = format_table(ROWS).splitlines()

    assert lines[0].split() == ["figure", "measure", "value", "unit", "baseline", "(same", "run)", "ratio"]
    assert set(lines[1]) == {"-", " "}
    assert "1,100" in lines[2] and "28,700 (aiokafka loop)" in lines[2] and lines[2].endswith("0.04×")
    assert "not available yet" in lines[3] and lines[3].endswith("—")
    assert len({line.index("events/s") for line in lines[2:]}) == 1, "the unit column lines up"


def test_the_markdown_report_says_when_where_at_what_size_and_how_to_read_the_ratio() -> None:
    report = render_markdown(
        ROWS,
        date="2026-11-22 16:00 UTC",
        mode="quick",
        sizes={"history_complaints": 2_000, "rate": 500.0, "label": "x|y"},
        machine={"CPU": "AMD EPYC", "cores": "2"},
        versions={"faust-streaming": "0.15.3", "aiokafka": "0.14.0"},
        notes=["shared CPU"],
    )

    assert report.startswith("# Benchmarks\n")
    assert "make bench-quick" in report and "2026-11-22 16:00 UTC" in report
    assert "- **mode**: quick (history_complaints 2,000, rate 500, label x|y)" in report
    assert "- **CPU**: AMD EPYC" in report and "faust-streaming 0.15.3, aiokafka 0.14.0" in report
    assert "ratio = value ÷ baseline" in report
    table = [line for line in report.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(ROWS)
    columns = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
    assert columns == {len(HEADERS) + 2}, "every row has every column (and a note column)"
    assert "| 1,100 | events/s | 28,700 (aiokafka loop) | 0.04× | no changelog in the loop |" in table[2]
    assert "| not available yet |" in table[3]
    assert report.endswith("- shared CPU\n")


def test_quick_mode_is_a_tenth_of_the_full_size() -> None:
    assert QUICK.history_complaints * 10 == FULL.history_complaints
    assert QUICK.open_complaints * 10 == FULL.open_complaints
    assert QUICK.due_complaints * 10 == FULL.due_complaints
    assert QUICK.latency_seconds * 10 == FULL.latency_seconds
    assert QUICK.rate == FULL.rate == 500, "the latency figure is at the same steady rate"


def test_retimed_events_keep_their_order_and_contents_at_a_fixed_step() -> None:
    events = [{"event_id": f"E-{n}", "occurred_at": "2020-01-01T00:00:00+08:00"} for n in range(3)]

    shifted = retimed(events, T0, 0.5)

    assert [e["event_id"] for e in shifted] == ["E-0", "E-1", "E-2"]
    assert [datetime.fromisoformat(e["occurred_at"]) for e in shifted] == [
        T0,
        T0 + timedelta(seconds=0.5),
        T0 + timedelta(seconds=1),
    ]
    assert events[0]["occurred_at"] == "2020-01-01T00:00:00+08:00", "the originals are left alone"


def test_due_soon_deadlines_fall_from_first_in_at_the_given_rate() -> None:
    events = due_soon(seed=1, complaints=4, now=T0, first_in=10, rate=2)

    assert [e["type"] for e in events] == ["received"] * 4
    deadlines = [datetime.fromisoformat(e["occurred_at"]) + ASSIGNMENT_BUDGET - T0 for e in events]
    assert deadlines == [timedelta(seconds=s) for s in (10, 10.5, 11, 11.5)]
    assert len({e["complaint_id"] for e in events}) == 4


def test_final_versions_keep_each_complaints_highest_accepted_version() -> None:
    expected = [(b"C-1", 1), (b"C-2", 1), None, (b"C-1", 2), (b"C-1", 3), None]

    assert final_versions(expected) == {b"C-1": 3, b"C-2": 1}


def test_log_times_are_read_from_faust_log_lines_and_other_lines_have_none() -> None:
    line = "[2026-11-22 14:16:07,084] [18473] [INFO] Setting newly assigned partitions"

    assert log_time(line) == datetime(2026, 11, 22, 14, 16, 7, 84_000).timestamp()
    assert log_time("| complaintflow-__assignor-__leader | {0-3} |") is None


def test_replay_rows_split_the_whole_run_into_start_up_and_the_rest_against_the_same_baseline() -> None:
    replayed = Replayed(3.0, 0.5, "process start to exit")
    whole, start_up = replay_rows(replayed, 100_000, 5_000, 20_000, 30_000, 10_000)[:2]

    assert whole.value == pytest.approx(10_000 / 3.0) and whole.baseline == 100_000
    assert (start_up.value, start_up.unit, start_up.baseline) == (0.5, "s", 3.0)
    assert start_up.ratio == pytest.approx(1 / 6), "the ratio is start-up's share of the whole replay"
    assert replay_rows(Replayed(3.0, 0.5, ""), 100_000, 5_000, 20_000, 30_000, 10_000)[2].value == 4_000
    assert {row.baseline for row in replay_rows(Replayed(3.0, 0.5, ""), 1.0, 2.0, 3.0, 4.0, 6)} == {1.0, 3.0}


def test_a_replay_that_failed_shows_why_in_every_row_that_depends_on_it() -> None:
    rows = replay_rows(Replayed(None, None, "failed (exit 2): no broker"), 100_000, 5_000, 20_000, 30_000, 10_000)

    assert [row.value for row in rows[:3]] == [None, None, None]
    assert all(row.note == "failed (exit 2): no broker" for row in rows[:3])
    in_memory = [row.value for row in rows[3:]]
    assert in_memory == [5_000, 20_000, 30_000], "the in-memory figures do not need the process"


def test_the_weeks_old_replay_is_set_against_a_read_of_the_same_events() -> None:
    row = aged_row(2.0, "", 40_000.0, 10_000)

    assert (row.value, row.baseline) == (5_000, 40_000.0) and row.ratio == pytest.approx(0.125)
    assert "10,000 weeks-old events" in row.what
    failed = aged_row(None, "failed (exit 2): no broker", 40_000.0, 10_000)
    assert failed.value is None and failed.note == "failed (exit 2): no broker"


def test_a_start_up_as_long_as_the_whole_replay_leaves_no_rate_without_it() -> None:
    assert replay_rows(Replayed(0.5, 0.6, ""), 100_000, 5_000, 20_000, 30_000, 10_000)[2].value is None


def test_cpu_rows_set_the_worker_and_the_broker_against_the_loops_run() -> None:
    worker, broker = cpu_rows(Spent(process=0.9, broker=0.2), Spent(process=0.3, broker=0.05))

    assert (worker.value, worker.baseline, worker.unit) == (0.9, 0.3, "ms")
    assert worker.ratio == pytest.approx(3.0), "the worker costs three times the loop per event"
    assert (broker.value, broker.baseline) == (0.2, 0.05)


def test_a_worker_that_did_not_finish_has_no_cpu_per_event() -> None:
    worker, broker = cpu_rows(None, Spent(process=0.3, broker=0.05))

    assert (worker.value, broker.value) == (None, None)
    assert worker.baseline == 0.3 and "did not finish" in worker.note


def test_the_core_figures_run_on_the_bench_backlog_of_the_ten_minutes_before_now() -> None:
    now = T0 + timedelta(days=30)

    backlog = core.messages(12, now)

    events = [orjson.loads(value) for _, value in backlog]
    assert {key.decode() for key, _ in backlog} == {event["complaint_id"] for event in events}
    assert len({event["complaint_id"] for event in events}) == 12
    moments = [datetime.fromisoformat(event["occurred_at"]) for event in events]
    assert moments == sorted(moments), "in the order the channels sent them"
    assert now - timedelta(minutes=10) <= moments[0] and moments[-1] < now


def test_the_core_figure_is_the_best_of_its_runs_and_the_profile_names_where_time_went() -> None:
    figures = iter([3.0, 9.0, 5.0])

    assert core.best(3, lambda: next(figures)) == 9.0

    def busy_with_squares() -> int:
        return sum(n * n for n in range(200_000))

    assert "busy_with_squares" in core.profiled(busy_with_squares, top=5)


def test_the_collector_is_off_only_while_the_diagnostic_runs_even_if_it_fails() -> None:
    assert core.without_collector(lambda: 0.0 if gc.isenabled() else 1.0) == 1.0
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        core.without_collector(lambda: 1 / 0)
    assert gc.isenabled()


def test_live_latency_is_summarised_by_the_median_of_each_slice_of_sends() -> None:
    assert medians_by_slice([1, 2, 3, 10, 20, 30, 100], 3) == [2, 20, 100]
    assert medians_by_slice([5, math.inf, math.inf], 3) == [math.inf], "unseen records count as infinite"


def test_the_profile_counts_every_sample_even_where_a_frame_name_holds_a_line_break(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "run (worker.py:1);fold_complaints (agents.py:84);accept_event (projections/case.py:98) 7\n"
        "run (worker.py:1);odd (\n) (x.py:3) 2\n"
        "run (worker.py:1);select (selectors.py:468) 1\n"
    )

    total, running, inside = summarise(raw)

    assert total == 10
    assert running["our code (events/, projections/, services/)"] == 7 and running["waiting for I/O (selectors)"] == 1
    assert inside["the complaint agent (decode, fold, settle, publish)"] == 7


def test_the_steady_p99_leaves_out_what_the_first_second_of_events_caused() -> None:
    # a stream of 4 events/s: the first second's records were slow, the rest were quick
    worker = latency.Sample([900.0, 800.0, 5.0, 700.0, 6.0, 7.0, 8.0], waited=60, sent=[0, 1, 2, 3, 4, 5, 7])
    loop = latency.Sample([10.0] * 7, waited=60, sent=[0, 1, 2, 3, 4, 5, 7])

    steady = {row.what: row for row in latency.rows(worker, loop, rate=4)}["p99 after the first second"]

    assert worker.after(4) == [6.0, 7.0, 8.0]
    assert steady.value == pytest.approx(percentile([6.0, 7.0, 8.0], 99))
    assert steady.baseline == 10.0


def test_the_fold_figure_as_replay_runs_the_collector_leaves_nothing_frozen() -> None:
    backlog = core.messages(12, T0 + timedelta(days=30))
    rules = load_rulebook(Settings())

    assert replay_fold_per_second(backlog, rules, as_replay=True) > 0
    assert gc.get_freeze_count() == 0, "everything frozen for the run is under collection again"
    assert replay_fold_per_second(backlog, rules) > 0


def test_the_task_clock_gives_cpu_per_event_between_the_chosen_counts_largest_first() -> None:
    totals = [
        {"events": 0, "main": 1.0, "spent": {"task:a": [0.5, 10]}},
        {"events": 1000, "main": 2.0, "spent": {"task:a": [1.0, 20], "b": [0.1, 5]}},
        {"events": 3000, "main": 3.0, "spent": {"task:a": [1.2, 30], "b": [0.9, 405]}},
        {"events": 5000, "main": 9.0, "spent": {"task:a": [9.0, 90], "b": [9.0, 900]}},
    ]

    events, main_thread, rows = per_event(totals, first=500, last=4000)

    assert events == 2000 and main_thread == pytest.approx(500.0)
    assert [name for name, _, _ in rows] == ["b", "task:a"]
    assert rows[0][1] == pytest.approx(400.0) and rows[0][2] == pytest.approx(0.2)
    assert rows[1][1] == pytest.approx(100.0) and rows[1][2] == pytest.approx(0.005)


def test_the_task_clock_refuses_a_window_without_events() -> None:
    totals = [{"events": 10, "main": 1.0, "spent": {}}, {"events": 10, "main": 2.0, "spent": {}}]

    with pytest.raises(RuntimeError, match="longer backlog"):
        per_event(totals, first=0, last=10)


def test_the_task_clock_counts_each_step_under_what_it_runs() -> None:
    async def awaited() -> None:
        await asyncio.sleep(0)

    async def _execute_task() -> None:  # named as mode's wrapper of a service's task
        await awaited()

    def callback(value: int) -> None:
        ran.append(value)

    ran: list[int] = []
    task_clock.spent.clear()
    loop = asyncio.new_event_loop()
    asyncio.events.Handle._run = task_clock._timed_run  # type: ignore[method-assign,assignment]
    try:
        loop.call_soon(functools.partial(callback, 7))
        loop.run_until_complete(_execute_task())
    finally:
        asyncio.events.Handle._run = task_clock._run  # type: ignore[method-assign,assignment]
        loop.close()

    wrapper, plain = "task:" + _execute_task.__qualname__, callback.__qualname__
    assert ran == [7] and task_clock.spent[plain][1] == 1
    assert task_clock.spent[wrapper + ">" + awaited.__qualname__][1] == 1, "the step that left it awaiting"
    assert task_clock.spent[wrapper][1] == 1, "its last step, after which it awaits nothing"
    assert all(seconds >= 0 for seconds, _ in task_clock.spent.values())


@pytest.mark.parametrize("workload", instructions.WORKLOADS)
def test_each_instruction_count_workload_does_its_steps(workload: str) -> None:
    """`benchmarks.instructions` runs under valgrind, which CI lacks; its workloads run here as
    they would there: replay's and the decode's over every event of the log, the step's and the
    save's once per complaint."""
    steps = instructions.run(workload, 20, 1)

    events = len(streams.encode(streams.history(7, 20, instructions.NOW)))
    assert steps == (20 if workload.endswith("step") or workload == "save" else events)
