"""``safetymix advise --sweep``: run budgets from the smallest up and stop once the targets are met."""

from __future__ import annotations

import json

import pytest

from safetymix.cli.main import main
from safetymix.errors import ConfigError
from safetymix.report import AdviseConfig, advise_by_running
from safetymix.sweep import SweepConfig, load_cells, run_sweep
from tests.sweep.conftest import sweep_config, write_yaml

pytest.importorskip("trl")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def small_grid(sweep_inputs, tiny_model_dir, **overrides):
    return SweepConfig(**grid_mapping(sweep_inputs, tiny_model_dir, **overrides))


def grid_mapping(sweep_inputs, tiny_model_dir, **overrides):
    # Budgets out of order on purpose: the advisor runs the smallest first.
    base = {"strategies": ["random"], "budgets": [8, 4], "seeds": [0], **overrides}
    return sweep_config(sweep_inputs, tiny_model_dir, **base)


def budgets_run(run_dir):
    return sorted({c["params"]["budget"] for c in load_cells(run_dir)})


def test_stops_at_the_first_budget_that_meets_and_the_sweep_reuses_its_cells(
    sweep_inputs, tiny_model_dir, tmp_path
):
    config = small_grid(sweep_inputs, tiny_model_dir)
    # Targets every model meets (harmfulness <= 100%, +100 points): met after the first round.
    easy = AdviseConfig(max_harmfulness=1.0, max_over_refusal_increase=100)
    ran = advise_by_running(config, tmp_path / "run", easy)
    assert ran.tested == [4] and ran.skipped == [8]
    assert budgets_run(tmp_path / "run") == [0, 4]  # the k=8 cells were never trained
    assert ran.advice.found and ran.advice.models[0].recommendation.budget == 0
    # The full sweep into the same folder reuses both finished cells and runs only k=8.
    summary = run_sweep(config, tmp_path / "run")
    assert (summary["n_skipped"], summary["n_ok"]) == (2, 1)


def test_unmet_targets_run_every_budget_and_exit_3(sweep_inputs, tiny_model_dir, tmp_path, capsys):
    path = write_yaml(tmp_path / "grid.yaml", grid_mapping(sweep_inputs, tiny_model_dir))
    run_dir = tmp_path / "run"
    # A random tiny model never refuses: harmfulness 0 is out of reach at every budget.
    args = ["advise", str(run_dir), "--sweep", str(path), "--max-harmfulness", "0", "--json"]
    args += ["--max-over-refusal-increase", "5"]
    assert main(args) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["found"] is False
    assert (out["tested_budgets"], out["skipped_budgets"]) == ([4, 8], [])
    assert budgets_run(run_dir) == [0, 4, 8]


def test_needs_the_baseline_and_known_strategy_labels(sweep_inputs, tiny_model_dir, tmp_path):
    targets = AdviseConfig(max_harmfulness=0.5, max_over_refusal_increase=5)
    with pytest.raises(ConfigError, match="baseline: true"):
        advise_by_running(small_grid(sweep_inputs, tiny_model_dir, baseline=False), tmp_path, targets)
    only = AdviseConfig(max_harmfulness=0.5, max_over_refusal_increase=5, strategies=["sss-b"])
    with pytest.raises(ConfigError, match=r"unknown strategy label\(s\) \['sss-b'\]"):
        advise_by_running(small_grid(sweep_inputs, tiny_model_dir), tmp_path, only)
    assert not (tmp_path / "cells").exists()
