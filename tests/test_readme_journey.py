"""The README's journey, run as written: its bash blocks are parsed from README.md, so the
test fails when the README drifts from what the commands do.

Only three things differ from a user's run: ``pool.json`` and ``my_data.json`` are the
Bianchi safety pool and alpaca_en_demo from ``../shared/datasets``, the 7B model name is a
tiny local model, and ``train`` stops after 2 steps.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from safetymix.cli.main import main
from tests.conftest import BIANCHI_POOL, DATASETS, REPO
from tests.tiny_models import one_torch_thread, tiny_model_dir  # noqa: F401  (fixtures)

pytest.importorskip("transformers")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
SECTIONS = ("## The journey of your data", "## Train, generate, judge, evaluate", "## Use with your trainer")


def readme_commands(readme: Path = REPO / "README.md") -> list[list[str]]:
    """The ``safetymix`` commands of the bash blocks in :data:`SECTIONS`, in order."""
    text = readme.read_text(encoding="utf-8")
    commands = []
    for heading in SECTIONS:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        body = text[start : end if end != -1 else len(text)]
        for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip()
                if line.startswith("safetymix "):
                    commands.append(shlex.split(line))
    return commands


def test_readme_commands_are_found() -> None:
    names = [c[1] for c in readme_commands()]
    assert names[:3] == ["label", "select", "mix"] and "train" in names and "generate" in names
    assert names.count("mix") == 4 and names[-1] == "mix"


def test_readme_journey_runs_as_written(tmp_path, monkeypatch, tiny_model_dir, capsys) -> None:  # noqa: F811
    (tmp_path / "pool.json").symlink_to(BIANCHI_POOL)
    (tmp_path / "my_data.json").symlink_to(DATASETS / "alpaca_en_demo" / "alpaca_en_demo.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAFETYMIX_DATASETS", str(DATASETS))  # the README runs from the repo root
    from tests.tiny_models import write_tiny_gguf

    (tmp_path / "gguf").mkdir()
    gguf = write_tiny_gguf(tmp_path / "gguf" / "tiny.gguf")  # the README's $GGUF (SmolLM2 there)
    shell = {"$GGUF": str(gguf), "$(dirname $GGUF)": str(gguf.parent), "$(basename $GGUF)": gguf.name}
    for argv in readme_commands():
        argv = [shell.get(a, a) for a in argv]
        argv = [str(tiny_model_dir) if a == "meta-llama/Llama-2-7b-hf" else a for a in argv[1:]]
        argv = [a.replace("../shared/datasets", str(DATASETS)) for a in argv]
        if argv[0] == "train":
            argv += ["--max-steps", "2"]
        code = main(argv)
        assert code == 0, f"safetymix {' '.join(argv)} exited {code}:\n{capsys.readouterr().err[-2000:]}"
    manifest = json.loads((tmp_path / "train.json.manifest.json").read_text())
    assert manifest["counts"]["benign"] == 985 and manifest["counts"]["benign_duplicates_dropped"] == 14
    assert manifest["counts"]["picks"] == 100
    responses = (tmp_path / "responses.jsonl").read_text().splitlines()
    assert len(responses) == len((tmp_path / "prompts.jsonl").read_text().splitlines()) > 700
    assert len((tmp_path / "eval.json.items.jsonl").read_text().splitlines()) == len(responses)
    for name in ("train.json.llamafactory.yaml", "train.jsonl.axolotl.yaml", "train.pc.jsonl.trl.yaml"):
        assert (tmp_path / "data" / name).is_file()
    assert "train" in json.loads((tmp_path / "data" / "dataset_info.json").read_text())
