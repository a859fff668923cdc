"""What `complaintflow replay` loads before it reads a record: the plain aiokafka path, not the worker's.

Faust (and aiohttp and mode under it) was a quarter of a second of every replay's start-up, pulled
in by modules the replay path shares with the worker; benchmarks/replay_split.py measures it. The
check runs in a fresh interpreter, since this test session has imported Faust long before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
WORKER_ONLY = ("faust", "mode", "aiohttp")


def loaded_after(*modules: str) -> set[str]:
    """Top-level packages in sys.modules of a fresh interpreter after importing `modules`."""
    script = f"import sys\nimport {', '.join(modules)}\nprint(__import__('json').dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=True)
    return {name.split(".")[0] for name in orjson.loads(done.stdout)}


def test_the_replay_path_imports_no_faust_web_server_or_service_framework() -> None:
    loaded = loaded_after("services.cli", "services.replay", "services.history", "services.render")

    assert "aiokafka" in loaded and "events" in loaded, "the check sees what the path does import"
    assert loaded.isdisjoint(WORKER_ONLY), sorted(loaded & set(WORKER_ONLY))


def test_the_worker_side_still_gets_faust_where_it_needs_it() -> None:
    assert "faust" in loaded_after("services.recovery"), "the table-recovery hook patches Faust itself"
