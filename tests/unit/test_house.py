"""The house rules of docs/design.md that lint-imports does not check.

lint-imports (`make lint`, contracts in .importlinter) checks the layers and that no modules
or packages import each other in a cycle. This checks the rest: every package says what
lives in it and what it may import, importing a package imports none of its modules, and a
module grows past about 400 lines only with its reason stated at its top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "okta_risk_output"

MAX_LINES = 420
"""About 400 lines: the house's bound, with a little slack so one more comment is no event."""
LONG_MARK = "Longer than 400 lines:"
"""How a module over the bound states why, in its docstring."""

FACADES = {"okta_risk_output.intake.profiles", "okta_risk_output.emulator"}
"""Packages whose __init__ is their documented public API and so imports its modules."""


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PACKAGES = sorted(PACKAGE.rglob("__init__.py"))
MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("init", PACKAGES, ids=_name)
def test_each_package_says_what_lives_there_and_what_it_may_import(init: Path) -> None:
    if init.parent == PACKAGE:
        return  # the root holds the version only; the kernel modules beside it are leaves
    docstring = ast.get_docstring(ast.parse(init.read_text("utf-8"))) or ""
    assert docstring, f"{_name(init)} has no docstring"
    assert "may import" in docstring.lower(), f"{_name(init)} does not say what it may import"


@pytest.mark.parametrize("init", PACKAGES, ids=_name)
def test_importing_a_package_imports_none_of_its_modules(init: Path) -> None:
    if _name(init) in FACADES:
        return
    tree = ast.parse(init.read_text("utf-8"))
    imports = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    assert not imports, f"{_name(init)}/__init__.py imports at line {imports[0].lineno}"


@pytest.mark.parametrize("module", MODULES, ids=_name)
def test_a_long_module_says_why_at_its_top(module: Path) -> None:
    text = module.read_text("utf-8")
    lines = text.count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert LONG_MARK in docstring, (
        f"{_name(module)} has {lines} lines; split it by concern, or say why it is one piece "
        f"in its docstring ({LONG_MARK} ...)"
    )
