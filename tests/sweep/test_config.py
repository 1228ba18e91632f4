"""SweepConfig: sections reuse the stage configs, cell-owned and unknown keys fail by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from safetymix.sweep import SweepConfig


def make(**kw):
    return SweepConfig(**{"strategies": ["sss-b"], "budgets": [10], "models": ["m"], **kw})


def test_defaults_and_strategy_labels():
    config = make(
        strategies=[
            "random",
            {"name": "sss-b", "params": {"behaviours": ["T2"]}},
            {"name": "sss-b", "label": "B"},
        ]
    )
    assert [s.label for s in config.strategies] == ["random", "sss-b[behaviours=T2]", "B"]
    assert config.seeds == [0] and config.baseline and not config.keep_models and config.check_contamination
    train = config.train.cell_fields()
    assert "model" not in train and "seed" not in train and train["method"] == "lora" and train["lora_r"] == 8
    assert make(train={"method": "full", "num_train_epochs": 1}).train.cell_fields()["method"] == "full"
    ev = make(eval={"suites": ["xstest-safe"], "max_prompts": 5}).eval.cell_fields()
    assert ev["suites"] == ["xstest-safe"] and ev["max_prompts"] == 5 and "model" not in ev


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, "colour\n  Extra inputs are not permitted"),
        ({"eval": {"suitez": ["a"]}}, "eval.suitez\n  Extra inputs are not permitted"),
        ({"train": {"method": "qlora"}}, "train.method\n  Input should be 'lora' or 'full'"),
        ({"train": {"output_dir": "x"}}, "train.output_dir is the cell's work folder"),
        ({"eval": {"judge": "nope"}}, "unknown judge 'nope'"),
        ({"strategies": []}, "strategies\n  List should have at least 1 item"),
        ({"strategies": ["none"]}, "'none' is the baseline cell"),
        ({"strategies": [{"name": "sss-b", "params": {"seed": 1}}]}, "params.seed: the seed of each cell"),
        ({"strategies": [{"name": "sss-b", "params": {"k": 1}}]}, "strategy 'sss-b' does not take ['k']"),
        (
            {"strategies": [{"name": "sss-b", "params": {"behaviours": ["T9"]}}]},
            "the 'behaviours' parameter of strategy 'sss-b' must be a non-empty list",
        ),
        ({"strategies": ["sss-b", {"name": "random", "label": "sss-b"}]}, "repeated: ['sss-b']"),
        (
            {"strategies": ["sss-b", {"name": "sss-b", "label": "again"}]},
            "the same strategy and params appear twice",
        ),
        ({"budgets": [10, "10"]}, "budgets repeat"),
        ({"budgets": [True]}, "budget must be a count or a share"),
        ({"budgets": ["ten"]}, "budget must be a count like '100' or a share like '0.5%'"),
        ({"seeds": [0, 0]}, "values repeat"),
        ({"seeds": [True]}, "seeds.0\n  Input should be a valid integer"),
        ({"seeds": [-1]}, "seeds.0\n  Input should be greater than or equal to 0"),
        ({"models": []}, "models\n  List should have at least 1 item"),
    ],
)
def test_invalid_configs_say_what_is_wrong(change, message):
    with pytest.raises(ValidationError) as info:
        make(**change)
    assert message in str(info.value)
