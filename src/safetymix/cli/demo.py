"""``safetymix demo``: the whole core on bundled data, offline, in well under a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from pydantic import Field
from rich.console import Console
from rich.table import Table

from safetymix.cli.options import config_command, console
from safetymix.schema import BEHAVIOURS
from safetymix.stage_config import StageConfig


class DemoConfig(StageConfig):
    """Options of ``safetymix demo``."""

    out_dir: Path = Field(Path("safetymix-demo"), description="folder for the labelled pool, picks and mixes")
    budget: int = Field(14, ge=1, description="safety examples per strategy")
    seed: int = Field(0, ge=0, description="seed of every strategy and mix")
    rules: Literal["ours", "paper"] = Field(
        "ours", description="quota rules: ours, or those of the paper's sampling/ scripts (README)"
    )


@config_command(DemoConfig)
def demo_command(*, cfg: DemoConfig) -> None:
    """Label the bundled demo pool, run every strategy, mix, and compare."""
    from safetymix.demo import run_demo

    budget, seed = cfg.budget, cfg.seed
    result = run_demo(cfg.out_dir, budget=budget, seed=seed, rules=cfg.rules, show_progress=True)
    lab = result["labelling"]
    console.print(
        f"labelled {lab['behaviour_labelled']} demo pairs ({lab.get('behaviour_labeller')}): "
        f"{lab['behaviour_counts']}"
    )
    rules = "" if cfg.rules == "ours" else ", paper rules"
    table = Table(title=f"demo: k={budget} picks per strategy, seed {seed}{rules}")
    for col in ("strategy", "picked", *BEHAVIOURS, "categories", "shortfall", "mix size"):
        table.add_column(col, justify="left" if col == "strategy" else "right", no_wrap=True)
    for r in result["rows"]:
        table.add_row(
            r["strategy"],
            str(r["picked"]),
            *(str(r[b]) for b in BEHAVIOURS),
            f"{r['categories']}/{result['n_categories']}",
            str(r["shortfall"]),
            str(r["mix_size"]),
        )
    typer.echo("")
    # A console at least 110 columns wide, so no strategy name is cut short.
    Console(stderr=True, width=max(console.width, 110)).print(table)
    console.print(f"files in {result['out_dir']}/ (picks.<strategy>.jsonl, mix.<strategy>.json + manifests)")
