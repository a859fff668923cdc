"""Pins on the upstream code the project stands in for or wraps (services/delivery.py, fetching.py,
output.py): a library upgrade that changes such a method fails its test, to be re-read by hand."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any


def source_hash(method: Callable[..., Any]) -> str:
    """sha256 of the method's source as installed."""
    return hashlib.sha256(inspect.getsource(method).encode()).hexdigest()
