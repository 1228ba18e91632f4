"""Supervised fine-tuning with TRL's ``SFTTrainer``: LoRA through PEFT, or every weight.

The examples become a TRL *prompt-completion* dataset (:mod:`safetymix.train.templates`),
so TRL's ``completion_only_loss`` masks the prompt: while preparing the dataset it
tokenizes the prompt alone and the prompt plus completion, and sets the labels of the
prompt tokens to -100. torch, transformers, TRL and PEFT are imported inside the functions,
so importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError, MissingDependencyError
from safetymix.io.manifest import write_json
from safetymix.io.progress import quiet_third_party_bars
from safetymix.schema import Example
from safetymix.train.config import ALL_LINEAR, TrainConfig, TrainResult, check_precision
from safetymix.train.templates import check_template, to_prompt_completion

logger = logging.getLogger(__name__)

#: Files written next to the adapter or model.
CONFIG_FILE = "train_config.json"
LOG_FILE = "training_log.json"

_INSTALL_HINT = "install the training extra: pip install 'safetymix[train]'"


def train(
    config: TrainConfig, *, examples: Sequence[Example] | None = None, show_progress: bool = False
) -> TrainResult:
    """Fine-tune ``config.model`` on the examples and save the result in ``config.output_dir``.

    Parameters
    ----------
    config : TrainConfig
        Model, data, template, LoRA and optimiser settings.
    examples : sequence of Example, optional
        Train on these instead of reading ``config.data`` (for callers that hold the data in
        memory, e.g. benchmarks). Giving both raises.
    show_progress : bool, default False
        Show the trainer's and the data preparation's progress bars.

    Returns
    -------
    TrainResult
        Output folder, first/final logged loss, mean loss, steps, the log history, and the
        trained model and tokenizer.

    Raises
    ------
    ConfigError
        Both or neither of ``config.data`` and ``examples``; ``"chat"`` template without a
        chat template; CUDA asked for but absent; ``output_dir`` not empty (and no
        ``overwrite``).
    DataFormatError
        Unreadable data, no examples, or examples with an empty response.
    MissingDependencyError
        transformers, TRL or PEFT is not installed.

    Examples
    --------
    >>> cfg = TrainConfig(model="meta-llama/Llama-2-7b-hf", data="mix.jsonl", output_dir="out/lora")
    >>> result = train(cfg)  # doctest: +SKIP
    >>> result.final_loss < result.first_loss  # doctest: +SKIP
    True
    """
    out = Path(config.output_dir)
    with quiet_third_party_bars(not show_progress):
        trainer, resolved = build_trainer(config, examples=examples, show_progress=show_progress)
        if config.probe_every is not None:
            from safetymix.integrations.probe import SafetyProbeCallback

            probe = SafetyProbeCallback(
                config.probe_every,
                template=config.template,
                max_drop=config.probe_max_drop,
                action=config.probe_action,
            )
            probe.attach(trainer)
        start = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - start
        trainable, total = count_parameters(trainer.model)
        out.mkdir(parents=True, exist_ok=True)
        if config.merge_lora and config.method == "lora":
            # The adapter folded into the base weights: a plain model folder (safetensors).
            trainer.model = trainer.model.merge_and_unload()
            trainer.model.save_pretrained(str(out))
            trainer.processing_class.save_pretrained(str(out))
        else:
            trainer.save_model(str(out))
            _record_gguf_base(out, resolved)

    history = list(trainer.state.log_history)
    losses = [entry["loss"] for entry in history if "loss" in entry]
    result = TrainResult(
        output_dir=out,
        final_loss=losses[-1] if losses else None,
        first_loss=losses[0] if losses else None,
        train_loss=float(output.training_loss),
        global_step=int(output.global_step),
        n_examples=len(trainer.train_dataset),
        trainable_params=trainable,
        total_params=total,
        seconds=seconds,
        log_history=history,
        model=trainer.model.eval(),
        tokenizer=trainer.processing_class,
    )
    write_json(out / CONFIG_FILE, resolved.model_dump(mode="json"))
    write_json(out / LOG_FILE, {**result.summary(), "versions": _versions(), "log_history": history})
    return result


def build_trainer(
    config: TrainConfig, *, examples: Sequence[Example] | None = None, show_progress: bool = False
) -> tuple[Any, TrainConfig]:
    """Load model, tokenizer and data and build the ``SFTTrainer``, without training.

    :func:`train` calls this; tests call it to inspect the prepared dataset and the
    collated batches (``trainer.train_dataset``, ``trainer.data_collator``).

    Parameters
    ----------
    config, examples, show_progress
        As for :func:`train`.

    Returns
    -------
    trainer : trl.SFTTrainer
    resolved : TrainConfig
        ``config`` with ``device`` and ``mixed_precision`` resolved and a local model folder
        made absolute (what ``train_config.json`` records).
    """
    try:
        import datasets  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"safetymix train needs transformers and trl ({exc}); {_INSTALL_HINT}"
        ) from exc

    out = Path(config.output_dir)
    if not config.overwrite and out.is_dir() and any(out.iterdir()):
        raise ConfigError(
            f"output folder {str(out)!r} is not empty; pick a new one or set overwrite (--overwrite)"
        )
    rows = _load_examples(config, examples)
    from safetymix.hub import check_hub_model

    check_hub_model(config.model)  # offline: fail now, not after a minute of retries
    with quiet_third_party_bars(not show_progress):
        return _build_trainer(config, rows, show_progress)


def _build_trainer(config: TrainConfig, rows: list[Example], show_progress: bool) -> tuple[Any, TrainConfig]:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from safetymix.models import load_pretrained, load_tokenizer, model_ref
    from safetymix.train.loss import plain_loss_trainer

    resolved = resolve_config(config)
    ref = model_ref(resolved.model, resolved.gguf_file)
    trust = config.trust_remote_code
    tokenizer = load_tokenizer(ref, trust_remote_code=trust, who="safetymix train")
    check_template(config.template, tokenizer)
    model = load_pretrained(ref, dtype=config.dtype, trust_remote_code=trust, who="safetymix train")
    dataset = Dataset.from_list([to_prompt_completion(ex, config.template) for ex in rows])

    args = SFTConfig(
        output_dir=resolved.output_dir,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_length=config.max_length,
        completion_only_loss=config.completion_only_loss,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        **{_checkpointing_field(SFTConfig): config.gradient_checkpointing},
        # TRL turns bf16 on unless told otherwise; say it explicitly either way.
        bf16=resolved.mixed_precision == "bf16",
        fp16=resolved.mixed_precision == "fp16",
        use_cpu=resolved.device == "cpu",
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="no",  # the final save is ours; no checkpoint folders
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=not show_progress,
    )
    trainer_class = plain_loss_trainer(SFTTrainer) if resolved.loss_kernel == "plain" else SFTTrainer
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=make_peft_config(config),
    )
    if not show_progress:
        # With the bar off, Trainer prints every log dict instead; a library must not print.
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    # TRL drops examples whose prompt alone fills max_length (no response token is left).
    dropped = len(rows) - len(trainer.train_dataset)
    if dropped == len(rows):
        raise DataFormatError(
            f"no example left: every prompt fills max_length={config.max_length}", path=config.data
        )
    if dropped:
        warnings.warn(
            f"{dropped} of {len(rows)} training example(s) dropped: the prompt alone fills "
            f"max_length={config.max_length}; raise max_length to keep them",
            RuntimeWarning,
            stacklevel=3,
        )
    return trainer, resolved


def make_peft_config(config: TrainConfig) -> Any:
    """PEFT ``LoraConfig`` for ``method="lora"``; None for full fine-tuning."""
    if config.method == "full":
        return None
    try:
        from peft import LoraConfig
    except ImportError as exc:
        raise MissingDependencyError(f"LoRA training needs peft ({exc}); {_INSTALL_HINT}") from exc
    targets = config.lora_target_modules
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=ALL_LINEAR if targets == ALL_LINEAR else list(targets),
        bias="none",
        task_type="CAUSAL_LM",
    )


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Resolve the "auto" device, mixed precision and loss kernel; make a local model path absolute."""
    import torch

    from safetymix.models import is_gguf_path, model_ref, resolve_device, warn_if_emulated_bf16

    device = resolve_device(config.device)
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "no"
    try:
        check_precision(device, precision)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if precision == "bf16":
        warn_if_emulated_bf16(device, "bf16 autocast (use --mixed-precision no on this machine)")
    ref = model_ref(config.model, config.gguf_file)
    model = ref.spec  # a local GGUF file becomes its absolute .gguf path
    gguf_file = None if is_gguf_path(model) else ref.gguf_file
    loss_kernel = config.loss_kernel
    if loss_kernel == "auto":
        loss_kernel = "plain" if device == "cpu" else "trl"
    update = {
        "device": device,
        "mixed_precision": precision,
        "model": model,
        "gguf_file": gguf_file,
        "loss_kernel": loss_kernel,
    }
    return config.model_copy(update=update)


def _record_gguf_base(out: Path, resolved: TrainConfig) -> None:
    """Name the GGUF base in ``adapter_config.json`` (PEFT writes the folder only)."""
    adapter_config = out / "adapter_config.json"
    if not adapter_config.is_file() or not (resolved.gguf_file or resolved.model.lower().endswith(".gguf")):
        return
    data = json.loads(adapter_config.read_text(encoding="utf-8"))
    # A local file: its .gguf path; a file in a Hub repository: the repository (the file
    # name is in train_config.json, which generation reads too).
    data["base_model_name_or_path"] = resolved.model
    write_json(adapter_config, data)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts of a model or PEFT model."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def _load_examples(config: TrainConfig, examples: Sequence[Example] | None) -> list[Example]:
    if examples is not None and config.data is not None:
        raise ConfigError("give the training data once: config.data or examples=, not both")
    if examples is None:
        if config.data is None:
            raise ConfigError("no training data: set data (the DATA argument) or pass examples=")
        from safetymix.io import read_examples

        _check_upsampled(config)
        rows = read_examples(config.data, config.data_format, duplicates=config.duplicates)
    else:
        rows = list(examples)
    if not rows:
        raise DataFormatError("no training examples", path=config.data)
    empty = [ex.id for ex in rows if not ex.response.strip()]
    if empty:
        shown = ", ".join(repr(i) for i in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise DataFormatError(
            f"{len(empty)} training example(s) have an empty response: {shown}",
            path=config.data,
            field="response",
        )
    return rows


def _checkpointing_field(config_class: type) -> str:
    # transformers 5.2x renamed gradient_checkpointing (now a deprecated alias that warns).
    names = {f.name for f in dataclasses.fields(config_class)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("safetymix", "torch", "transformers", "trl", "peft", "accelerate"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "absent"
    return out


def _check_upsampled(config: TrainConfig) -> None:
    """Dropping duplicates would undo a mix's ``--upsample``: refuse, naming the flag that keeps them."""
    from safetymix.mix import manifest_path

    manifest = manifest_path(config.data)
    if config.duplicates != "drop" or not manifest.is_file():
        return
    try:
        upsample = json.loads(manifest.read_text(encoding="utf-8"))["counts"]["upsample"]
    except (ValueError, KeyError, TypeError):
        return
    if isinstance(upsample, int) and upsample > 1:
        raise ConfigError(
            f"{config.data} repeats each pick {upsample} times (--upsample, {manifest.name}); "
            "dropping duplicates would undo that: pass --duplicates keep"
        )
