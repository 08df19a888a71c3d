"""Every script in examples/ runs to its end: each checks its own result and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Modules the scripts import, not scripts themselves.
MODULES = {"demo_routines.py"}
SCRIPTS = sorted(p for p in (ROOT / "examples").glob("*.py") if p.name not in MODULES)


def test_there_are_example_scripts() -> None:
    assert len(SCRIPTS) >= 6


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_an_example_script_checks_its_result_and_exits_0(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
