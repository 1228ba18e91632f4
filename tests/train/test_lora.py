"""Training a tiny random Llama on CPU: loss, which weights move, adapter reload, loss mask."""

from __future__ import annotations

import json
import os

import pytest

from safetymix.errors import ConfigError, DataFormatError
from safetymix.schema import make_example
from safetymix.train import TrainConfig, build_trainer, train
from safetymix.train.templates import encode_example, encode_prompt
from tests.tiny_models import one_torch_thread, tiny_examples, tiny_model_dir  # noqa: F401  (fixtures)
from tests.tiny_models import tiny_train_config as small_config

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # TRL 1.16 reads a property that transformers 5.24 deprecated; nothing for us to change.
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
]


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("lora")
    return train(small_config(tiny_model_dir, out), examples=tiny_examples(40))


def base_state(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir).state_dict()


def test_lora_loss_goes_down_and_outputs_are_written(lora_run):
    result = lora_run
    losses = [e["loss"] for e in result.log_history if "loss" in e]
    assert result.global_step == 24 and len(losses) == 7  # step 1, then every 4 steps
    assert result.first_loss == losses[0] and result.final_loss == losses[-1]
    assert result.final_loss < result.first_loss - 0.3
    assert 0 < result.trainable_params < result.total_params / 5
    out = result.output_dir
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "train_config.json"):
        assert (out / name).is_file(), name
    assert not (out / "model.safetensors").exists()
    saved = TrainConfig(**json.loads((out / "train_config.json").read_text()))
    assert (
        saved.device == "cpu" and saved.mixed_precision == "no" and saved.lora_target_modules == "all-linear"
    )
    log = json.loads((out / "training_log.json").read_text())
    assert log["final_loss"] == result.final_loss and log["log_history"] == result.log_history
    assert log["versions"]["trl"] != "absent"


def test_lora_moves_adapter_weights_and_leaves_base_weights(lora_run, tiny_model_dir):  # noqa: F811
    before = base_state(tiny_model_dir)
    model = lora_run.model
    lora_b = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b.values())  # PEFT starts B at zero
    assert all(p.requires_grad == ("lora_" in n) for n, p in model.named_parameters())
    after = model.get_base_model().state_dict()
    n_checked = 0
    for name, tensor in before.items():
        key = name.replace(".weight", ".base_layer.weight")
        key = key if key in after else name
        assert torch.equal(after[key], tensor), name
        n_checked += 1
    assert n_checked == len(before)


def test_saved_adapter_reloads_with_the_same_logits(lora_run, tiny_model_dir):  # noqa: F811
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tok = lora_run.tokenizer
    batch = tok(["The apple is red.", "What colour is the lamp?"], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = lora_run.model(**batch).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        plain = base(**batch).logits
        reloaded = PeftModel.from_pretrained(base, lora_run.output_dir).eval()
        got = reloaded(**batch).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter does something


def test_full_finetuning_changes_base_weights(tiny_model_dir, tmp_path):  # noqa: F811
    cfg = small_config(tiny_model_dir, tmp_path / "full", method="full", max_steps=4, learning_rate=1e-3)
    result = train(cfg, examples=tiny_examples(16))
    assert result.trainable_params == result.total_params
    assert (tmp_path / "full" / "model.safetensors").is_file()
    assert not (tmp_path / "full" / "adapter_config.json").exists()
    before, after = base_state(tiny_model_dir), base_state(tmp_path / "full")
    assert before.keys() == after.keys()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert len(changed) == len(before)


@pytest.mark.parametrize("template", ["alpaca", "chat"])
def test_only_response_tokens_carry_labels(tiny_model_dir, tmp_path, template):  # noqa: F811
    examples = tiny_examples(6)  # the fifth one has an input
    trainer, _ = build_trainer(small_config(tiny_model_dir, tmp_path, template=template), examples=examples)
    tok = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(examples))])
    for row, ex in enumerate(examples):
        prompt = encode_prompt(tok, ex, template)
        n = int(batch["attention_mask"][row].sum())
        ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
        assert ids[: len(prompt)] == prompt  # the training prompt is the generation prompt
        assert labels[: len(prompt)] == [-100] * len(prompt)
        assert labels[len(prompt) : n] == ids[len(prompt) : n]
        assert labels[n:] == [-100] * (len(labels) - n)  # padding
        assert ids[n - 1 if template == "alpaca" else n - 2] == tok.eos_token_id  # the model learns to stop
        answer = tok.decode(ids[len(prompt) : n], skip_special_tokens=True)
        assert answer.strip() == ex.response
        assert encode_example(tok, ex, template) == (ids[:n], len(prompt))  # what eval's loss uses


def test_completion_only_loss_off_trains_on_the_prompt(tiny_model_dir, tmp_path):  # noqa: F811
    cfg = small_config(tiny_model_dir, tmp_path, completion_only_loss=False)
    trainer, _ = build_trainer(cfg, examples=tiny_examples(2))
    batch = trainer.data_collator([trainer.train_dataset[0]])
    assert (batch["labels"][0] != -100).all()


def test_reads_the_data_file(tiny_model_dir, tmp_path):  # noqa: F811
    path = tmp_path / "alpaca.json"
    rows = [{"instruction": e.instruction, "input": e.input, "output": e.response} for e in tiny_examples(8)]
    path.write_text(json.dumps(rows))
    trainer, resolved = build_trainer(small_config(tiny_model_dir, tmp_path / "o", data=str(path)))
    assert len(trainer.train_dataset) == 8
    assert resolved.data == str(path)


def test_same_seed_same_run(tiny_model_dir, tmp_path):  # noqa: F811
    runs = [
        train(
            small_config(tiny_model_dir, tmp_path / name, max_steps=3, logging_steps=1),
            examples=tiny_examples(8),
        )
        for name in ("a", "b")
    ]
    assert [e["loss"] for e in runs[0].log_history if "loss" in e] == [
        e["loss"] for e in runs[1].log_history if "loss" in e
    ]
    a, b = (dict(r.model.named_parameters()) for r in runs)
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_long_prompts_are_dropped_with_a_warning(tiny_model_dir, tmp_path):  # noqa: F811
    examples = tiny_examples(4) + [make_example("word " * 80, "ok", id="long")]
    with pytest.warns(RuntimeWarning, match="1 of 5 training example"):
        trainer, _ = build_trainer(small_config(tiny_model_dir, tmp_path, max_length=64), examples=examples)
    assert len(trainer.train_dataset) == 4
    with pytest.raises(DataFormatError, match="every prompt fills max_length=8"):
        build_trainer(small_config(tiny_model_dir, tmp_path, max_length=8), examples=examples)


def test_data_errors(tiny_model_dir, tmp_path):  # noqa: F811
    cfg = small_config(tiny_model_dir, tmp_path)
    with pytest.raises(ConfigError, match="no training data"):
        build_trainer(cfg)
    with pytest.raises(ConfigError, match="not both"):
        build_trainer(cfg.model_copy(update={"data": "x.json"}), examples=tiny_examples(2))
    empty = [make_example("Say nothing.", "", id="silent")]
    with pytest.raises(DataFormatError, match="empty response: 'silent'"):
        build_trainer(cfg, examples=empty)
    with pytest.raises(DataFormatError, match="no training examples"):
        build_trainer(cfg, examples=[])


def test_refuses_a_used_output_folder(tiny_model_dir, tmp_path):  # noqa: F811
    (tmp_path / "old.txt").write_text("an earlier run")
    cfg = small_config(tiny_model_dir, tmp_path)
    with pytest.raises(ConfigError, match="is not empty"):
        build_trainer(cfg, examples=tiny_examples(2))
    trainer, _ = build_trainer(cfg.model_copy(update={"overwrite": True}), examples=tiny_examples(2))
    assert len(trainer.train_dataset) == 2


def test_chat_template_missing_is_an_error(tiny_model_dir, tmp_path):  # noqa: F811
    import shutil

    copy = tmp_path / "no-chat"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "chat_template.jinja").unlink()
    with pytest.raises(ConfigError, match="has none"):
        build_trainer(small_config(copy, tmp_path / "o", template="chat"), examples=tiny_examples(2))


def test_plain_and_trl_loss_kernels_agree(tiny_model_dir, tmp_path):  # noqa: F811
    """The plain cross-entropy (CPU default) trains the same model as TRL's fused kernel."""
    runs = {
        kernel: train(
            small_config(tiny_model_dir, tmp_path / kernel, max_steps=3, logging_steps=1, loss_kernel=kernel),
            examples=tiny_examples(16),
        )
        for kernel in ("plain", "trl")
    }
    losses = {k: [e["loss"] for e in r.log_history if "loss" in e] for k, r in runs.items()}
    assert len(losses["plain"]) == 3
    assert losses["plain"] == pytest.approx(losses["trl"], rel=1e-4)
    # TRL's kernel logs token accuracy; the plain loss adds nothing to the log.
    assert any("mean_token_accuracy" in e for e in runs["trl"].log_history)
    assert not any("mean_token_accuracy" in e for e in runs["plain"].log_history)
    plain, fused = (dict(r.model.named_parameters()) for r in runs.values())
    # float32 reductions in a different order: after 3 Adam steps the weights differ by
    # float noise (measured 1.06e-5 with transformers 5.24 / TRL 1.16 / torch 2.13 CPU)
    worst = max(float((plain[n] - fused[n]).abs().max()) for n in plain)
    assert worst < 5e-5, worst
    saved = json.loads((runs["plain"].output_dir / "train_config.json").read_text())
    assert saved["loss_kernel"] == "plain"


def test_auto_loss_kernel_is_plain_on_cpu(tiny_model_dir, tmp_path):  # noqa: F811
    from safetymix.train.lora import resolve_config

    assert resolve_config(small_config(tiny_model_dir, tmp_path)).loss_kernel == "plain"
    assert resolve_config(small_config(tiny_model_dir, tmp_path, loss_kernel="trl")).loss_kernel == "trl"
    # the fp16 rule (train.config.check_precision) also holds once device "auto" resolves
    # to the CPU (the config alone cannot know where it will run)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="needs a GPU"):
            resolve_config(small_config(tiny_model_dir, tmp_path, device="auto", mixed_precision="fp16"))


def test_bf16_on_a_cpu_without_native_bf16_warns(tiny_model_dir, tmp_path):  # noqa: F811
    # torch emulates bfloat16 on a CPU without avx512_bf16/amx_bf16: SmolLM2-135M generated
    # 2.7x slower in bfloat16 than in float32 there (benchmarks/perf/smollm2_speed.py), so
    # resolve_config says so, and only then.
    import warnings

    from safetymix.models import cpu_native_bf16
    from safetymix.train.lora import resolve_config

    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    assert cpu_native_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_config(small_config(tiny_model_dir, tmp_path, device="cpu", mixed_precision="bf16"))
        resolve_config(small_config(tiny_model_dir, tmp_path, device="cpu", mixed_precision="no"))
    emulated = [w for w in caught if "emulates" in str(w.message)]
    assert len(emulated) == (0 if cpu_native_bf16() else 1)


def test_bf16_autocast_trains_on_cpu(tiny_model_dir, tmp_path, lora_run):  # noqa: F811
    # bf16 autocast is a CPU speed lever where the CPU has avx512_bf16 (about 1.5x per step
    # on SmolLM2-135M there; emulated and slower elsewhere, see the test above); the
    # adapter stays float32 and the run learns like the float32 one.
    cfg = small_config(tiny_model_dir, tmp_path / "bf16", mixed_precision="bf16")
    result = train(cfg, examples=tiny_examples(40))
    saved = TrainConfig(**json.loads((result.output_dir / "train_config.json").read_text()))
    assert saved.device == "cpu" and saved.mixed_precision == "bf16"
    assert result.final_loss < result.first_loss - 0.3
    assert abs(result.final_loss - lora_run.final_loss) < 0.25
    lora_b = [p for n, p in result.model.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.dtype == torch.float32 for p in lora_b)
