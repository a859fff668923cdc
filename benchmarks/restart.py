"""`python -m benchmarks.restart`: figure 6 on its own, for measuring a change to recovery.

One fresh embedded broker; a worker loads `--complaints` open complaints and is stopped; the
changelogs are read with a plain consumer (the baseline); then, `--rounds` times, the worker is
restarted and timed until a complaint received after the restart has its state record. Each round
prints where the restart's time went, from the worker's log: joining (start to Faust's first
recovery line), reading the changelogs, rebuilding the deadline index and shares, and the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from benchmarks import recovery, streams
from benchmarks.harness import LOGS, Worker, deployment, publish, settled, wait_committed
from services.broker import EmbeddedBroker, free_port

PHASES = {
    "recovering": "Highwater for active changelog partitions",
    "restored": "Recovery complete",
    "watched": "SLA timer watches",
}
"""What each phase of a restart ends with in the worker's log (Faust's lines and ours)."""


async def phases(worker: Worker) -> dict[str, float]:
    """Seconds from the restart to each of `PHASES`."""
    return {name: await worker.logged(text) - worker.started_at for name, text in PHASES.items()}


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
                caught_up, ready = await recovery.restart_until_caught_up(worker, settings, probe)
                at = await phases(worker)
                print(
                    f"round {n}: caught up {caught_up:.1f} s (ready {ready:.1f}): joined {at['recovering']:.1f}, "
                    f"changelogs read {at['restored'] - at['recovering']:.1f}, "
                    f"rebuilt {at['watched'] - at['restored']:.1f}, then {caught_up - at['watched']:.1f}",
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
