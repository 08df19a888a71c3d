"""Seed examples 01, 03 and 04 print the same output with the concurrent strategy.

Each example's source is copied with its ``Flow(flow_id="...")`` switched to
``execution_strategy="concurrent"``, and each of its routines set to run
one delivery at a time (``set_max_concurrency(1)`` after
``super().__init__()``: the examples' handlers print, and change their
routine's attributes without a lock, which the concurrent strategy allows
only one delivery at a time), run as a subprocess from a temporary folder,
and its stdout compared byte for byte with the example's ``.expected``
file. The examples live outside the repository
(``../shared/seed/examples`` from the repository root, or the folder named
by ``ROUTILUX_SEED_EXAMPLES``); without them these tests are skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(os.environ.get("ROUTILUX_SEED_EXAMPLES", ROOT.parent / "shared" / "seed" / "examples"))
NAMES = ["01_aggregation", "03_fan_out_fan_in", "04_error_recovery"]
FLOW_CALL = re.compile(r'Flow\(flow_id="([^"]+)"\)')
ROUTINE_INIT = re.compile(r"(?m)^( *)super\(\)\.__init__\(\)$")

pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason=f"no seed examples at {SEED}")


def concurrent_copy(source: str) -> str:
    """``source`` with its one ``Flow(flow_id=...)`` call made concurrent, its routines serial."""
    switched, count = FLOW_CALL.subn(r'Flow(flow_id="\1", execution_strategy="concurrent")', source)
    assert count == 1, f"expected one Flow(flow_id=...) call, found {count}"
    return ROUTINE_INIT.sub(r"\1super().__init__()\n\1self.set_max_concurrency(1)", switched)


@pytest.mark.parametrize("name", NAMES)
def test_example_prints_its_expected_output_in_the_concurrent_strategy(
    name: str, tmp_path: Path
) -> None:
    example = SEED / f"{name}.py"
    expected = (SEED / f"{name}.expected").read_text()
    script = tmp_path / example.name
    script.write_text(concurrent_copy(example.read_text()))
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def test_the_switch_changes_exactly_the_flow_call() -> None:
    before = 'x = 1\nflow = Flow(flow_id="demo")\nflow.execute("a")\n'
    after = concurrent_copy(before)
    assert after == (
        'x = 1\nflow = Flow(flow_id="demo", execution_strategy="concurrent")\nflow.execute("a")\n'
    )


def test_the_copy_runs_each_routine_one_delivery_at_a_time() -> None:
    before = (
        "class A(Routine):\n    def __init__(self):\n        super().__init__()\n        x = 1\n"
    )
    assert concurrent_copy(before + 'flow = Flow(flow_id="demo")\n') == (
        "class A(Routine):\n    def __init__(self):\n        super().__init__()\n"
        "        self.set_max_concurrency(1)\n        x = 1\n"
        'flow = Flow(flow_id="demo", execution_strategy="concurrent")\n'
    )
