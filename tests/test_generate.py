"""Batched generation on a tiny random Llama: batch invariance, beams, adapters, JSONL, CLI."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from safetymix.cli.generate import generate_command
from safetymix.cli.options import build_config
from safetymix.errors import ConfigError, SafetymixError
from safetymix.generate import SETTING_KEYS, GenerateConfig, generate, generate_responses, resolve_config
from safetymix.schema import make_example
from tests.tiny_models import one_torch_thread, tiny_examples, tiny_model_dir  # noqa: F401  (fixtures)

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # TRL 1.16 reads a property that transformers 5.24 deprecated; nothing for us to change.
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
]


def varied_prompts():
    """Short, long and with-input prompts, so batches need real left padding."""
    prompts = tiny_examples(6)
    prompts.append(make_example("Hi", id="short"))
    prompts.append(make_example("Describe " + "the apple and the river " * 6, id="long"))
    return prompts


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):  # noqa: F811
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def chat_adapter(tiny_model_dir, tmp_path_factory):  # noqa: F811
    """A LoRA adapter folder trained (2 steps) with the chat template."""
    from safetymix.train import TrainConfig, train

    out = tmp_path_factory.mktemp("chat-lora")
    cfg = TrainConfig(
        model=str(tiny_model_dir), output_dir=str(out), template="chat", max_steps=2, learning_rate=1e-2
    )
    train(cfg, examples=tiny_examples(8))
    return out


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [
        {"id": f"p{i}", "prompt": ex.prompt, "categories": ["toy"]} for i, ex in enumerate(tiny_examples(5))
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("template", ["alpaca", "chat"])
def test_greedy_outputs_do_not_depend_on_the_batch(model_and_tokenizer, template):
    model, tok = model_and_tokenizer
    prompts = varied_prompts()
    kwargs = dict(template=template, num_beams=1, max_new_tokens=6)
    one = generate_responses(model, tok, prompts, batch_size=1, **kwargs)
    sixteen = generate_responses(model, tok, prompts, batch_size=16, **kwargs)
    three = generate_responses(model, tok, prompts, batch_size=3, **kwargs)
    assert one == sixteen == three
    assert len(one) == len(prompts) and any(one)


def test_greedy_matches_an_unpadded_forward_loop(model_and_tokenizer):
    """The first new token of each prompt is the argmax of the model on that prompt alone."""
    from safetymix.train.templates import encode_prompt

    model, tok = model_and_tokenizer
    prompts = varied_prompts()[:4]
    got = generate_responses(model, tok, prompts, num_beams=1, max_new_tokens=1, batch_size=4)
    for ex, text in zip(prompts, got, strict=True):
        ids = torch.tensor([encode_prompt(tok, ex, "alpaca")])
        with torch.no_grad():
            first = int(model(input_ids=ids).logits[0, -1].argmax())
        assert text == tok.decode([first], skip_special_tokens=True).strip()


def test_beam_search_runs_and_is_deterministic(model_and_tokenizer):
    model, tok = model_and_tokenizer
    prompts = varied_prompts()[:6]
    a = generate_responses(model, tok, prompts, num_beams=4, max_new_tokens=6, batch_size=3)
    b = generate_responses(model, tok, prompts, num_beams=4, max_new_tokens=6, batch_size=3)
    assert a == b and len(a) == 6 and all(isinstance(t, str) for t in a)


def test_generate_writes_jsonl_with_settings(tiny_model_dir, prompt_file, tmp_path):  # noqa: F811
    from safetymix.io import read_examples

    out = tmp_path / "answers.jsonl"
    cfg = GenerateConfig(
        prompts=str(prompt_file), output=str(out), model=str(tiny_model_dir), num_beams=1, max_new_tokens=5
    )
    records = generate(cfg)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == records and [r["id"] for r in lines] == ["p0", "p1", "p2", "p3", "p4"]
    first = lines[0]
    assert list(first) == [
        "id",
        "prompt",
        "instruction",
        "input",
        "response",
        "categories",
        "source",
        "generation",
    ]
    assert first["prompt"] == tiny_examples(1)[0].prompt and first["categories"] == ["toy"]
    assert list(first["generation"]) == list(SETTING_KEYS)
    assert first["generation"] == {
        "engine": "hf",
        "model": str(tiny_model_dir),
        "adapter": None,
        "template": "alpaca",
        "num_beams": 1,
        "max_new_tokens": 5,
        "batch_size": 8,
        "seed": 0,
    }
    sidecar = json.loads((tmp_path / "answers.jsonl.config.json").read_text())
    assert sidecar["n_prompts"] == 5 and sidecar["template"] == "alpaca"
    back = read_examples(out)  # the judge stage reads it as instruction/input/response
    assert [e.response for e in back] == [r["response"] for r in records]


def test_adapter_folder_gives_base_model_and_training_template(chat_adapter, tiny_model_dir, prompt_file):  # noqa: F811
    resolved = resolve_config(GenerateConfig(prompts=str(prompt_file), adapter=str(chat_adapter)))
    assert resolved.model == str(tiny_model_dir) and resolved.template == "chat"
    as_model = resolve_config(GenerateConfig(prompts=str(prompt_file), model=str(chat_adapter)))
    assert as_model.adapter == str(chat_adapter) and as_model.model == str(tiny_model_dir)
    explicit = resolve_config(GenerateConfig(prompts="x", adapter=str(chat_adapter), template="alpaca"))
    assert explicit.template == "alpaca"


def test_generate_with_adapter_matches_the_merged_model(chat_adapter, tiny_model_dir, prompt_file):  # noqa: F811
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = GenerateConfig(prompts=str(prompt_file), adapter=str(chat_adapter), num_beams=1, max_new_tokens=6)
    records = generate(cfg)
    assert records[0]["generation"]["adapter"] == str(chat_adapter)
    assert records[0]["generation"]["template"] == "chat"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, chat_adapter)
    tok = AutoTokenizer.from_pretrained(chat_adapter)
    prompts = [make_example(r["instruction"], input=r["input"]) for r in records]
    expected = generate_responses(model, tok, prompts, template="chat", num_beams=1, max_new_tokens=6)
    assert [r["response"] for r in records] == expected


def test_cli_generate_in_process(tiny_model_dir, prompt_file, tmp_path):  # noqa: F811
    app = typer.Typer()
    app.command("generate")(generate_command)
    app.command("unused")(lambda: None)  # two commands: typer keeps the subcommand name
    out = tmp_path / "cli.jsonl"
    args = ["generate", str(prompt_file), "--model", str(tiny_model_dir), "--out", str(out)]
    args += ["--num-beams", "2", "--max-new-tokens", "3", "--limit", "3", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3 and lines[0]["generation"]["num_beams"] == 2


def test_config_errors(tiny_model_dir, tmp_path):  # noqa: F811
    yaml_file = tmp_path / "gen.yaml"
    yaml_file.write_text("prompts: p.jsonl\nmodel: m\nbeams: 4\n")
    with pytest.raises(SafetymixError, match="beams"):
        build_config(GenerateConfig, yaml_file)
    with pytest.raises(SafetymixError, match="give a model"):
        build_config(GenerateConfig, None, prompts="p.jsonl")
    with pytest.raises(ConfigError, match="has no adapter_config.json"):
        resolve_config(GenerateConfig(prompts="p", model=str(tiny_model_dir), adapter=str(tmp_path)))
    with pytest.raises(ConfigError, match="must be >= 1"):
        generate_responses(None, None, ["x"], batch_size=0)


def test_bfloat16_weights_on_a_cpu_without_native_bf16_warn(tiny_model_dir, prompt_file):  # noqa: F811
    # the generation side of tests/train/test_lora.py's bf16 test: load_model warns about
    # emulated bfloat16 iff the CPU lacks avx512_bf16/amx_bf16, and never for float32
    import warnings

    from safetymix.generate.hf import load_model
    from safetymix.models import cpu_native_bf16

    cfg = GenerateConfig(prompts=str(prompt_file), model=str(tiny_model_dir), device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = load_model(resolve_config(cfg.model_copy(update={"dtype": "bfloat16"})))
        assert next(model.parameters()).dtype == torch.bfloat16
        model, _ = load_model(resolve_config(cfg.model_copy(update={"dtype": "float32"})))
        assert next(model.parameters()).dtype == torch.float32
    emulated = [w for w in caught if "emulates" in str(w.message)]
    assert len(emulated) == (0 if cpu_native_bf16() else 1)
    assert not emulated or "generation (use --dtype float32" in str(emulated[0].message)


def test_vllm_engine(tiny_model_dir, prompt_file):  # noqa: F811
    pytest.importorskip("vllm", reason="vLLM is not installed (optional extra: safetymix[vllm])")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    cfg = GenerateConfig(prompts=str(prompt_file), model=str(tiny_model_dir), engine="vllm", num_beams=1)
    hf = generate(cfg.model_copy(update={"engine": "hf"}))
    vllm = generate(cfg)
    assert [r["id"] for r in vllm] == [r["id"] for r in hf]
    assert all(r["generation"]["engine"] == "vllm" for r in vllm)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_train_then_generate(tiny_model_dir, prompt_file, tmp_path):  # noqa: F811
    """GPU smoke test: bf16 autocast training, then generation from the adapter on CUDA."""
    from safetymix.train import TrainConfig, train

    out = tmp_path / "gpu-lora"
    cfg = TrainConfig(model=str(tiny_model_dir), output_dir=str(out), max_steps=4, learning_rate=1e-2)
    result = train(cfg, examples=tiny_examples(16))
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["device"] == "cuda" and saved["mixed_precision"] in ("bf16", "no")
    assert result.final_loss is not None
    gen = GenerateConfig(prompts=str(prompt_file), adapter=str(out), num_beams=4, max_new_tokens=5)
    records = generate(gen)
    assert len(records) == 5 and all(isinstance(r["response"], str) for r in records)
    greedy = generate(gen.model_copy(update={"num_beams": 1, "device": "cuda", "dtype": "float32"}))
    assert len(greedy) == 5
