"""The seed tutorial's examples, run unchanged as subprocesses, output compared byte for byte.

The examples live outside the repository (``../shared/seed/examples`` from the
repository root, or the folder named by ``ROUTILUX_SEED_EXAMPLES``); without
them these tests are skipped, and the unit tests cover the same behaviour.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(os.environ.get("ROUTILUX_SEED_EXAMPLES", ROOT.parent / "shared" / "seed" / "examples"))
EXAMPLES = sorted(SEED.glob("*.py")) if SEED.is_dir() else []

pytestmark = pytest.mark.skipif(not EXAMPLES, reason=f"no seed examples at {SEED}")


def _run(example: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_prints_its_expected_output(example: Path, tmp_path: Path) -> None:
    expected = example.with_suffix(".expected").read_text()
    proc = _run(example, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected
