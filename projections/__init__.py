"""Pure, deterministic folds of complaint events into read models. No Faust, no I/O, no clock.

The modules the fold runs event after event may be compiled with mypyc when the project is
installed (setup.py): the same sources, as C extensions, beside them. Python imports an extension
before its source, so importing this package first checks that each extension was compiled from
the source beside it (`compiled.json` holds their digests, written by the build), and refuses to
run an older one: a change to a compiled module takes effect only once it is compiled again. That
check, reading this package's own files once at import, is the only I/O here; the folds do none.
"""

from __future__ import annotations

import hashlib
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path


class StaleExtension(ImportError):
    """A compiled module older than its source: compile again, or delete the extension."""


def stale_extensions(directory: Path) -> list[str]:
    """The modules of `directory` whose extension was not compiled from the source beside it (an
    extension with no source beside it shadows nothing)."""
    compiled = {path.name.split(".")[0] for suffix in EXTENSION_SUFFIXES for path in directory.glob(f"*{suffix}")}
    sources = {name: directory / f"{name}.py" for name in compiled if (directory / f"{name}.py").exists()}
    if not sources:
        return []
    record = directory / "compiled.json"
    digests: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    return sorted(
        name for name, source in sources.items() if digests.get(name) != hashlib.sha256(source.read_bytes()).hexdigest()
    )


_STALE = stale_extensions(Path(__file__).parent)
if _STALE:
    raise StaleExtension(
        f"projections: {', '.join(f'{name}.py' for name in _STALE)} changed since it was compiled; "
        "run `make install` to compile it again, or delete projections/*.so to run it as Python"
    )
