"""The faust-streaming version the guarded patches in services/ were written against.

Each patch (services/commits.py, delivery.py, fetching.py, handoff.py, recovery.py, yielding.py)
replaces or wraps Faust code it has read, and pyproject.toml pins that version. An upgrade must
re-read each before the pin moves, so every patch refuses to install on any other version and
says what to re-read; its test also fails when the code it replaces changes.
"""

from __future__ import annotations

import faust

from events.errors import ConfigurationError

FAUST_VERSION = "0.15.3"


def require_faust(patch: str, recheck: str) -> None:
    """Raise `ConfigurationError` unless faust-streaming is `FAUST_VERSION`; `patch` says what the
    module does to Faust ("services/handoff.py replaces ..."), `recheck` what to re-read first."""
    if faust.__version__ != FAUST_VERSION:
        raise ConfigurationError(
            f"{patch} in faust-streaming {FAUST_VERSION}, found {faust.__version__}: re-check {recheck} before "
            "changing the pin"
        )
