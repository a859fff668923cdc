"""The check that a compiled module was compiled from the source beside it.

Installing compiles the modules every event goes through (setup.py, mypyc): the wire's field
validators and codec here in `events`, the fold's modules in `projections`. Python imports an
extension before its source, so each of the two packages, when first imported, runs
`refuse_stale` over its own directory: `compiled.json` (written by the build) holds the digest of
each source compiled, and an extension whose source has changed since is refused. A change to a
compiled module takes effect only once it is compiled again. The check lives here, in the lowest
package, because the wire contract imports nothing of the folds.
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


def refuse_stale(package: str, directory: Path) -> None:
    """Raise `StaleExtension` if any module of `package` (in `directory`) runs an older compilation."""
    stale = stale_extensions(directory)
    if stale:
        raise StaleExtension(
            f"{package}: {', '.join(f'{name}.py' for name in stale)} changed since it was compiled; "
            f"run `make install` to compile it again, or delete {package}/*.so to run it as Python"
        )
