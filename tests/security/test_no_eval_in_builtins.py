"""No built-in routine evaluates user strings as code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import routilux.builtin_routines

PACKAGE = Path(routilux.builtin_routines.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
FORBIDDEN = {"eval", "exec", "compile", "__import__", "execfile"}


def calls_of(tree: ast.AST) -> list[str]:
    """Names of the builtins a module calls: ``eval(...)`` or ``builtins.eval(...)``.

    ``re.compile(...)`` and other methods that share a builtin's name are not builtins.
    """
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "builtins"
            ):
                names.append(func.attr)
    return names


def test_the_package_has_modules_to_check() -> None:
    assert len(MODULES) >= 16


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_a_builtin_module_calls_no_eval_exec_or_compile(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    assert FORBIDDEN.isdisjoint(calls_of(tree))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_a_builtin_module_imports_no_code_loading_module(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint({"pickle", "marshal", "importlib", "runpy", "code", "codeop"})


def test_the_check_finds_a_call_to_eval() -> None:
    found = calls_of(ast.parse("x = eval('1') + builtins.exec('y') + re.compile('z')"))
    assert FORBIDDEN.intersection(found) == {"eval", "exec"}
