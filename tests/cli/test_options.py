"""``config_command``: flags, YAML keys and help generated from one config model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field

from safetymix.cli.main import main
from safetymix.cli.options import build_config
from safetymix.errors import SafetymixError
from safetymix.generate import GenerateConfig
from safetymix.stage_config import StageConfig
from safetymix.train import TrainConfig


@pytest.mark.parametrize(
    ("command", "model", "argument", "shown"),
    [
        ("train", TrainConfig, "data", ["--epochs", "--batch-size", "-o", "[required]", "[default: 0.05]"]),
        ("generate", GenerateConfig, "prompts", ["--out", "-o", "[default: 4]"]),
    ],
)
def test_every_field_is_a_flag(capsys, command, model, argument, shown):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    for name in model.model_fields:
        if name != argument:  # the positional argument
            assert f"--{name.replace('_', '-')}" in out, name
    assert all(text in out for text in shown), shown


def test_generate_reads_yaml_keys(tmp_path, capsys):
    path = tmp_path / "gen.yaml"
    path.write_text(f"prompts: {tmp_path / 'none.jsonl'}\nmodel: m\n")
    assert main(["generate", "--config", str(path)]) == 1  # output: neither flag nor key
    assert "--out is required" in capsys.readouterr().err
    assert main(["generate", "--config", str(path), "-o", str(tmp_path / "r.jsonl")]) == 1
    assert "none.jsonl" in capsys.readouterr().err  # got past the options to the prompt file


@pytest.mark.parametrize(
    ("yaml_text", "match"),
    [
        ("seed: true\n", "seed: expected a number, got the boolean True"),
        ("seed: -1\n", "seed: Input should be greater than or equal to 0 .got -1."),
        ("lora_r: 2.5\n", "lora_r: Input should be a valid integer"),
        ("epochs: 2\n", "epochs: Extra inputs are not permitted"),
    ],
)
def test_strict_yaml_values(tmp_path, yaml_text, match):
    path = tmp_path / "train.yaml"
    path.write_text("model: m\noutput_dir: o\n" + yaml_text)
    with pytest.raises(SafetymixError, match=match):
        build_config(TrainConfig, path)


def test_flags_override_yaml_and_aliases_work(tmp_path, capsys):
    path = tmp_path / "train.yaml"
    path.write_text("model: m\noutput_dir: o\nlora_r: 4\nseed: 3\n")
    # --seed -1 from the command line: one error line naming the field and the value, exit 1
    assert main(["train", "d.json", "--config", str(path), "--seed", "-1"]) == 1
    err = capsys.readouterr().err
    assert "seed: Input should be greater than or equal to 0 (got -1)" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_required_option_names_flag_and_yaml_key(capsys):
    assert main(["train", "d.json", "--out", "o"]) == 1
    err = capsys.readouterr().err
    assert "model: required (--model or model: in the YAML config)" in err


def test_docstring_lists_the_fields():
    class DemoConfig(StageConfig):
        """Demo."""

        k: int = Field(3, ge=0, description="how many")

    assert "k (default 3): how many" in DemoConfig.__doc__
    with pytest.raises(ValueError, match="boolean"):
        DemoConfig(k=True)


POOL = str(Path(__file__).resolve().parents[2] / "src" / "safetymix" / "data" / "demo" / "pool.jsonl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "seed=5"], "['seed'] cannot be given as a strategy parameter"),
        (["--param", "behaviours=[T2]"], "['behaviours'] cannot be given as a strategy parameter"),
        (["--param", "rules=paper"], "['rules'] cannot be given as a strategy parameter"),
        (
            ["--strategy", "facility-location", "--param", "n_ground=-5"],
            "the 'n_ground' parameter of strategy 'facility-location' must be an int >= 1; got -5",
        ),
        (
            ["--strategy", "kmeans-medoids", "--param", "n_fit=abc"],
            "the 'n_fit' parameter of strategy 'kmeans-medoids' must be an int >= 1; got 'abc'",
        ),
        (["--param", "k=3"], "strategy 'sss-b' does not take ['k']; it takes: no parameters"),
        (["--seed", "-1"], "seed: Input should be greater than or equal to 0 (got -1)"),
        (["--budget", "0"], "budget '0' gives 0 picks; select at least 1"),
        (["--behaviour-labeller", "guard"], "the behaviour labeller 'guard' needs --labeller-model"),
    ],
)
def test_select_option_errors_are_one_line(tmp_path, capsys, args, message):
    argv = ["select", POOL, "--out", str(tmp_path / "p.jsonl"), "--budget", "5", *args]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "p.jsonl").exists()


def test_select_rules_option(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    argv = ["select", POOL, "--out", str(out), "--budget", "14", "--strategy", "cossim"]
    assert main([*argv, "--rules", "paper"]) == 0
    summary = json.loads((tmp_path / "p.jsonl.selection.json").read_text(encoding="utf-8"))["selection"]
    assert summary["rules"] == "paper" and summary["quota_per_category"] == 1
    capsys.readouterr()
    assert main([*argv, "--rules", "theirs"]) == 2
    assert "'theirs' is not one of 'ours', 'paper'" in capsys.readouterr().err
