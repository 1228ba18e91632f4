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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: PEFT's shortcut for "every linear layer except the output head".
ALL_LINEAR = "all-linear"


class TrainConfig(BaseModel):
    """Supervised fine-tuning options (YAML keys and CLI flags share these names).

    Parameters
    ----------
    model : str
        Hugging Face model name or local folder of a causal LM, or a ``.gguf`` file (its own
        tokenizer and chat template are used; weights de-quantized to float32) (required).
    gguf_file : str, optional
        A GGUF file name inside the ``model`` folder or Hub repository.
    data : str, optional
        Training file: anything :func:`safetymix.io.read_examples` reads (the mix written by
        ``safetymix mix``, Alpaca JSON, ShareGPT, JSONL, ...). Required unless
        :func:`~safetymix.train.train` is given ``examples``.
    data_format : str, optional
        ``format`` passed to ``read_examples``; default None detects it.
    output_dir : str
        Where the adapter (or model), tokenizer, ``train_config.json`` and
        ``training_log.json`` go (required).
    overwrite : bool, default False
        Write into an ``output_dir`` that is not empty. Off by default so that a new run
        never mixes its files with an older run's (say, a LoRA adapter next to full weights).
    template : {"alpaca", "chat"}, default "alpaca"
        Prompt format; ``"alpaca"`` is the paper's, ``"chat"`` the tokenizer's chat template.
    method : {"lora", "full"}, default "lora"
        LoRA adapters through PEFT (the paper), or full fine-tuning of every weight.
    lora_r, lora_alpha, lora_dropout : int, int, float; default 8, 16, 0.05
        LoRA rank, scaling numerator and dropout (Alpaca-LoRA's values). Ignored by ``"full"``.
    lora_target_modules : list of str or "all-linear", default ["q_proj", "v_proj"]
        Module names that get adapters. A comma-separated string is split.
    merge_lora : bool, default False
        Fold the trained adapter into the base weights and save a full model folder
        (safetensors) instead of the adapter; e.g. to start a later fine-tuning from it.
    num_train_epochs : float, default 3.0
    max_steps : int, optional
        Stop after this many optimiser steps (overrides the epochs); None trains all epochs.
    learning_rate : float, default 3e-4
    lr_scheduler_type : str, default "linear"
        Any ``transformers`` scheduler name (``"cosine"``, ``"constant"``, ...).
    warmup_steps : int, default 0
    weight_decay : float, default 0.0
    per_device_train_batch_size : int, default 4
    gradient_accumulation_steps : int, default 1
    max_length : int, default 512
        Longer sequences are cut at the end (Alpaca-LoRA's cutoff is 256-512 tokens).
    completion_only_loss : bool, default True
        Loss on the response tokens only; False trains on the prompt too.
    logging_steps : int, default 10
        Steps between two entries of the training log (step 1 is always logged).
    gradient_checkpointing : bool, default False
        Trade compute for memory (TRL turns it on by default; tiny and CPU runs don't need it).
    loss_kernel : {"auto", "trl", "plain"}, default "auto"
        How the loss is computed. ``"trl"``: TRL's fused, chunked LM head, which never holds
        the full ``batch x length x vocab`` logits and logs entropy and token accuracy (best
        for large vocabularies on a GPU). ``"plain"``: the model's own forward projects only
        the positions that predict a response token (``logits_to_keep``) and the loss is
        their mean cross-entropy, with nothing extra logged; on CPU it was 2.9x faster per
        step for the forgetting benchmark's model (benchmarks/perf/train_loss_kernel.py).
        ``"auto"``: ``"plain"`` on CPU, ``"trl"`` on CUDA. Both give the same loss.
    device : {"auto", "cpu", "cuda"}, default "auto"
        ``"auto"`` uses CUDA when available.
    mixed_precision : {"auto", "no", "bf16", "fp16"}, default "auto"
        ``"auto"`` is bf16 on a GPU that supports it, else none. CPU runs take ``"no"``.
    dtype : {"float32", "bfloat16", "float16"}, default "float32"
        Dtype the weights are loaded in (mixed precision autocasts on top of float32).
    trust_remote_code : bool, default False
    seed : int, default 0
        Seeds PEFT's adapter initialisation, data order and dropout.
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    gguf_file: str | None = None
    data: str | None = None
    data_format: str | None = None
    output_dir: str
    overwrite: bool = False
    template: Literal["alpaca", "chat"] = "alpaca"
    method: Literal["lora", "full"] = "lora"
    lora_r: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    lora_target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "v_proj"]
    )
    merge_lora: bool = False
    num_train_epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float = Field(3e-4, gt=0)
    lr_scheduler_type: str = "linear"
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    per_device_train_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(512, ge=8)
    completion_only_loss: bool = True
    logging_steps: int = Field(10, ge=1)
    gradient_checkpointing: bool = False
    loss_kernel: Literal["auto", "trl", "plain"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    trust_remote_code: bool = False
    seed: int = 0

    @field_validator("model", "output_dir")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
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
        if self.device == "cpu" and self.mixed_precision in ("bf16", "fp16"):
            raise ValueError(
                f"mixed_precision {self.mixed_precision!r} needs a GPU; use 'no' (or 'auto') on CPU"
            )
        return self


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
