"""Pure, deterministic folds of complaint events into read models. No Faust, no I/O, no clock.

The modules the fold runs event after event may be compiled with mypyc when the project is
installed (setup.py): the same sources, as C extensions, beside them. Importing this package first
checks that each extension was compiled from the source beside it (`events.extensions`), and
refuses to run an older one. That check, reading this package's own files once at import, is the
only I/O here; the folds do none.
"""

from __future__ import annotations

from pathlib import Path

from events.extensions import refuse_stale

refuse_stale("projections", Path(__file__).parent)
