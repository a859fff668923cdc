"""`python -m benchmarks.replay_split [--complaints N]`: where `complaintflow replay`'s time goes.

Figure 4 times replay from process start to exit; this splits that time, on a fresh embedded
broker with the benchmark's history pre-loaded (the same events as `make bench`'s figures 1 and
4: bench-quick's 2,000 complaints by default, `--complaints 20000` for the full size):

- processes: the bare interpreter, `import services.replay`, a replay of an empty topic (start-up:
  imports, settings, consumer start, metadata, end-offset verification) and the full replay;
- in this process, phase by phase, each phase cumulative over the one before: opening the log
  (consumer start, metadata, ends verified), fetching every record, decoding it, folding it
  without settling, folding with settling (what replay does), and rendering the JSON output.

Each in-process phase is run `--repeat` times and the best is kept (the cores are shared). Then
figure 4's rows, measured by the benchmark's own functions (benchmarks/replay.py), once. Nothing
here is asserted: it prints tables to read, as docs/performance.md's "Replay" section does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from benchmarks import core, replay
from benchmarks.harness import LOGS, ROOT, deployment, publish
from benchmarks.report import format_table
from events.codec import decode_keyed_event
from events.errors import Rejection
from projections.history import History, Horizon, Horizons
from services.broker import EmbeddedBroker, free_port
from services.progress import Progress
from services.replay import KafkaLog, ReplayRequest, fold_log, run_replay
from services.rules import load_rulebook
from services.settings import Settings


def _process_seconds(arguments: list[str], settings: Settings | None = None, repeat: int = 3) -> tuple[float, float]:
    """Best (wall, CPU) seconds of `python <arguments>` over `repeat` runs, stdout to /dev/null."""
    env = dict(os.environ)
    if settings is not None:
        env |= {
            "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "COMPLAINTFLOW_TOPIC_PREFIX": settings.topic_prefix,
            "COMPLAINTFLOW_APP_ID": settings.app_id,
        }
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        started, used = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            [sys.executable, *arguments], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            check=False,
        )  # fmt: skip
        best, cpu = min(best, time.perf_counter() - started), min(cpu, _children_cpu() - used)
        if done.returncode != 0:
            raise RuntimeError(f"{arguments} failed: {done.stderr.decode(errors='replace')[-400:]}")
    return best, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _best(phase: Callable[[], Awaitable[None]], repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds of `phase` over `repeat` runs: on shared cores the CPU time of this
    process is the steadier figure (the broker's share of the wall time is not in it)."""
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        await phase()
        best, cpu = min(best, time.perf_counter() - started), min(cpu, time.process_time() - used)
    return best, cpu


async def phases(settings: Settings, repeat: int) -> dict[str, tuple[float, float]]:
    """Seconds of each cumulative in-process phase of a replay as of now."""
    rules, as_of = load_rulebook(settings), datetime.now(UTC)
    quiet = io.StringIO()

    async def opened() -> None:
        async with KafkaLog(settings):
            pass

    async def fetched() -> None:
        async with KafkaLog(settings) as log:
            async for _ in log.events():
                pass

    async def decoded() -> None:
        async with KafkaLog(settings) as log:
            async for entry in log.events():
                with contextlib.suppress(Rejection):
                    decode_keyed_event(entry.key, entry.value)

    def history(settle: bool) -> History:
        return History(rules, Horizons(Horizon(as_of, occurred_by=as_of)), settle=settle)

    async def folded(settle: bool) -> None:
        async with KafkaLog(settings) as log:
            await fold_log(log, history(settle), Progress(quiet, "replay", log.total))

    async def replayed() -> None:
        await run_replay(settings, ReplayRequest(as_of=as_of, format="json"), io.StringIO(), quiet)

    return {
        "open the log (consumer start, metadata, ends verified)": await _best(opened, repeat),
        "+ fetch every record": await _best(fetched, repeat),
        "+ decode": await _best(decoded, repeat),
        "+ fold, no settling": await _best(lambda: folded(False), repeat),
        "+ settle at each event and due instant (replay's fold)": await _best(lambda: folded(True), repeat),
        "+ final settle and JSON output (the whole replay)": await _best(replayed, repeat),
    }


async def main(complaints: int, repeat: int) -> None:
    now = datetime.now(UTC)
    messages = core.messages(complaints, now)
    rules = load_rulebook(Settings())
    LOGS.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-replay-split.log") as broker:
        loaded = await deployment(broker.bootstrap_servers, "split")
        empty = await deployment(broker.bootstrap_servers, "split-empty")
        count = sum((await publish(loaded, messages)).values())
        command = ["-m", "services.cli", "replay", "--format", "json"]
        processes = {
            "python -c pass": _process_seconds(["-c", "pass"], repeat=repeat),
            "python -c 'import services.replay'": _process_seconds(["-c", "import services.replay"], repeat=repeat),
            "replay of an empty topic (start-up)": _process_seconds(command, empty, repeat),
            f"replay of {count:,} events (process start to exit)": _process_seconds(command, loaded, repeat),
        }
        inside = await phases(loaded, repeat)
        _, raw = await replay.read_and_decode_per_second(loaded)
        figure = replay.rows(
            replay.replay_seconds(loaded, empty),
            raw,
            await replay.history_per_second(messages, rules),
            replay.fold_per_second(messages, rules),
            replay.fold_per_second(messages, rules, as_replay=True),
            count,
        )
    print(f"{count:,} events of {complaints:,} complaints; best of {repeat} runs; seconds\n")
    print(f"{'processes':<62}{'wall':>7} {'CPU':>7}")
    for what, (wall, cpu) in processes.items():
        print(f"  {what:<60}{wall:7.3f} {cpu:7.3f}")
    start_up = processes["replay of an empty topic (start-up)"][0]
    whole = processes[f"replay of {count:,} events (process start to exit)"][0]
    print(f"  {'events/s, process start to exit':<60}{count / whole:7,.0f}")
    print(f"  {'events/s excluding start-up':<60}{count / max(whole - start_up, 1e-9):7,.0f}")
    print(f"\n{'in this process, cumulative':<62}{'wall':>7} {'CPU':>7} {'CPU added':>9}")
    before = 0.0
    for what, (wall, cpu) in inside.items():
        print(f"  {what:<60}{wall:7.3f} {cpu:7.3f} {cpu - before:+9.3f}")
        before = cpu
    print(f"\nfigure 4 as the benchmark measures it (one run)\n{format_table(figure)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_split", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=2_000, help="history size (bench-quick: 2,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is kept")
    options = parser.parse_args()
    asyncio.run(main(options.complaints, options.repeat))
