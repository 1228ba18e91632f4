"""TrainConfig validation, YAML + flag merging, and ``safetymix train`` run in-process."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from safetymix.cli.options import build_config
from safetymix.cli.train import train_command
from safetymix.errors import SafetymixError
from safetymix.train import TrainConfig
from tests.tiny_models import one_torch_thread, tiny_examples, tiny_model_dir  # noqa: F401  (fixtures)


def test_defaults_are_the_papers():
    cfg = TrainConfig(model="m", output_dir="o")
    assert (cfg.method, cfg.template) == ("lora", "alpaca")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (8, 16, 0.05)
    assert cfg.lora_target_modules == ["q_proj", "v_proj"]
    assert (cfg.learning_rate, cfg.num_train_epochs, cfg.seed) == (3e-4, 3.0, 0)
    assert cfg.completion_only_loss is True


def test_target_modules_from_a_flag():
    assert TrainConfig(
        model="m", output_dir="o", lora_target_modules="q_proj, k_proj,"
    ).lora_target_modules == [
        "q_proj",
        "k_proj",
    ]
    assert (
        TrainConfig(model="m", output_dir="o", lora_target_modules="all-linear").lora_target_modules
        == "all-linear"
    )
    with pytest.raises(ValueError, match="at least one module"):
        TrainConfig(model="m", output_dir="o", lora_target_modules=" , ")


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"lora_r": 0}, "lora_r"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"method": "qlora"}, "method"),
        ({"template": "vicuna"}, "template"),
        ({"device": "cpu", "mixed_precision": "fp16"}, "needs a GPU"),
        ({"model": " "}, "must not be empty"),
    ],
)
def test_invalid_values(values, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"model": "m", "output_dir": "o", **values})


def test_unknown_yaml_key_is_named(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("model: m\noutput_dir: o\nlora_rank: 16\n")
    with pytest.raises(SafetymixError, match="lora_rank: Extra inputs are not permitted"):
        build_config(TrainConfig, path)


def test_flags_override_yaml_including_model(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("model: from-yaml\noutput_dir: o\nlora_r: 4\nlearning_rate: 0.001\n")
    cfg = build_config(TrainConfig, path, model="from-flag", lora_r=16, learning_rate=None)
    assert (cfg.model, cfg.lora_r, cfg.learning_rate) == ("from-flag", 16, 0.001)
    assert build_config(TrainConfig, path, model=None).model == "from-yaml"


def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_command)
    app.command("unused")(lambda: None)  # two commands: typer keeps the subcommand name
    return app


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_cli_trains_from_an_alpaca_file(tiny_model_dir, tmp_path):  # noqa: F811
    data = tmp_path / "mix.json"
    rows = [{"instruction": e.instruction, "input": e.input, "output": e.response} for e in tiny_examples(8)]
    data.write_text(json.dumps(rows))
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text("lora_r: 4\nlogging_steps: 1\n")
    out = tmp_path / "out"
    args = ["train", str(data), "--model", str(tiny_model_dir), "--out", str(out), "--config", str(yaml_file)]
    args += [
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        "--lora-target-modules",
        "q_proj,k_proj",
    ]
    result = CliRunner().invoke(cli_app(), args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["lora_r"] == 4 and saved["lora_target_modules"] == ["q_proj", "k_proj"]
    assert saved["data"] == str(data) and saved["max_steps"] == 2
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and sorted(adapter["target_modules"]) == ["k_proj", "q_proj"]
    log = json.loads((out / "training_log.json").read_text())
    assert [e["step"] for e in log["log_history"] if "loss" in e] == [1, 2]


def test_cli_reports_a_bad_yaml_key(tmp_path):
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text("model: m\noutput_dir: o\nepochs: 2\n")
    result = CliRunner().invoke(cli_app(), ["train", "data.json", "--config", str(yaml_file)])
    assert result.exit_code == 1
    assert "epochs" in result.output and "Extra inputs are not permitted" in result.output
