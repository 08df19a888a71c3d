"""The benchmark regression guard's comparison (``bench.check``): pure functions, no timing."""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # The benchmark package lives at the repository root.
    sys.path.insert(0, _ROOT)

from bench.check import (  # noqa: E402 - after the sys.path set-up above
    Comparison,
    baseline_document,
    compare,
    failing,
    guarded_metric,
    table,
    tolerance_for,
)
from bench.registry import WORKLOADS  # noqa: E402


def _entry(name: str, **figures: float | None) -> dict[str, Any]:
    """A verified results entry of ``name`` at its full size."""
    workload = WORKLOADS[name]
    entry: dict[str, Any] = {
        "params": {workload.size_name: workload.size},
        "unit": workload.unit,
        "verified": True,
        "median": 1.0,
        "ratio_to_baseline": None,
        "ratio_to_ideal": None,
    }
    return entry | figures


def _results(**entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": "2026-11-25T12:00:00+00:00",
        "machine": {"cpu_model": "test CPU", "cpu_count": 2, "python_version": "3.11.7"},
        "git_commit": None,
        "source_digests": ["0123456789abcdef"],
        "load_average_start": [0.1, 0.1, 0.1],
        "load_average_end": [0.2, 0.1, 0.1],
        "settings": {"repeat": 3, "quick": False, "only": None},
        "workloads": {name.replace("_", "-"): entry for name, entry in entries.items()},
    }


def _run(**changes: dict[str, Any]) -> dict[str, Any]:
    """A run of a, c, d, e and m, with some entries' figures changed."""
    entries = {
        "a": _entry("a", median=2.0, ratio_to_baseline=11.0),
        "c": _entry("c", median=38_000.0, ratio_to_baseline=49.0),
        "d": _entry("d", median=0.18, ratio_to_baseline=1.0),
        "e": _entry("e", median=0.081, ratio_to_ideal=1.02),
        "m": _entry("m", median=33.0),
    }
    for name, figures in changes.items():
        entries[name] = entries[name] | figures
    return _results(**entries)


BASELINE = baseline_document(_run())


def test_each_workload_is_guarded_by_the_figure_that_carries_between_runs() -> None:
    assert guarded_metric(WORKLOADS["a"]) == "ratio_to_baseline"
    assert guarded_metric(WORKLOADS["c"]) == "ratio_to_baseline"  # Per execute, over 3 hops.
    assert guarded_metric(WORKLOADS["b-asyncio"]) == "ratio_to_baseline"
    assert guarded_metric(WORKLOADS["e"]) == "ratio_to_ideal"
    assert guarded_metric(WORKLOADS["f"]) == "ratio_to_ideal"
    assert guarded_metric(WORKLOADS["m"]) == "median"
    assert guarded_metric(WORKLOADS["m-hist"]) == "median"
    assert guarded_metric(WORKLOADS["d"]) is None  # The divisor of every ratio.


def test_baseline_keeps_only_the_guarded_figures_and_where_they_were_measured() -> None:
    assert set(BASELINE["workloads"]) == {"a", "c", "e", "m"}
    assert BASELINE["workloads"]["a"] == {
        "metric": "ratio_to_baseline",
        "value": 11.0,
        "unit": "ratio",
        "params": {"N": 100_000},
    }
    assert BASELINE["workloads"]["e"]["value"] == 1.02
    assert BASELINE["workloads"]["m"] == {
        "metric": "median",
        "value": 33.0,
        "unit": "MB",
        "params": {"N": 100_000},
    }
    assert BASELINE["machine"]["cpu_model"] == "test CPU"
    assert BASELINE["run_timestamp"] == "2026-11-25T12:00:00+00:00"
    assert BASELINE["created"]


def test_the_same_run_passes() -> None:
    lines = compare(BASELINE, _run())
    assert [line.workload for line in lines] == ["a", "c", "e", "m"]
    assert all(line.status == "ok" and line.change == 0 for line in lines)
    assert failing(BASELINE, _run()) == []


def test_a_ratio_more_than_the_tolerance_worse_fails() -> None:
    run = _run(a={"ratio_to_baseline": 11.0 * 1.3})
    assert failing(BASELINE, run) == ["a"]
    line = compare(BASELINE, run)[0]
    assert line == Comparison(
        "a", "ratio_to_baseline", "ratio", 11.0, 14.3, line.change, 0.25, "WORSE", True
    )
    assert line.change == pytest.approx(0.3)


def test_a_change_within_the_tolerance_passes() -> None:
    run = _run(a={"ratio_to_baseline": 11.0 * 1.2}, m={"median": 33.0 * 1.24})
    assert failing(BASELINE, run) == []


def test_the_tolerance_is_configurable() -> None:
    run = _run(a={"ratio_to_baseline": 11.0 * 1.2})
    assert failing(BASELINE, run, tolerance=0.1) == ["a"]
    assert failing(BASELINE, _run(a={"ratio_to_baseline": 11.0 * 1.3}), tolerance=0.5) == []
    with pytest.raises(ValueError, match="negative"):
        compare(BASELINE, run, tolerance=-0.1)


def test_better_figures_never_fail() -> None:
    run = _run(a={"ratio_to_baseline": 5.0}, m={"median": 10.0})
    lines = {line.workload: line for line in compare(BASELINE, run)}
    assert lines["a"].status == lines["m"].status == "better"
    assert failing(BASELINE, run) == []


def test_the_raw_figure_does_not_matter_only_the_ratio() -> None:
    # A machine twice as slow: every microsecond doubles, (d) included, the ratio does not.
    run = _run(a={"median": 4.0}, d={"median": 0.36}, c={"median": 19_000.0})
    assert failing(BASELINE, run) == []


def test_e_and_f_compare_the_ratio_to_their_ideal() -> None:
    assert failing(BASELINE, _run(e={"median": 0.2, "ratio_to_ideal": 1.02})) == []
    assert failing(BASELINE, _run(e={"ratio_to_ideal": 1.5})) == ["e"]


def test_m_compares_megabytes() -> None:
    assert failing(BASELINE, _run(m={"median": 42.0})) == ["m"]
    line = next(line for line in compare(BASELINE, _run()) if line.workload == "m")
    assert (line.metric, line.unit, line.baseline) == ("median", "MB", 33.0)


def test_a_workload_that_failed_in_the_run_fails_the_check() -> None:
    assert failing(BASELINE, _run(c={"verified": False})) == ["c"]
    # Without (d), there is no ratio to compare: that fails too.
    assert failing(BASELINE, _run(a={"ratio_to_baseline": None})) == ["a"]


def test_a_workload_run_at_another_size_fails_the_check() -> None:
    run = _run(a={"params": {"N": 2_000}})
    assert failing(BASELINE, run) == ["a"]
    assert compare(BASELINE, run)[0].status == "SIZE CHANGED"


def test_workloads_not_run_or_not_in_the_baseline_do_not_fail() -> None:
    run = _run()
    del run["workloads"]["e"]  # --only: e did not run.
    run["workloads"]["b"] = _entry("b", ratio_to_baseline=9.0)  # New since the baseline.
    lines = {line.workload: line for line in compare(BASELINE, run)}
    assert lines["e"].status == "not run"
    assert lines["b"].status == "new"
    assert lines["b"].baseline is None
    assert "d" not in lines
    assert failing(BASELINE, run) == []


def test_no_baseline_from_a_quick_or_failed_run() -> None:
    quick = _run()
    quick["settings"]["quick"] = True
    with pytest.raises(ValueError, match="full run"):
        baseline_document(quick)
    with pytest.raises(ValueError, match="c"):
        baseline_document(_run(c={"verified": False}))


def test_the_table_shows_each_line_and_the_verdict() -> None:
    run = _run(a={"ratio_to_baseline": 15.0})
    text = table(compare(BASELINE, run), 0.25)
    assert "| a | 11.00x (d) | 15.00x (d) | +36.4% | 25% | WORSE |" in text
    assert "| e | 1.02x ideal | 1.02x ideal | +0.0% | 25% | ok |" in text
    assert "| m | 33.0 MB | 33.0 MB | +0.0% | 25% | ok |" in text
    assert text.rstrip().endswith("FAIL: a (tolerance 25%, or a workload's own)")
    assert (
        table(compare(BASELINE, _run()), 0.25)
        .rstrip()
        .endswith("OK: every workload within its tolerance (25%, or its own) of the baseline")
    )


def test_comparing_does_not_change_the_documents() -> None:
    run = _run(a={"ratio_to_baseline": 20.0})
    saved_run, saved_baseline = copy.deepcopy(run), copy.deepcopy(BASELINE)
    compare(BASELINE, run)
    assert run == saved_run
    assert saved_baseline == BASELINE


def _noisy_run(**changes: dict[str, Any]) -> dict[str, Any]:
    """A run of d, f and g: the workloads with a tolerance of their own."""
    entries = {
        "d": _entry("d", median=0.18, ratio_to_baseline=1.0),
        "f": _entry("f", median=0.4, ratio_to_ideal=40.0),
        "g": _entry("g", median=13.0, ratio_to_baseline=72.0),
    }
    for name, figures in changes.items():
        entries[name] = entries[name] | figures
    return _results(**entries)


NOISY_BASELINE = baseline_document(_noisy_run())


def test_a_noisy_workload_has_a_looser_tolerance_of_its_own() -> None:
    assert tolerance_for("a", 0.25) == 0.25
    assert tolerance_for("f", 0.25) == 0.5
    assert tolerance_for("f", 0.75) == 0.75  # The larger of the two.
    assert failing(NOISY_BASELINE, _noisy_run(f={"ratio_to_ideal": 40.0 * 1.4})) == []
    assert failing(NOISY_BASELINE, _noisy_run(f={"ratio_to_ideal": 40.0 * 1.6})) == ["f"]


def test_the_concurrent_chain_is_shown_but_not_guarded() -> None:
    assert math.isinf(tolerance_for("g", 0.25))
    run = _noisy_run(g={"ratio_to_baseline": 72.0 * 3})
    line = next(line for line in compare(NOISY_BASELINE, run) if line.workload == "g")
    assert (line.status, line.failed) == ("not guarded", False)
    assert line.change == pytest.approx(2.0)
    assert "| g | 72.00x (d) | 216.00x (d) | +200.0% | — | not guarded |" in table([line], 0.25)
    # A wrong count still fails it.
    assert failing(NOISY_BASELINE, _noisy_run(g={"verified": False})) == ["g"]
