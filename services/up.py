"""`complaintflow up`: everything a newcomer needs, on one machine, stopped by one Ctrl-C.

Starts the embedded Tansu broker (unless KAFKA_BOOTSTRAP_SERVERS points at a cluster), creates the
topics, starts one worker in a child process, feeds a seeded demo stream, says where to look (the
dashboard's address and, unless tokens are configured, tokens made for this run), and on Ctrl-C
stops the worker first and the broker last.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from services.admin import ensure_topics
from services.broker import EmbeddedBroker, stop_process
from services.clients import send_events
from services.settings import Settings
from services.simulate import simulate


def run_up(settings: Settings, *, complaints: int, rate: float, seed: int) -> int:
    _stop_on_signals()
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(settings.embedded_broker_port, log_path=data_dir / "tansu.log")
    worker: subprocess.Popen[bytes] | None = None
    try:
        if settings.uses_embedded_broker:
            broker.start()
            _say(f"embedded Tansu broker on {broker.bootstrap_servers} (in memory: nothing survives a restart)")
        else:
            _say(f"using the Kafka cluster at {settings.bootstrap_servers}")
        for status in asyncio.run(ensure_topics(settings)):
            _say(f"topic {status.name}: {'created' if status.created else 'exists'}, {status.partitions} partitions")
        worker_env, tokens = _with_demo_tokens(settings)
        worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=worker_env)
        _say(f"worker started (pid {worker.pid}); feeding {complaints} demo complaints at {rate:g} events/s")
        now = datetime.now().astimezone().replace(microsecond=0)
        past, upcoming = _split_at(now, simulate(seed, complaints, now - timedelta(days=2)))
        sent = asyncio.run(send_events(settings, past, rate=rate))
        _say(f"sent the {sent} events of the last two days; {len(upcoming)} more are published as their time comes")
        _say("Where to look:")
        _say(f"    dashboard  http://{settings.web_host}:{settings.web_port}/  ({tokens.dashboard})")
        _say(f"    HTTP API   docs/api.md; channels publish with POST /events ({tokens.channels})")
        for topic in ("complaints.state", "complaints.workload", "complaints.alerts", "complaints.rejected"):
            _say(f"    complaintflow tail {topic}")
        _say("Ctrl-C stops the worker and the broker.")
        asyncio.run(_publish_when_due(settings, upcoming, worker))
        return worker.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_process(worker, grace_seconds=20)
        broker.stop()
        _say("stopped")


def _split_at(now: datetime, events: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo's events up to `now`, and those it dates later: publishing those now would be
    rejected as from the future, so they wait for their time, as a channel's would."""
    past: list[dict[str, Any]] = []
    upcoming: list[dict[str, Any]] = []
    for event in events:
        (past if datetime.fromisoformat(event["occurred_at"]) <= now else upcoming).append(event)
    return past, upcoming


async def _publish_when_due(
    settings: Settings, upcoming: list[dict[str, Any]], worker: subprocess.Popen[bytes]
) -> None:
    """Publish each event at its `occurred_at` (one producer for them all), for as long as the worker runs."""
    publishing = asyncio.create_task(send_events(settings, upcoming, on_time=True))
    while not publishing.done() and worker.poll() is None:
        await asyncio.wait({publishing}, timeout=1.0)
    if publishing.done():
        publishing.result()  # a failure to publish is reported, not swallowed
    else:
        publishing.cancel()


class DemoTokens(NamedTuple):
    dashboard: str
    channels: str


def _with_demo_tokens(settings: Settings) -> tuple[dict[str, str], DemoTokens]:
    """The worker's environment: where no tokens are configured, fresh ones for this run only, printed
    for the person at the keyboard (configured tokens are never printed)."""
    env = dict(os.environ)
    if settings.dashboard_tokens:
        dashboard = "sign in with a token from COMPLAINTFLOW_DASHBOARD_TOKENS"
    else:
        token = secrets.token_urlsafe(18)
        env["COMPLAINTFLOW_DASHBOARD_TOKENS"] = json.dumps([token])
        dashboard = f"dashboard token for this run: {token}"
    if settings.channel_tokens:
        channels = "tokens from COMPLAINTFLOW_CHANNEL_TOKENS"
    else:
        token = secrets.token_urlsafe(18)
        env["COMPLAINTFLOW_CHANNEL_TOKENS"] = json.dumps({"web": token})
        channels = f"channel 'web' token for this run: {token}"
    return env, DemoTokens(dashboard, channels)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both mean "stop everything cleanly", even when the shell that started us
    marked SIGINT as ignored (as non-interactive shells do for background jobs)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _say(line: str) -> None:
    print(f"[complaintflow] {line}", flush=True)
