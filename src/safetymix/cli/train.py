"""``safetymix train``: supervised fine-tuning (LoRA by default) with TRL."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import build_config, console, handle_errors


@handle_errors
def train_command(
    data: str = typer.Argument(None, help="training file (the mix from safetymix mix, Alpaca JSON, ...)"),
    model: str = typer.Option(None, help="Hugging Face causal LM name or local folder, or a .gguf file"),
    gguf_file: str = typer.Option(None, help="GGUF file name inside the --model folder or Hub repo"),
    out: str = typer.Option(
        None, "--out", "-o", help="output folder: adapter or model, logs, resolved config"
    ),
    template: str = typer.Option(None, help="alpaca | chat (default: alpaca)"),
    method: str = typer.Option(None, help="lora | full (default: lora)"),
    lora_r: int = typer.Option(None, help="LoRA rank (default: 8)"),
    lora_alpha: int = typer.Option(None, help="LoRA alpha (default: 16)"),
    lora_dropout: float = typer.Option(None, help="LoRA dropout (default: 0.05)"),
    lora_target_modules: str = typer.Option(
        None, help="comma-separated module names, or all-linear (default: q_proj,v_proj)"
    ),
    merge_lora: bool = typer.Option(
        None, "--merge-lora", help="save the adapter merged into the base weights (a full model folder)"
    ),
    epochs: float = typer.Option(None, help="training epochs (default: 3)"),
    max_steps: int = typer.Option(None, help="stop after this many optimiser steps (overrides --epochs)"),
    learning_rate: float = typer.Option(None, help="peak learning rate (default: 3e-4)"),
    batch_size: int = typer.Option(None, help="examples per device and step (default: 4)"),
    gradient_accumulation_steps: int = typer.Option(
        None, help="micro-batches per optimiser step (default: 1)"
    ),
    max_length: int = typer.Option(None, help="tokens per example, longer ones are cut (default: 512)"),
    logging_steps: int = typer.Option(None, help="steps between training-log entries (default: 10)"),
    loss_kernel: str = typer.Option(
        None, help="auto | trl | plain: TRL's fused LM-head loss or the model's own (default: auto)"
    ),
    device: str = typer.Option(None, help="auto | cpu | cuda (default: auto)"),
    seed: int = typer.Option(None, help="seed (default: 0)"),
    overwrite: bool = typer.Option(None, "--overwrite", help="write into a non-empty --out folder"),
    config: Path = typer.Option(None, help="YAML file of TrainConfig fields (flags override it)"),
) -> None:
    """Fine-tune MODEL on DATA and write the adapter (or model) to --out."""
    from safetymix.train import TrainConfig, train

    cfg = build_config(
        TrainConfig,
        config,
        model=model,
        gguf_file=gguf_file,
        data=data,
        output_dir=out,
        template=template,
        method=method,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        lora_target_modules=lora_target_modules,
        merge_lora=merge_lora,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        max_length=max_length,
        logging_steps=logging_steps,
        loss_kernel=loss_kernel,
        device=device,
        seed=seed,
        overwrite=overwrite,
    )
    result = train(cfg, show_progress=True)
    first = "-" if result.first_loss is None else f"{result.first_loss:.4f}"
    final = "-" if result.final_loss is None else f"{result.final_loss:.4f}"
    console.print(
        f"{cfg.method}: {result.global_step} steps on {result.n_examples} examples in {result.seconds:.1f}s, "
        f"loss {first} -> {final} "
        f"({result.trainable_params:,} of {result.total_params:,} parameters trained) "
        f"-> {result.output_dir}"
    )
