"""Install instructions never send users to the package index's ``routilux``.

The index's ``routilux`` is another project (the published 1.x, without the
stores, the command or their extras), so every doc, comment and error
message installs this project from a clone, by path.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import routilux
from routilux._install import CLONE_PLACEHOLDER, install_command

ROOT = Path(__file__).resolve().parents[2]
#: ``pip install`` of the project by name (``routilux``, ``"routilux[cli]"``),
#: not by path (``-e "/path/to/routilux[cli]"``, ``".[cli]"``).
INDEX_INSTALL = re.compile(r"""pip3?\s+install\s+(?:-[\w-]+\s+)*["'`]?routilux(?=[\[\s"'`]|$)""")


def _texts() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    pages += sorted((ROOT / "docs").rglob("*.md"))
    pages += sorted(p for p in (ROOT / "examples").rglob("*") if p.suffix in (".py", ".yaml"))
    pages += sorted((ROOT / "src" / "routilux").rglob("*.py"))
    return pages


def _case(path: Path) -> object:
    return pytest.param(path, id=str(path.relative_to(ROOT)))


def test_the_pattern_tells_index_installs_from_path_installs() -> None:
    index = ['pip install "routilux[cli]"', "pip install routilux", "pip install -U 'routilux'"]
    paths = ['pip install -e "/path/to/routilux[cli]"', 'pip install -e ".[cli]"']
    assert [bool(INDEX_INSTALL.search(text)) for text in index + paths] == [True] * 3 + [False] * 2


@pytest.mark.parametrize("path", [_case(path) for path in _texts()])
def test_no_page_or_message_installs_routilux_from_the_index(path: Path) -> None:
    found = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INDEX_INSTALL.search(line)
    ]
    assert found == []


def test_the_readme_says_how_to_install_from_a_clone() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.partition("\n## Installing\n")[2].partition("\n## ")[0]
    assert "package index is a different project" in " ".join(section.split())
    assert 'pip install -e "/path/to/routilux[cli]"' in section


def test_the_install_command_names_the_clone_routilux_runs_from() -> None:
    clone = Path(routilux.__file__).resolve().parents[2]
    assert (clone / "pyproject.toml").is_file()
    assert install_command("postgres") == f'pip install -e "{clone}[postgres]"'


def test_outside_a_clone_the_install_command_names_a_placeholder(tmp_path: Path) -> None:
    copy = tmp_path / "site-packages" / "routilux" / "_install.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / "src" / "routilux" / "_install.py", copy)
    spec = importlib.util.spec_from_file_location("installed_copy", copy)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.install_command("cli") == f'pip install -e "{CLONE_PLACEHOLDER}[cli]"'


def test_reading_yaml_without_pyyaml_names_the_install_from_the_clone(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text("flow_id: x\n", encoding="utf-8")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from routilux import Flow\n"
        "try:\n    Flow.from_file('flow.yaml')\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == (
        "Reading YAML flow files needs PyYAML; install the cli extra from a clone of "
        f"routilux: {install_command('cli')}\n"
    ), done.stderr
