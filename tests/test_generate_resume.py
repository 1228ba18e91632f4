"""Long generation runs keep their work: each batch is written as it finishes, a stopped run
resumes from what it wrote, and an offline hub name fails at once."""

from __future__ import annotations

import json
import time

import pytest

from safetymix.errors import ConfigError
from safetymix.generate import GenerateConfig, generate, partial_path
from tests.tiny_models import one_torch_thread, tiny_examples, tiny_model_dir  # noqa: F401  (fixtures)

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"id": f"p{i}", "prompt": ex.prompt} for i, ex in enumerate(tiny_examples(10))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cfg(model_dir, prompts, out, **kw) -> GenerateConfig:
    base = dict(prompts=str(prompts), output=str(out), model=str(model_dir), num_beams=1, max_new_tokens=4)
    return GenerateConfig(**(base | dict(batch_size=3) | kw))


def test_batches_are_written_as_they_finish(tiny_model_dir, prompts, tmp_path, monkeypatch):  # noqa: F811
    import safetymix.generate as gen

    real = gen.load_model

    def stops_after_two_batches(config):
        model, tok = real(config)
        calls = {"n": 0}
        inner = model.generate

        def generate_then_stop(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # the user stops the run during the third batch
            return inner(*args, **kwargs)

        model.generate = generate_then_stop
        return model, tok

    out = tmp_path / "answers.jsonl"
    monkeypatch.setattr(gen, "load_model", stops_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg(tiny_model_dir, prompts, out))
    assert not out.exists()
    kept = [json.loads(x) for x in partial_path(out).read_text().splitlines()]
    assert len(kept) == 6  # two batches of 3
    monkeypatch.setattr(gen, "load_model", real)
    records = generate(cfg(tiny_model_dir, prompts, out))
    assert [r["id"] for r in records] == [f"p{i}" for i in range(10)]  # prompt order
    assert [json.loads(x) for x in out.read_text().splitlines()] == records
    assert not partial_path(out).exists()
    fresh = generate(cfg(tiny_model_dir, prompts, tmp_path / "fresh.jsonl"))
    assert records == fresh  # resumed == generated in one go (greedy)


def test_resume_keeps_what_is_written_and_cuts_a_torn_line(tiny_model_dir, prompts, tmp_path):  # noqa: F811
    out = tmp_path / "answers.jsonl"
    config = cfg(tiny_model_dir, prompts, out)
    first = generate(config.model_copy(update={"limit": 2, "output": str(tmp_path / "two.jsonl")}))
    planted = [r | {"response": f"planted {r['id']}"} for r in first]
    torn = json.dumps(planted[1])[:20]  # a run killed mid-write
    partial_path(out).write_text(json.dumps(planted[0]) + "\n" + torn, encoding="utf-8")
    records = generate(config)
    assert records[0]["response"] == "planted p0"  # resumed, not regenerated
    assert records[1]["response"] == first[1]["response"]  # the torn line was generated again
    assert len(records) == 10
    partial_path(out).write_text(json.dumps(planted[0]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds responses made with other settings"):
        generate(config.model_copy(update={"max_new_tokens": 8}))


def test_offline_hub_name_fails_at_once(tmp_path, prompts, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(
        ConfigError, match="'nobody/no-such-model' is not a local folder and not in the Hugging"
    ):
        generate(cfg("nobody/no-such-model", prompts, tmp_path / "a.jsonl"))
    assert time.perf_counter() - start < 5
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: unreachable
    with pytest.raises(ConfigError, match="the Hugging Face Hub cannot be reached"):
        generate(cfg("nobody/no-such-model", prompts, tmp_path / "a.jsonl"))
    assert time.perf_counter() - start < 10


def test_train_with_an_offline_hub_name_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    from safetymix.cli.main import main
    from safetymix.io import write_examples

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = write_examples(tmp_path / "train.jsonl", tiny_examples(4))
    start = time.perf_counter()
    args = ["train", str(data), "--model", "meta-llama/Llama-2-7b-hf", "--out", str(tmp_path / "o")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "model 'meta-llama/Llama-2-7b-hf' is not a local folder" in err and "Traceback" not in err
    assert time.perf_counter() - start < 10
