"""``safetymix train``: supervised fine-tuning (LoRA by default) with TRL."""

from __future__ import annotations

from safetymix.cli.options import config_command, console
from safetymix.train.config import TrainConfig


@config_command(TrainConfig, arguments=("data",))
def train_command(cfg: TrainConfig) -> None:
    """Fine-tune MODEL on DATA and write the adapter (or model) to --out."""
    from safetymix.train import train

    result = train(cfg, show_progress=True)
    first = "-" if result.first_loss is None else f"{result.first_loss:.4f}"
    final = "-" if result.final_loss is None else f"{result.final_loss:.4f}"
    console.print(
        f"{cfg.method}: {result.global_step} steps on {result.n_examples} examples in {result.seconds:.1f}s, "
        f"loss {first} -> {final} "
        f"({result.trainable_params:,} of {result.total_params:,} parameters trained) "
        f"-> {result.output_dir}"
    )
