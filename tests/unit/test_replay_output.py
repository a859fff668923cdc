"""What `replay` prints: byte-identical for the same log and --as-of, in every format, whatever
order the partitions were read in; filters; the timeline; the progress bar only on a terminal."""

from __future__ import annotations

import csv
import io
import re

import orjson
import pytest

from projections.history import LoggedEvent
from services.cli import main
from services.progress import Progress, line
from services.render import Format, write_projections, write_timeline
from tests.unit.test_replay import DAY, logged, replay
from tests.wire import T0, assigned, minutes, paid, received, ruled

AS_OF = T0 + 2.5 * DAY
FORMATS: tuple[Format, ...] = ("table", "json", "csv")


def two_partitions() -> tuple[list[LoggedEvent], list[LoggedEvent]]:
    first = logged(
        received("C-2", department="服装部", amount="300.00"),
        assigned("C-2", "服装部", "h-3", at=T0 + minutes(4)),
        ruled("C-2", amount="300.00", at=T0 + minutes(30)),
        paid("C-2", amount="300.00", at=T0 + minutes(40)),
        partition=0,
    )
    second = logged(
        received("C-1", amount="3000.00"),
        assigned("C-1", "客服中心", "h-7", at=T0 + minutes(10)),
        assigned("C-1", "物业部", "h-8", at=T0 + DAY),
        partition=1,
    )
    return first, second


def everything() -> list[LoggedEvent]:
    first, second = two_partitions()
    return first + second


def printed(entries: list[LoggedEvent], form: Format, department: str | None = None) -> str:
    out = io.StringIO()
    write_projections(out, replay(entries, AS_OF), AS_OF, department, form)
    return out.getvalue()


@pytest.mark.parametrize("form", FORMATS)
def test_the_same_log_and_as_of_print_the_same_bytes_whatever_the_partition_interleaving(form: Format) -> None:
    first, second = two_partitions()
    interleaved = [entry for pair in zip(second, first, strict=False) for entry in pair] + first[len(second) :]

    assert printed(first + second, form) == printed(second + first, form) == printed(interleaved, form)


def test_json_is_one_document_sorted_by_complaint_and_department() -> None:
    document = orjson.loads(printed(everything(), "json"))

    assert document["as_of"] == AS_OF.isoformat()
    assert [record["complaint_id"] for record in document["complaints"]] == ["C-1", "C-2"]
    assert [record["department"] for record in document["workload"]] == sorted(
        record["department"] for record in document["workload"]
    )
    assert {record["evaluated_at"] for record in document["complaints"] + document["workload"]} == {AS_OF.isoformat()}


def test_csv_has_a_complaints_section_and_a_workload_section() -> None:
    complaints, workload = printed(everything(), "csv").split("\n\n")

    rows = list(csv.DictReader(io.StringIO(complaints)))
    assert [row["complaint_id"] for row in rows] == ["C-1", "C-2"]
    assert orjson.loads(rows[0]["clocks"])[0]["name"] == "assignment", "nested values are JSON"
    assert next(csv.reader(io.StringIO(workload)))[:3] == ["department", "open", "owned"]


def test_a_department_filter_keeps_what_it_handles_or_owns_and_its_workload() -> None:
    document = orjson.loads(printed(everything(), "json", department="客服中心"))

    assert [record["complaint_id"] for record in document["complaints"]] == ["C-1"], "owned, handled by 物业部"
    assert [record["department"] for record in document["workload"]] == ["客服中心"]


def test_table_columns_line_up_with_chinese_department_names() -> None:
    table = printed(everything(), "table").split("\n\n")[1].splitlines()

    header, rows = table[1], table[2:]
    assert any(row.startswith("物业部") for row in rows)
    for row in rows:
        department, count = re.split(r"\s{2,}", row)[:2]
        assert _display_width(row[: row.index(count, len(department))]) == header.index("OPEN"), table


def _display_width(text: str) -> int:
    return sum(2 if "\u4e00" <= char <= "\u9fff" else 1 for char in text)


def test_the_timeline_shows_each_event_what_it_changed_the_clocks_and_the_alerts() -> None:
    history = replay(two_partitions()[1], AS_OF, watch="C-1")
    out = io.StringIO()

    write_timeline(out, history, "C-1", AS_OF, "json")

    document = orjson.loads(out.getvalue())
    steps = document["timeline"]
    assert [step["event_type"] for step in steps if step["step"] == "event"] == ["received", "assigned", "assigned"]
    moved = [step for step in steps if step["event_type"] == "assigned"][-1]
    assert moved["changes"]["department"] == ["客服中心", "物业部"]
    assert moved["changes"]["department_changes"] == [0, 1]
    assert {clock["name"] for clock in moved["clocks"]} >= {"resolution", "ruling"}
    assert document["complaint"]["department"] == "物业部"
    at_risk = [s for s in steps if "C-1:resolution:at_risk:0" in s["alerts_raised"]]
    assert len(at_risk) == 1 and at_risk[0]["step"] == "sla"
    assert at_risk[0]["settled_at"] == (T0 + 2.4 * DAY).isoformat(), "80 % of the 3-day budget"


def test_the_timeline_table_reads_as_a_story() -> None:
    history = replay(two_partitions()[1], AS_OF, watch="C-1")
    out = io.StringIO()

    write_timeline(out, history, "C-1", AS_OF, "table")

    text = out.getvalue()
    assert text.startswith(f"complaint C-1 as of {AS_OF.isoformat()}: assigned, 物业部 (handler h-8)")
    assert "changed  department 客服中心 → 物业部; handler h-7 → h-8; department_changes 0 → 1" in text
    assert "SLA wake-up" in text and "raised   C-1:resolution:at_risk:0" in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    ticks = iter(range(100))
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(stream, "replay", 4, clock=lambda: float(next(ticks)))
        for _ in range(4):
            progress.advance()
        progress.close()

    assert pipe.getvalue() == ""
    assert terminal.getvalue().startswith("\rreplay [")
    assert re.search(r"\] 4/4 events 100%  \d+ events/s\n$", terminal.getvalue())


def test_a_progress_line_says_how_far_and_how_fast() -> None:
    assert line("replay", 1_234, 5_000, 0.5) == (
        "replay [#######.......................] 1,234/5,000 events  25%  2,468 events/s"
    )


def test_an_as_of_without_an_offset_is_refused_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--as-of", "2026-11-24T12:00"])

    assert exit_info.value.code == 2
    assert "has no offset: write it as e.g. 2026-11-24T12:00:00+08:00" in capsys.readouterr().err
