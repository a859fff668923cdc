"""The fold's modules compiled to C extensions with mypyc when the project is installed.

The pure core (projections/) is typed throughout; mypyc compiles its hot modules (the state
machine, the clocks, the SLA judgement, the case's two steps, the records' copy, the triggers'
conditions, the workload's tallies) from the same sources, which stay the reference: the compiled
modules behave as they do, and are faster (docs/performance.md, "Reading the table without
pydantic, and the core compiled", "The settle and the clock step compiled through" and "Fewer
turns of the event loop, and the workload's tallies compiled"). Everything else is Python.

`COMPLAINTFLOW_COMPILE=0` installs the core as Python too (no C compiler needed). Each compiled
module's source digest is written to `projections/compiled.json` beside it, and importing
`projections` refuses an extension whose source has changed since (projections/__init__.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
COMPILED = ["complaint", "clocks", "sla", "case", "evolve", "triggers", "tally"]
"""The modules of projections/ compiled: what the fold, the settle and the worker's count of its
shares run, event after event."""


def compiled_extensions() -> list[object]:
    if os.environ.get("COMPLAINTFLOW_COMPILE", "1") == "0":
        (ROOT / "projections" / "compiled.json").unlink(missing_ok=True)
        return []
    from mypyc.build import mypycify

    sources = {name: f"projections/{name}.py" for name in COMPILED}
    digests = {name: hashlib.sha256((ROOT / source).read_bytes()).hexdigest() for name, source in sources.items()}
    (ROOT / "projections" / "compiled.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    return mypycify(list(sources.values()), opt_level="3")


setup(ext_modules=compiled_extensions())
