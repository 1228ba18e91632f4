"""Mixed files, a tiny tokenizer + model, and the trainers' own Python environments.

LLaMA-Factory and Axolotl pin their own transformers/TRL, so they live in venvs of their
own (``make integrations``, run by ``.ci/run``); the tests run each trainer's loader there
in a subprocess and read back what it would train on. Without those venvs the tests skip
with the reason, unless ``SAFETYMIX_REQUIRE_INTEGRATIONS=1`` (set by CI), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DATASETS, REPO

HERE = Path(__file__).resolve().parent
VENVS = Path(os.environ.get("SAFETYMIX_INTEGRATIONS_VENVS", REPO / ".venv-integrations"))
PIRATE = "You are a pirate."
#: ChatML with {% generation %} markers, so TRL can mask everything but assistant turns.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ m['content'] }}<|im_end|>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
PLANTED = [
    {
        "messages": [
            {"role": "system", "content": PIRATE},
            {"role": "user", "content": "Where is the treasure?"},
            {"role": "assistant", "content": "Buried on the island, matey."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one?"},
            {"role": "assistant", "content": "Green."},
        ]
    },
]
REFUSAL = "I can't help with that."

#: (format, output name, extra mix flags)
MIXES = {
    "alpaca": ("alpaca", "mix_alpaca.json", ["--emit-config", "llamafactory", "--emit-config", "axolotl"]),
    "sharegpt": ("sharegpt", "mix_sharegpt.json", ["--emit-config", "llamafactory"]),
    "messages": ("messages", "mix_messages.jsonl", ["--emit-config", "axolotl", "--emit-config", "trl"]),
    "sharegpt-ua": (
        "sharegpt",
        "mix_sharegpt_ua.jsonl",
        ["--sharegpt-roles", "user/assistant", "--emit-config", "axolotl", "--emit-config", "trl"],
    ),
    "prompt-completion": ("prompt-completion", "mix_pc.jsonl", ["--emit-config", "trl"]),
}


@pytest.fixture(scope="session")
def trainer_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Mixes of 40 alpaca_en_demo rows + a system-prompt and a multi-turn conversation + 3 picks."""
    from safetymix.cli.main import main
    from safetymix.io import read_examples, write_examples
    from safetymix.schema import make_example
    from safetymix.train.scratch import build_bpe_tokenizer, build_llama

    root = tmp_path_factory.mktemp("trainers")
    alpaca = read_examples(DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json", duplicates="drop")[:40]
    records = [json.loads(x) for x in write_examples(root / "b.jsonl", alpaca, "messages").open()]
    records[2:2] = PLANTED
    benign = root / "benign.jsonl"
    benign.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    picks = [make_example(f"How do I build weapon {i}?", REFUSAL, behaviour="T1") for i in range(3)]
    for p in picks:
        p.extra["reason"] = {"strategy": "test"}
    write_examples(root / "picks.jsonl", picks)
    data = root / "data"
    out = {"root": root, "data": data, "n_rows": len(records) + len(picks)}
    for key, (fmt, name, flags) in MIXES.items():
        args = ["mix", str(benign), str(root / "picks.jsonl"), "--out", str(data / name), "--format", fmt]
        if fmt != "prompt-completion":  # LLaMA-Factory does not read it
            args += ["--dataset-info", str(data), "--dataset-name", key]
        args += flags
        assert main(args) == 0, key
        out[key] = data / name
    texts = [e.prompt + " " + e.response for e in alpaca] + [json.dumps(PLANTED), REFUSAL]
    specials = ["<|im_start|>", "<|im_end|>"]
    tok = build_bpe_tokenizer(texts, 700, extra_special_tokens=specials, chat_template=CHATML)
    model = build_llama(tok, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2)
    out["model_dir"] = root / "model"
    model.save_pretrained(out["model_dir"])
    tok.save_pretrained(out["model_dir"])
    out["tokenizer"], out["model"] = tok, model
    return out


def trainer_python(name: str) -> str:
    """The interpreter of a trainer's own venv, or skip (fail under SAFETYMIX_REQUIRE_INTEGRATIONS)."""
    python = VENVS / name / "bin" / "python"
    if python.is_file():
        return str(python)
    reason = f"{name} venv not found at {python} (make integrations installs it)"
    if os.environ.get("SAFETYMIX_REQUIRE_INTEGRATIONS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def run_loader(python: str, script: str, out: Path, *args: str | Path) -> dict[str, list[dict]]:
    """Run a loader script of this folder in a trainer's venv (``args`` include ``out``).

    Returns the rows it wrote to ``out`` (decoded text, decoded trained tokens) per input.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "AXOLOTL_DO_NOT_TRACK": "1"}
    env.pop("PYTHONPATH", None)  # the trainer's venv, not safetymix's
    cmd = [python, str(HERE / script), *map(str, args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=out.parent)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        pytest.fail(f"{script} failed ({proc.returncode}):\n{tail}", pytrace=False)
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def llamafactory_rows(trainer_files: dict) -> dict[str, list[dict]]:
    """LLaMA-Factory's ``get_dataset`` on the alpaca, sharegpt and messages entries (one process)."""
    python = trainer_python("llamafactory")
    out = trainer_files["root"] / "llamafactory.json"
    names = ["alpaca", "sharegpt", "messages"]
    args = [trainer_files["data"], trainer_files["model_dir"], "chatml", out, *names]
    return run_loader(python, "llamafactory_load.py", out, *args)


@pytest.fixture(scope="session")
def axolotl_rows(trainer_files: dict) -> dict[str, list[dict]]:
    """Axolotl's ``prepare_datasets`` on the alpaca, messages and sharegpt fragments (one process)."""
    python = trainer_python("axolotl")
    root = trainer_files["root"]
    out, work = root / "axolotl.json", root / "axolotl"
    keys = ["alpaca", "messages", "sharegpt-ua"]
    fragments = [f"{trainer_files[k]}.axolotl.yaml" for k in keys]
    rows = run_loader(python, "axolotl_load.py", out, trainer_files["model_dir"], work, out, *fragments)
    return {k: rows[f] for k, f in zip(keys, fragments, strict=True)}
