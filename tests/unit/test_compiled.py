"""The modules compiled with mypyc (setup.py): the suite runs them compiled wherever the project
was installed so, and an extension older than its source is refused (events/extensions.py)."""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from events.extensions import StaleExtension, refuse_stale, stale_extensions

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = EXTENSION_SUFFIXES[0]


def compiled_modules() -> list[str]:
    """setup.py's `COMPILED`, read without running setup.py."""
    for node in ast.parse((ROOT / "setup.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(target, ast.Name) and target.id == "COMPILED" for target in targets):
                assert node.value is not None
                modules: list[str] = ast.literal_eval(node.value)
                return modules
    raise AssertionError("setup.py names no COMPILED modules")


@pytest.mark.skipif(os.environ.get("COMPLAINTFLOW_COMPILE") == "0", reason="installed as Python")
@pytest.mark.parametrize("name", compiled_modules())
def test_the_hot_modules_run_compiled_where_the_project_was_installed_so(name: str) -> None:
    module = importlib.import_module(name)

    assert module.__file__ is not None and module.__file__.endswith(tuple(EXTENSION_SUFFIXES)), module.__file__


def compiled_from(directory: Path, sources: dict[str, bytes]) -> None:
    """Sources, an extension of each (its bytes do not matter here) and the digests a build records."""
    for name, source in sources.items():
        (directory / f"{name}.py").write_bytes(source)
        (directory / f"{name}{SUFFIX}").write_bytes(b"\x7fELF")
    digests = {name: hashlib.sha256(source).hexdigest() for name, source in sources.items()}
    (directory / "compiled.json").write_text(json.dumps(digests))


def test_extensions_compiled_from_their_sources_are_current(tmp_path: Path) -> None:
    compiled_from(tmp_path, {"clocks": b"def track(): ...\n", "sla": b"def judge(): ...\n"})

    assert stale_extensions(tmp_path) == []


def test_an_extension_whose_source_changed_since_is_stale(tmp_path: Path) -> None:
    compiled_from(tmp_path, {"clocks": b"def track(): ...\n", "sla": b"def judge(): ...\n"})
    (tmp_path / "sla.py").write_bytes(b"def judge(): return 1\n")

    assert stale_extensions(tmp_path) == ["sla"]


def test_an_extension_no_build_recorded_is_stale(tmp_path: Path) -> None:
    compiled_from(tmp_path, {"clocks": b"def track(): ...\n"})
    (tmp_path / "sla.py").write_bytes(b"def judge(): ...\n")
    (tmp_path / f"sla{SUFFIX}").write_bytes(b"\x7fELF")

    assert stale_extensions(tmp_path) == ["sla"]


def test_sources_without_extensions_need_no_record(tmp_path: Path) -> None:
    (tmp_path / "clocks.py").write_bytes(b"def track(): ...\n")

    assert stale_extensions(tmp_path) == []


def test_an_extension_without_a_source_beside_it_shadows_nothing(tmp_path: Path) -> None:
    (tmp_path / f"clocks{SUFFIX}").write_bytes(b"\x7fELF")

    assert stale_extensions(tmp_path) == []


def test_a_package_with_a_stale_extension_refuses_to_be_imported_and_says_how_to_mend_it(tmp_path: Path) -> None:
    compiled_from(tmp_path, {"codec": b"def decode(): ...\n"})
    (tmp_path / "codec.py").write_bytes(b"def decode(): return 1\n")

    with pytest.raises(StaleExtension, match=r"events: codec\.py changed since it was compiled; run `make install`"):
        refuse_stale("events", tmp_path)
