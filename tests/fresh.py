"""Scripts run in a fresh interpreter: for what a test session's own process can no longer show
(what a module imports, what a process does to its garbage collector, a hash across processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(script: str) -> str:
    """What `script` prints, run by this Python in a new process with the repository importable;
    a script that fails fails the test."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout
