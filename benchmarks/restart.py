"""`python -m benchmarks.restart`: figure 6 on its own, for measuring a change to recovery.

One fresh embedded broker; a worker loads `--complaints` open complaints and is stopped; the
changelogs are read with a plain consumer (the baseline); then, `--rounds` times, the worker is
restarted and timed until a complaint received after the restart has its state record. Each round
prints, from the worker's log, when the restarted worker had joined (Faust's first recovery line),
had read its changelogs, and had every complaint held watched by the SLA timer and counted in
its shares (the recovery walk, which runs while the agents work), and the slowest answer of
`/healthz?check=live` polled throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from datetime import UTC, datetime

import aiohttp

from benchmarks import recovery, streams
from benchmarks.harness import LOGS, Worker, deployment, publish, settled, wait_committed
from services.broker import EmbeddedBroker, free_port

PHASES = {
    "recovering": "Highwater for active changelog partitions",
    "restored": "Recovery complete",
    "watched": recovery.WATCHED,
}
"""What each phase of a restart ends with in the worker's log (Faust's lines and ours)."""


async def phases(worker: Worker) -> dict[str, float]:
    """Seconds from the restart to each of `PHASES`."""
    return {name: await worker.logged(text) - worker.started_at for name, text in PHASES.items()}


async def slowest_liveness_answer(worker: Worker, every: float = 0.05) -> float:
    """Poll `/healthz?check=live` (what the manifests' liveness probe asks) until cancelled; return
    the slowest answer's seconds, counting from when the web server first answered."""
    slowest = 0.0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                asked = time.monotonic()
                try:
                    async with session.get(f"http://127.0.0.1:{worker.web_port}/healthz?check=live") as answer:
                        await answer.read()
                    slowest = max(slowest, time.monotonic() - asked)
                except aiohttp.ClientConnectionError:
                    pass  # not listening yet
                await asyncio.sleep(every)
    return slowest


async def run(complaints: int, rounds: int) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    opened = streams.encode(streams.open_complaints(21, complaints, datetime.now(UTC)))
    with EmbeddedBroker(free_port(), log_path=LOGS / "tansu-restart.log") as broker:
        settings = await deployment(broker.bootstrap_servers, "restart")
        with Worker(settings, LOGS / "worker-restart.log", LOGS / "data-restart") as worker:
            worker.start()
            await worker.logged(recovery.READY)
            await wait_committed(settings, settings.app_id, await publish(settings, opened), worker)
            await settled(worker)
            worker.stop()
            records, read = await recovery.changelog_read(settings)
            print(f"baseline: {records:,} changelog records read by aiokafka in {read:.2f} s", flush=True)
            for n in range(1, rounds + 1):
                probe = streams.open_complaints(100 + n, 1, datetime.now(UTC))[0]
                restarted = recovery.restart_until_caught_up(worker, settings, probe)
                polling = asyncio.ensure_future(slowest_liveness_answer(worker))
                caught_up, ready = await restarted
                at = await phases(worker)
                polling.cancel()
                slowest = await polling
                print(
                    f"round {n}: caught up {caught_up:.1f} s after the restart (ready {ready:.1f}); joined at "
                    f"{at['recovering']:.1f}, changelogs read by {at['restored']:.1f}, "
                    f"every complaint watched by {at['watched']:.1f}; slowest liveness answer {slowest * 1000:,.0f} ms",
                    flush=True,
                )
                await settled(worker)
                worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.restart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=10_000, help="10,000 is bench-quick's size, 100,000 the full")
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.complaints, arguments.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
