"""``config_command``: flags, YAML keys and help generated from one config model."""

from __future__ import annotations

import pytest
from pydantic import Field

from safetymix.cli.main import main
from safetymix.cli.options import build_config
from safetymix.errors import SafetymixError
from safetymix.stage_config import StageConfig
from safetymix.train import TrainConfig


def test_every_train_field_is_a_flag(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for name in TrainConfig.model_fields:
        if name != "data":  # the positional argument
            assert f"--{name.replace('_', '-')}" in out, name
    assert "--epochs" in out and "--batch-size" in out and "-o" in out
    assert "[required]" in out and "[default: 0.05]" in out


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
