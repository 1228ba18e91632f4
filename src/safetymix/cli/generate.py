"""``safetymix generate``: answer a prompt file with a (fine-tuned) model."""

from __future__ import annotations

from safetymix.cli.options import config_command, console
from safetymix.generate.config import GenerateConfig


@config_command(GenerateConfig, arguments=("prompts",))
def generate_command(*, cfg: GenerateConfig) -> None:
    """Generate one response per prompt of PROMPTS and write them to --out."""
    from safetymix.errors import ConfigError
    from safetymix.generate import generate

    if cfg.output is None:
        raise ConfigError("--out is required (on the command line, or output: in --config)")
    records = generate(cfg, show_progress=True)
    settings = records[0]["generation"] if records else {}
    console.print(
        f"{len(records)} responses ({settings.get('engine', cfg.engine)}, "
        f"template {settings.get('template')}, "
        f"num_beams={cfg.num_beams}) -> {cfg.output}"
    )
