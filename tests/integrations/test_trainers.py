"""The mixed files, read by LLaMA-Factory's, Axolotl's and TRL's own data preparation.

Each loader turns the file into token ids and a loss mask; the tests decode both and check
that every row arrived, with its roles, system prompt and every turn, and that only the
assistant's words are trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integrations.conftest import PIRATE, REFUSAL


def check_rows(
    rows: list[dict], n_rows: int, *, chat: bool = True, history: bool = True, masked: bool = True
) -> None:
    """Every row arrived; system prompt, roles and turns intact; loss on the assistant's words only."""
    assert len(rows) == n_rows
    pirate = [r for r in rows if PIRATE in r["text"]]
    assert len(pirate) == 1, "the system prompt reached the trainer once"
    assert "Buried on the island, matey." in pirate[0]["trained"]
    if chat:
        assert f"<|im_start|>system\n{PIRATE}<|im_end|>" in pirate[0]["text"]
        assert all("<|im_start|>user\n" in r["text"] and "<|im_start|>assistant\n" in r["text"] for r in rows)
        assert not any("<|im_start|>human" in r["text"] or "<|im_start|>gpt" in r["text"] for r in rows)
    turns = [r for r in rows if "Another one?" in r["text"]]
    assert len(turns) == 1
    if history:
        assert "Name a colour." in turns[0]["text"] and "Blue." in turns[0]["text"]
    assert sum(REFUSAL in r["trained"] for r in rows) == 3  # the picks, trained on their refusal
    if not masked:
        assert all(r["trained"] == r["text"] for r in rows)
        return
    assert PIRATE not in pirate[0]["trained"] and "treasure" not in pirate[0]["trained"]
    assert "Green." in turns[0]["trained"] and "Another one?" not in turns[0]["trained"]
    if history:
        assert "Blue." in turns[0]["trained"] and "Name a colour" not in turns[0]["trained"]


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["alpaca", "sharegpt", "messages"])
def test_llamafactory_get_dataset(trainer_files: dict, llamafactory_rows: dict, entry: str) -> None:
    data = trainer_files["data"]
    if entry != "messages":  # the fragment names the entry and its folder
        frag = yaml.safe_load(Path(f"{trainer_files[entry]}.llamafactory.yaml").read_text())
        assert frag["dataset"] == entry and Path(frag["dataset_dir"]) == data.resolve()
    info = json.loads((data / "dataset_info.json").read_text())
    if entry == "alpaca":
        columns = info["alpaca"]["columns"]
        assert columns["system"] == "system" and columns["history"] == "history"
    check_rows(llamafactory_rows[entry], trainer_files["n_rows"])


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["alpaca", "messages", "sharegpt-ua"])
def test_axolotl_prepare_datasets(trainer_files: dict, axolotl_rows: dict, entry: str) -> None:
    # Axolotl's alpaca types read the system prompt but not LLaMA-Factory's history (mix warns)
    check_rows(
        axolotl_rows[entry], trainer_files["n_rows"], chat=entry != "alpaca", history=entry != "alpaca"
    )
    if entry == "alpaca":
        manifest = json.loads(Path(f"{trainer_files[entry]}.manifest.json").read_text())
        assert any("axolotl: alpaca types ignore `history`" in w for w in manifest["warnings"])


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["messages", "sharegpt-ua", "prompt-completion"])
def test_trl_sft_trainer_dataset(trainer_files: dict, entry: str, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from trl import SFTConfig, SFTTrainer
    from trl.scripts.utils import DatasetMixtureConfig, get_dataset

    frag = yaml.safe_load(Path(f"{trainer_files[entry]}.trl.yaml").read_text())
    mixture = DatasetMixtureConfig(datasets=frag.pop("datasets"))
    dataset = get_dataset(mixture)["train"]  # what `trl sft --config` loads
    args = SFTConfig(output_dir=str(tmp_path), max_length=1024, report_to="none", use_cpu=True, **frag)
    tok = trainer_files["tokenizer"]
    trainer = SFTTrainer(model=trainer_files["model"], args=args, train_dataset=dataset, processing_class=tok)
    rows = []
    for rec in trainer.train_dataset:
        if "labels" in rec:  # TRL >= 1.16 builds the labels (-100: no loss)
            mask = [lab != -100 for lab in rec["labels"]]
        else:
            mask = [1] * len(rec["input_ids"])
        trained = [t for t, m in zip(rec["input_ids"], mask, strict=True) if m]
        rows.append({"text": tok.decode(rec["input_ids"]), "trained": tok.decode(trained)})
    sharegpt = entry == "sharegpt-ua"  # trained on every token: assistant_only_loss needs `messages`
    check_rows(rows, trainer_files["n_rows"], history=entry != "prompt-completion", masked=not sharegpt)
    if entry == "prompt-completion":  # earlier turns are prompt: only the last answer is trained
        turns = next(r for r in rows if "Another one?" in r["text"])
        assert "Name a colour." in turns["text"] and "Blue." in turns["text"]
        assert "Green." in turns["trained"] and "Blue." not in turns["trained"]
