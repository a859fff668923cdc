"""`python -m benchmarks [--quick]`: every figure next to its baseline; prints the table and writes
BENCHMARKS.md (what `make bench` and `make bench-quick` run)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import LOGS, ROOT
from benchmarks.machine import machine, versions
from benchmarks.report import Row, format_table, render_markdown
from benchmarks.runner import FULL, QUICK, Sizes, run


async def _stoppable(sizes: Sizes) -> tuple[list[Row], list[str], dict[str, object]]:
    """`run`, cancelled on SIGTERM so every broker and worker it started is stopped on the way out."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size, for development")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="where to write the report")
    arguments = parser.parse_args()
    mode, sizes = ("quick", QUICK) if arguments.quick else ("full", FULL)
    where = machine()
    started = datetime.now(UTC)
    try:
        rows, notes, shown = asyncio.run(_stoppable(sizes))
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 143
    where["load average at end"] = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    logs = LOGS.relative_to(ROOT)
    notes.append(f"The run took {minutes:.1f} minutes; the logs of the broker, workers and loops are in {logs}/.")
    print(format_table(rows))
    date = started.strftime("%Y-%m-%d %H:%M UTC")
    report = render_markdown(rows, date=date, mode=mode, sizes=shown, machine=where, versions=versions(), notes=notes)
    arguments.output.write_text(report, encoding="utf-8")
    print(f"\nwritten to {arguments.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
