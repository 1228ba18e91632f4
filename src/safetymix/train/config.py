"""Options of ``safetymix train`` and what a run returns.

Defaults follow the paper's setting (Alpaca-LoRA on Llama-2 as in Bianchi et al.: LoRA rank
8, alpha 16, dropout 0.05 on ``q_proj``/``v_proj``, learning rate 3e-4, 3 epochs, Alpaca
template), scaled to one device: the micro-batch is 4 rather than Alpaca-LoRA's 128
(raise ``gradient_accumulation_steps`` to match it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from safetymix.io.formats import READ_FORMATS
from safetymix.io.readers import DEFAULT_DUPLICATES, DUPLICATES_HELP
from safetymix.stage_config import StageConfig

#: PEFT's shortcut for "every linear layer except the output head".
ALL_LINEAR = "all-linear"


class TrainConfig(StageConfig):
    """Supervised fine-tuning options (YAML keys are the field names, CLI flags their kebab case).

    ``loss_kernel``: ``"trl"`` is TRL's fused, chunked LM head, which never holds the full
    ``batch x length x vocab`` logits and logs entropy and token accuracy (best for large
    vocabularies on a GPU); ``"plain"`` lets the model's own forward project only the
    positions that predict a response token (``logits_to_keep``), 2.9x faster per step on
    CPU for the forgetting benchmark's model (benchmarks/perf/train_loss_kernel.py). Both
    give the same loss. ``overwrite`` is off so that a new run never mixes its files with an
    older run's (say, a LoRA adapter next to full weights).
    """

    model: str = Field(
        description="Hugging Face causal LM name or local folder, or a .gguf file (its own tokenizer and "
        "chat template; weights de-quantized to float32)"
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside the model folder or Hub repo")
    data: str | None = Field(
        None,
        description="training file: the mix from safetymix mix, Alpaca JSON, ShareGPT, JSONL, ... "
        "(required unless train() is given examples)",
    )
    data_format: Literal[tuple(READ_FORMATS)] | None = Field(  # type: ignore[valid-type]
        None, description="format of DATA (default: detected)"
    )
    duplicates: Literal["error", "drop", "keep"] = Field(
        DEFAULT_DUPLICATES,
        description=DUPLICATES_HELP + "; a mix made with --upsample 2+ asks for keep",
    )
    output_dir: str = Field(
        description="output folder: adapter or model, tokenizer, train_config.json, training_log.json",
        json_schema_extra={"flags": ["--out", "-o"]},
    )
    overwrite: bool = Field(False, description="write into a non-empty output folder")
    template: Literal["alpaca", "chat"] = Field(
        "alpaca", description="prompt format: the paper's alpaca, or the tokenizer's chat template"
    )
    method: Literal["lora", "full"] = Field(
        "lora", description="LoRA adapters through PEFT (the paper), or every weight"
    )
    lora_r: int = Field(8, ge=1, description="LoRA rank (Alpaca-LoRA's value)")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling numerator")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="LoRA dropout")
    lora_target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="comma-separated module names that get adapters, or all-linear",
    )
    merge_lora: bool = Field(
        False,
        description="fold the trained adapter into the base weights and save a full model folder "
        "instead of the adapter (e.g. to start a later fine-tuning from it)",
    )
    num_train_epochs: float = Field(
        3.0, gt=0, description="training epochs", json_schema_extra={"flags": ["--epochs"]}
    )
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimiser steps (overrides the epochs)"
    )
    learning_rate: float = Field(3e-4, gt=0, description="peak learning rate")
    lr_scheduler_type: str = Field("linear", description="any transformers scheduler name (cosine, ...)")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    per_device_train_batch_size: int = Field(
        4, ge=1, description="examples per device and step", json_schema_extra={"flags": ["--batch-size"]}
    )
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimiser step")
    max_length: int = Field(512, ge=8, description="tokens per example; longer ones are cut at the end")
    completion_only_loss: bool = Field(True, description="loss on response tokens only (off: prompt too)")
    logging_steps: int = Field(10, ge=1, description="steps between training-log entries (step 1 always)")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory")
    loss_kernel: Literal["auto", "trl", "plain"] = Field(
        "auto", description="TRL's fused LM-head loss or the model's own; auto: plain on CPU, trl on CUDA"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto uses CUDA when available")
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on a GPU that supports it, else none; bf16 runs on CPU too (autocast)"
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="dtype the weights are loaded in"
    )
    trust_remote_code: bool = Field(False, description="run a model repository's own code")
    probe_every: int | None = Field(
        None,
        ge=1,
        description="safety probe at step 0 and every N steps: harmful refusal and over-refusal "
        "on the shipped probe set, logged with the losses (SafetyProbeCallback)",
    )
    probe_max_drop: float | None = Field(
        None, ge=0, le=100, description="points of harmful refusal below step 0 that trigger --probe-action"
    )
    probe_action: Literal["warn", "stop"] = Field("warn", description="warn, or stop training, on that drop")
    seed: int = Field(0, ge=0, description="seeds adapter initialisation, data order and dropout")

    @field_validator("model", "output_dir")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("model")
    @classmethod
    def _local_model_exists(cls, value: str) -> str:
        # "/x", "./x", "~/x" can only be a local folder (a Hub name is "owner/name")
        if value.startswith(("/", ".", "~")) and not Path(value).expanduser().exists():
            raise ValueError(f"no such model folder {value!r} (a local path; Hub names look like owner/name)")
        return value

    @field_validator("lora_target_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str) and value != ALL_LINEAR:
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and not value:
            raise ValueError(f"name at least one module (e.g. q_proj,v_proj) or {ALL_LINEAR!r}")
        return value

    @model_validator(mode="after")
    def _check_precision(self) -> TrainConfig:
        check_precision(self.device, self.mixed_precision)
        return self


def check_precision(device: str, mixed_precision: str) -> None:
    """The one rule for precision vs device: fp16 needs a GPU. Raises ValueError.

    Checked when the config is built (an explicit ``device: cpu``) and again once
    ``auto`` has resolved to the CPU (``train.lora.resolve_config``).
    """
    if device == "cpu" and mixed_precision == "fp16":
        raise ValueError("mixed_precision 'fp16' needs a GPU; use 'bf16' (autocast) or 'no' on CPU")


@dataclass
class TrainResult:
    """What :func:`~safetymix.train.train` returns.

    Parameters
    ----------
    output_dir : Path
        Holds the adapter or model, the tokenizer, ``train_config.json`` and ``training_log.json``.
    final_loss : float or None
        The last logged training loss (mean over the last ``logging_steps`` steps); None when
        nothing was logged.
    first_loss : float or None
        The first logged training loss (step 1).
    train_loss : float
        Mean training loss over the whole run (``TrainOutput.training_loss``).
    global_step : int
        Optimiser steps taken.
    n_examples : int
        Training examples after tokenisation and truncation.
    trainable_params, total_params : int
        Parameter counts (LoRA: adapter weights only are trainable).
    seconds : float
        Wall-clock time of ``trainer.train()``.
    log_history : list of dict
        ``trainer.state.log_history``: one dict per logging step, then a run summary.
    model : transformers.PreTrainedModel or peft.PeftModel
        The trained model, in eval mode (for callers that go on in memory, e.g. to
        :func:`safetymix.generate.generate_responses`).
    tokenizer : PreTrainedTokenizerBase
        Its tokenizer, as saved in ``output_dir``.
    """

    output_dir: Path
    final_loss: float | None
    first_loss: float | None
    train_loss: float
    global_step: int
    n_examples: int
    trainable_params: int
    total_params: int
    seconds: float
    log_history: list[dict[str, Any]] = field(default_factory=list)
    model: Any = field(default=None, repr=False)
    tokenizer: Any = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """Everything but the log history, JSON-ready."""
        return {
            "output_dir": str(self.output_dir),
            "first_loss": self.first_loss,
            "final_loss": self.final_loss,
            "train_loss": self.train_loss,
            "global_step": self.global_step,
            "n_examples": self.n_examples,
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "seconds": round(self.seconds, 3),
        }
