"""`mix --emit-config`: which trainer reads which format, refused before anything is written."""

from __future__ import annotations

import pytest
import yaml

from safetymix.cli.main import main
from safetymix.errors import ConfigError
from safetymix.integrations.configs import trainer_config
from safetymix.io import write_examples
from safetymix.schema import make_example


def test_formats_a_trainer_cannot_read_are_refused_up_front(tmp_path, capsys) -> None:
    write_examples(tmp_path / "b.jsonl", [make_example("q", "a")])
    write_examples(tmp_path / "p.jsonl", [make_example("bad?", "No.", behaviour="T1")])
    args = ["mix", str(tmp_path / "b.jsonl"), str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "m.json")]
    assert main([*args, "--emit-config", "trl"]) == 1
    assert "trl does not read --format alpaca; use one of: messages, prompt-completion, sharegpt" in (
        capsys.readouterr().err
    )
    assert main([*args, "--format", "sharegpt", "--emit-config", "trl"]) == 1
    assert "--sharegpt-roles user/assistant" in capsys.readouterr().err
    assert main([*args, "--format", "prompt-completion", "--dataset-info", str(tmp_path)]) == 1
    assert "llamafactory does not read --format prompt-completion" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
    # llamafactory without --dataset-info: the entry goes beside the mix
    assert main([*args, "--emit-config", "llamafactory"]) == 0
    frag = yaml.safe_load((tmp_path / "m.json.llamafactory.yaml").read_text())
    assert frag == {"dataset": "m", "dataset_dir": str(tmp_path.resolve()), "template": "alpaca"}
    assert (tmp_path / "dataset_info.json").is_file()


def test_axolotl_types_follow_the_columns(tmp_path) -> None:
    frag, notes = trainer_config("axolotl", tmp_path / "m.json", "alpaca")
    assert frag["datasets"][0]["type"] == "alpaca" and notes == []
    frag, notes = trainer_config("axolotl", tmp_path / "m.json", "alpaca", columns={"system", "history"})
    assert frag["datasets"][0]["type"]["field_system"] == "system"
    assert notes and "ignore `history`" in notes[0]
    frag, _ = trainer_config("axolotl", tmp_path / "m.jsonl", "sharegpt")
    assert frag["datasets"][0]["roles"] == {"user": ["human"], "assistant": ["gpt"], "system": ["system"]}
    with pytest.raises(ConfigError, match="unknown trainer 'unsloth'; valid: llamafactory, axolotl, trl"):
        trainer_config("unsloth", tmp_path / "m.json", "alpaca")
