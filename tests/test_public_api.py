"""The public surface: a sorted, importable `__all__`, and the library never imports the service."""

from __future__ import annotations

import ast
from pathlib import Path

import finder

PACKAGE = Path(finder.__file__).parent


def test_all_is_sorted_and_every_name_resolves():
    assert finder.__all__ == sorted(finder.__all__)
    for name in finder.__all__:
        assert getattr(finder, name) is not None
    assert set(finder.__all__) == set(finder._EXPORTS)


def test_library_modules_never_import_the_service():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        offenders = {name for name in imported if name == "service" or name.startswith("service.")}
        # No exception: the CLI finds the service's commands through the `finder.commands`
        # entry points, so no module of the library names it (import-linter checks it too).
        assert not offenders, f"{path.relative_to(PACKAGE)} imports {offenders}"
