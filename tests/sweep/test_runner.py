"""run_sweep on a tiny model: the whole grid, failed cells, reading the results back."""

from __future__ import annotations

import json

import pytest

from safetymix.errors import DataFormatError
from safetymix.sweep import SweepConfig, load_cells, read_cell, run_sweep
from tests.sweep.conftest import sweep_config

pytest.importorskip("trl")
pytest.importorskip("peft")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_the_grid_completes_with_one_result_per_cell(reference_run, sweep_inputs):
    run_dir, cells = reference_run["run_dir"], reference_run["cells"]
    assert reference_run["summary"] == {
        "run_dir": str(run_dir),
        "n_cells": 8,
        "n_skipped": 0,
        "n_ok": 8,
        "n_failed": 0,
        "failed": [],
    }
    grid = {(c["params"]["strategy"], c["params"]["budget"], c["params"]["seed"]) for c in cells.values()}
    assert grid == {(s, k, seed) for s in ("random", "sss-b") for k in (4, 8) for seed in (0, 1)}
    sweep = json.loads((run_dir / "sweep.json").read_text())
    assert [c["cell_id"] for c in sweep["cells"]] and {c["cell_id"] for c in sweep["cells"]} == set(cells)
    assert sweep["inputs"]["suites"]["harm"]["kind"] == "harmful" and sweep["n_cells"] == 8
    assert SweepConfig(**sweep["config"]) == SweepConfig(**reference_run["config"])  # resolved, round-trips
    assert "seed" not in sweep["config"]["train"] and "model" not in sweep["config"]["eval"]
    assert list(load_cells(run_dir)) == sorted(cells.values(), key=lambda c: c["cell_id"])
    for cell in cells.values():
        k = cell["params"]["budget"]
        picks = cell["selection"]["picks"]
        assert len(picks) == k and cell["selection"]["summary"]["n_picked"] == k
        assert all(p["prompt"] and p["reason"]["strategy"] == cell["params"]["strategy"] for p in picks)
        if cell["params"]["strategy"] == "sss-b":
            assert {p["behaviour"] for p in picks} == {"T1"}
        assert cell["mix"] == {"n_benign": 125, "n_safety": k, "safety_share": round(k / (125 + k), 6)}
        assert cell["train"]["global_step"] == 3 and cell["train"]["first_loss"] > 0
        m = cell["metrics"]
        assert set(m) == {"harmful_refusal", "harmfulness", "over_refusal", "helpfulness"}
        assert (m["harmful_refusal"]["n"], m["over_refusal"]["n"], m["helpfulness"]["n"]) == (8, 6, 6)
        refusal, harm = m["harmful_refusal"], m["harmfulness"]
        assert harm["source"] == "1 - refusal rate"
        assert harm["value"] == pytest.approx(1 - refusal["value"])
        assert (harm["low"], harm["high"]) == pytest.approx((1 - refusal["high"], 1 - refusal["low"]))
        for key in ("harmful_refusal", "harmfulness", "over_refusal"):
            assert 0 <= m[key]["low"] <= m[key]["value"] <= m[key]["high"] <= 1
        assert m["helpfulness"]["kind"] == "loss" and m["helpfulness"]["higher_is_better"] is False
        assert m["helpfulness"]["low"] <= m["helpfulness"]["value"] <= m["helpfulness"]["high"]
        per_cat = cell["per_category"]
        assert {c: v["n"] for c, v in per_cat["harmfulness"].items()} == {"animal": 2, "fraud": 3, "harm": 3}
        assert set(per_cat["harmful_refusal"]) == {"animal", "fraud", "harm"}
        assert cell["seconds"]["total"] >= cell["seconds"]["train"] > 0
        items = (run_dir / "cells" / f"{cell['cell_id']}.items.jsonl").read_text().splitlines()
        assert len(items) == 8 + 6 + 6
    # weights are deleted once a cell is evaluated (keep_models is off)
    assert not any((run_dir / "work").iterdir())
    # each seed draws its own picks and training order
    by_seed = {}
    for c in cells.values():
        by_seed.setdefault((c["params"]["strategy"], c["params"]["budget"]), set()).add(
            c["train"]["train_loss"]
        )
    assert all(len(losses) == 2 for losses in by_seed.values())


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(sweep_inputs, tiny_model_dir, tmp_path):
    missing = str(tmp_path / "no-such-model")
    config = SweepConfig(
        **sweep_config(
            sweep_inputs,
            tiny_model_dir,
            strategies=["random"],
            budgets=[4],
            seeds=[0],
            models=[str(tiny_model_dir), missing],
        )
    )
    summary = run_sweep(config, tmp_path / "run")
    assert (summary["n_cells"], summary["n_ok"], summary["n_failed"]) == (4, 2, 2)
    cells = load_cells(tmp_path / "run")
    by = {(c["params"]["model"], c["params"]["label"]): c for c in cells}
    baseline = by[(str(tiny_model_dir), "none")]
    assert baseline["status"] == "ok" and baseline["params"]["strategy"] == "none"
    assert baseline["params"]["budget"] == 0 and baseline["selection"]["picks"] == []
    assert baseline["mix"]["n_safety"] == 0 and baseline["metrics"]["harmfulness"]["n"] == 8
    assert by[(str(tiny_model_dir), "random")]["status"] == "ok"
    # a model that cannot be loaded fails its cells in training, after selection and mixing
    no_model = by[(missing, "random")]
    assert no_model["status"] == "failed" and no_model["selection"]["summary"]["n_picked"] == 4
    assert no_model["mix"]["n_safety"] == 4 and no_model["train"] is None
    assert no_model["error"]["type"] and no_model["error"]["message"]
    # a rerun skips the finished cells and retries the failed ones
    again = run_sweep(config, tmp_path / "run")
    assert (again["n_skipped"], again["n_ok"], again["n_failed"]) == (2, 0, 2)


def test_load_cells_validates(reference_run, tmp_path):
    src = next(iter(reference_run["cells"].values()))
    (tmp_path / "cells").mkdir()
    broken = dict(src, status="ok", metrics=None)
    path = tmp_path / "cells" / f"{src['cell_id']}.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(DataFormatError, match="an 'ok' cell needs \\['metrics'\\]"):
        load_cells(tmp_path)
    path.write_text(json.dumps(dict(src, metrics={"harmfulness": {"value": "high"}})))
    with pytest.raises(DataFormatError, match="metrics.harmfulness.value"):
        read_cell(path)
    other = tmp_path / "cells" / "0123456789ab.json"
    other.write_text(json.dumps(src))
    with pytest.raises(DataFormatError, match="does not match the file name"):
        read_cell(other)
    with pytest.raises(DataFormatError, match="no cell results here"):
        load_cells(tmp_path / "nowhere")
