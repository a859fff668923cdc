"""The modules every event goes through, compiled to C extensions with mypyc when the project is
installed.

The pure core is typed throughout; mypyc compiles its hot modules from the same sources, which
stay the reference: the compiled modules behave as they do, and are faster. In projections/: the
state machine, the clocks, the SLA judgement, the case's two steps, the records' copy, the
triggers' conditions, the workload's tallies, the table's writer, replay's fold of the log and
the cache of what it works out from the policies (docs/performance.md, "Reading
the table without pydantic, and the core compiled", "The settle and the clock step compiled
through", "Fewer turns of the event loop, and the workload's tallies compiled", "The table's
writer compiled" and "Replay's fold compiled"). In events/: the wire's field
validators, which pydantic calls for every timestamp and amount it decodes, and the codec, whose
instants every state record writes ("The wire's validators and codec compiled"). Everything else
is Python.

`COMPLAINTFLOW_COMPILE=0` installs them as Python too (no C compiler needed). Each package's
`compiled.json` holds the digest of each of its sources compiled, and importing the package refuses
an extension whose source has changed since (events/extensions.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
COMPILED = [
    "projections.complaint",
    "projections.clocks",
    "projections.sla",
    "projections.case",
    "projections.evolve",
    "projections.triggers",
    "projections.tally",
    "projections.case_codec",
    "projections.history",
    "projections.derived",
    "events.types",
    "events.codec",
]
"""The modules compiled: what decoding, the fold, the settle, the state record and the worker's
count of its shares run, event after event, the table's writer, at every case saved, and the
fold of the log that replay, verify and export run over every event of it."""
PACKAGES = sorted({module.split(".")[0] for module in COMPILED})


def compiled_extensions() -> list[object]:
    if os.environ.get("COMPLAINTFLOW_COMPILE", "1") == "0":
        for package in PACKAGES:
            (ROOT / package / "compiled.json").unlink(missing_ok=True)
        return []
    from mypyc.build import mypycify

    sources = {module: module.replace(".", "/") + ".py" for module in COMPILED}
    extensions: list[object] = mypycify(list(sources.values()), opt_level="3")
    # The digests only once mypyc has accepted the sources: a refused build leaves the old ones,
    # so the extensions it did not replace are still refused as stale.
    for package in PACKAGES:
        digests = {
            module.split(".")[1]: hashlib.sha256((ROOT / source).read_bytes()).hexdigest()
            for module, source in sources.items()
            if module.split(".")[0] == package
        }
        (ROOT / package / "compiled.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    return extensions


setup(ext_modules=compiled_extensions())
