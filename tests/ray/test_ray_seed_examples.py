"""The seed's five examples, unchanged, print their expected output under the Ray strategy.

Each example runs in this process (the session's Ray cluster is here) with
``routilux.Flow`` replaced, for the run, by a subclass whose default
strategy is ``"ray"`` with one driver thread (``max_workers=1``): every
handler runs on the cluster, as a Ray task, and one delivery at a time in
the sequential strategy's order, so the output, printed by the handlers on
Ray workers and written here, is comparable byte for byte. (With more
threads the deliveries overlap and their order is no longer fixed, as in
the concurrent strategy.) The examples' classes are defined in a
``__main__`` module that Ray's workers cannot import: Ray's pickler sends
them by value.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any

import pytest

import routilux

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(os.environ.get("ROUTILUX_SEED_EXAMPLES", ROOT.parent / "shared" / "seed" / "examples"))
EXAMPLES = sorted(SEED.glob("*.py")) if SEED.is_dir() else []

pytestmark = [
    pytest.mark.skipif(not EXAMPLES, reason=f"no seed examples at {SEED}"),
    pytest.mark.usefixtures("ray_cluster"),
    pytest.mark.slow,  # A local Ray cluster starts in 5 to 30 s (once per session).
]


class RayFlow(routilux.Flow):
    """A Flow whose strategy is ``"ray"`` unless the code names another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) < 2:
            kwargs.setdefault("execution_strategy", "ray")
        if len(args) < 3:
            kwargs.setdefault("max_workers", 1)
        super().__init__(*args, **kwargs)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_prints_its_expected_output_under_ray(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[RayFlow] = []

    class Recorded(RayFlow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(routilux, "Flow", Recorded)
    try:
        runpy.run_path(str(example), run_name="__main__")
    finally:
        for flow in made:
            flow.shutdown()
    assert [flow.execution_strategy for flow in made] == ["ray"] * len(made)
    assert made, "the example made no flow"
    assert capsys.readouterr().out == example.with_suffix(".expected").read_text()
