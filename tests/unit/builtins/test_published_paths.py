"""The published import paths of the eight published built-ins, and lazy loading from routilux."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import routilux
import routilux.builtin_routines as builtins

PUBLISHED = {
    "control_flow": {"conditional_router": "ConditionalRouter"},
    "data_processing": {
        "data_transformer": "DataTransformer",
        "data_validator": "DataValidator",
    },
    "text_processing": {
        "text_clipper": "TextClipper",
        "text_renderer": "TextRenderer",
        "result_extractor": "ResultExtractor",
    },
    "utils": {"time_provider": "TimeProvider", "data_flattener": "DataFlattener"},
}
PATHS = [
    (package, module, name)
    for package, modules in PUBLISHED.items()
    for module, name in modules.items()
]


@pytest.mark.parametrize(("package", "module", "name"), PATHS)
def test_each_published_module_path_gives_our_class(package: str, module: str, name: str) -> None:
    published = importlib.import_module(f"routilux.builtin_routines.{package}.{module}")
    assert getattr(published, name) is getattr(builtins, name)
    assert published.__all__ == [name]


@pytest.mark.parametrize(("package", "module", "name"), PATHS)
def test_each_published_package_exports_its_classes(package: str, module: str, name: str) -> None:
    published = importlib.import_module(f"routilux.builtin_routines.{package}")
    assert getattr(published, name) is getattr(builtins, name)
    assert sorted(published.__all__) == sorted(PUBLISHED[package].values())


@pytest.mark.parametrize("name", sorted(n for *_, n in PATHS))
def test_the_published_builtins_are_importable_from_routilux(name: str) -> None:
    assert getattr(routilux, name) is getattr(builtins, name)
    assert name in routilux.__all__
    assert name in dir(routilux)


def test_routilux_loads_the_builtins_only_on_first_use() -> None:
    code = (
        "import sys, routilux\n"
        "print(any('builtin_routines' in m for m in sys.modules))\n"
        "from routilux import TextClipper\n"
        "print('routilux.builtin_routines.text_clipper' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'routilux' has no attribute 'Nope'"):
        routilux.Nope  # noqa: B018 - the attribute access is the test
