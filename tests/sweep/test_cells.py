"""Cell ids: stable, content-addressed, blind to labels; plans read what is done."""

from __future__ import annotations

import re

import pytest

from safetymix.errors import ConfigError
from safetymix.io import read_examples
from safetymix.sweep import SweepConfig, plan_sweep
from tests.sweep.conftest import sweep_config


def ids(plan):
    return {(c.label, c.budget, c.seed): c.cell_id for c in plan.cells}


def test_ids_are_content_addresses(sweep_inputs, tmp_path):
    base = sweep_config(sweep_inputs, tmp_path / "model")
    plan = plan_sweep(SweepConfig(**base), tmp_path / "run")
    first = ids(plan)
    assert len(plan.cells) == 2 * (1 + 2 * 2) and len(set(first.values())) == len(plan.cells)
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in first.values())
    assert [(c.label, c.budget, c.seed) for c in plan.cells[:5]] == [
        ("none", 0, 0),
        ("random", 4, 0),
        ("random", 8, 0),
        ("sss-b", 4, 0),
        ("sss-b", 8, 0),
    ]
    assert ids(plan_sweep(SweepConfig(**base), tmp_path / "elsewhere")) == first  # same inputs, same ids
    assert set(plan.status.values()) == {"pending"} and plan.estimate_seconds is None
    # a label is not part of the id
    relabelled = dict(base, strategies=[{"name": "random", "label": "uniform"}, "sss-b"])
    assert (
        ids(plan_sweep(SweepConfig(**relabelled), tmp_path / "run"))[("uniform", 4, 0)]
        == first[("random", 4, 0)]
    )
    # any training option changes every id
    other = ids(
        plan_sweep(SweepConfig(**dict(base, train={**base["train"], "max_steps": 4})), tmp_path / "r")
    )
    assert not set(other.values()) & set(first.values())
    # another pool changes the cells that select, not the baselines
    pool = read_examples(sweep_inputs["pool"])
    in_memory = dict(base, pool={})
    moved = ids(plan_sweep(SweepConfig(**in_memory), tmp_path / "r", pool=pool[:-1]))
    assert moved[("none", 0, 1)] == first[("none", 0, 1)] and moved[("sss-b", 4, 1)] != first[("sss-b", 4, 1)]
    # in-memory examples are hashed by content: the same list gives the same ids
    assert ids(plan_sweep(SweepConfig(**in_memory), tmp_path / "r", pool=pool[:-1])) == moved


def test_budget_shares_and_input_errors(sweep_inputs, tmp_path):
    base = sweep_config(sweep_inputs, tmp_path / "model", budgets=["5%", 7], baseline=False)
    plan = plan_sweep(SweepConfig(**base), tmp_path / "run")
    assert sorted({c.budget for c in plan.cells}) == [6, 7]  # 5% of 125 benign examples, rounded half up
    with pytest.raises(ConfigError, match="give the pool set once"):
        plan_sweep(SweepConfig(**base), tmp_path / "run", pool=read_examples(sweep_inputs["pool"]))
    with pytest.raises(ConfigError, match="no benign set"):
        plan_sweep(SweepConfig(**dict(base, benign={})), tmp_path / "run")
    with pytest.raises(Exception, match="resolve to repeated counts"):
        plan_sweep(SweepConfig(**dict(base, budgets=["5%", 6])), tmp_path / "run")
    missing = dict(base, eval={**base["eval"], "suite_files": [f"x={tmp_path / 'no.jsonl'}:harmful"]})
    with pytest.raises(Exception, match="suite 'x': no such file"):
        plan_sweep(SweepConfig(**missing), tmp_path / "run")
