"""``safetymix generate``: answer a prompt file with a (fine-tuned) model."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import build_config, console, handle_errors


@handle_errors
def generate_command(
    prompts: str = typer.Argument(None, help="prompt file (XSTest CSV, Bianchi JSON, AdvBench, JSONL, ...)"),
    out: str = typer.Option(
        None, "--out", "-o", help="JSONL of id, prompt, response and generation settings"
    ),
    model: str = typer.Option(
        None, help="base model name or folder, a merged / full model folder, or a .gguf file"
    ),
    gguf_file: str = typer.Option(None, help="GGUF file name inside the --model folder or Hub repo"),
    adapter: str = typer.Option(None, help="LoRA adapter folder (base model read from it unless --model)"),
    engine: str = typer.Option(None, help="hf | vllm (default: hf)"),
    template: str = typer.Option(None, help="alpaca | chat (default: the training template, else alpaca)"),
    num_beams: int = typer.Option(None, help="beams; 1 is greedy (default: 4, as the paper)"),
    max_new_tokens: int = typer.Option(None, help="tokens generated per prompt at most (default: 256)"),
    batch_size: int = typer.Option(None, help="prompts per batch (default: 8)"),
    limit: int = typer.Option(None, help="only the first N prompts"),
    device: str = typer.Option(None, help="auto | cpu | cuda (default: auto)"),
    seed: int = typer.Option(None, help="seed (default: 0)"),
    config: Path = typer.Option(None, help="YAML file of GenerateConfig fields (flags override it)"),
) -> None:
    """Generate one response per prompt of PROMPTS and write them to --out."""
    from safetymix.errors import ConfigError
    from safetymix.generate import GenerateConfig, generate

    cfg = build_config(
        GenerateConfig,
        config,
        model=model,
        gguf_file=gguf_file,
        prompts=prompts,
        output=out,
        adapter=adapter,
        engine=engine,
        template=template,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        limit=limit,
        device=device,
        seed=seed,
    )
    if cfg.output is None:
        raise ConfigError("--out is required (on the command line, or output: in --config)")
    records = generate(cfg, show_progress=True)
    settings = records[0]["generation"] if records else {}
    console.print(
        f"{len(records)} responses ({settings.get('engine', cfg.engine)}, "
        f"template {settings.get('template')}, "
        f"num_beams={cfg.num_beams}) -> {cfg.output}"
    )
