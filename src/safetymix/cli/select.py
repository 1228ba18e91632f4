"""``safetymix select``: pick k safety examples from a pool."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import config_command, console
from safetymix.select.config import SelectConfig


@config_command(SelectConfig)
def select_command(
    pool: Path = typer.Argument(..., help="safety pool (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help="picks, canonical JSONL with a reason per pick"),
    *,
    cfg: SelectConfig,
) -> None:
    """Select BUDGET examples from POOL with STRATEGY; labels the pool first if needed."""
    from safetymix.select.config import select_to_file

    picks, selection, report = select_to_file(pool, out, cfg, show_progress=True)
    lab = report["labelling"]
    if lab["behaviour_labelled"] or lab["categories_labelled"]:
        console.print(
            f"labelled {lab['behaviour_labelled']} example(s) by behaviour "
            f"({lab.get('behaviour_labeller', '-')}) and {lab['categories_labelled']} by category "
            f"({lab.get('category_labeller', '-')}); behaviour counts {lab['behaviour_counts']}"
        )
    summary = selection.summary()
    covered = sorted({c for e in picks for c in (e.categories or [])})
    console.print(
        f"{summary['strategy']}: picked {summary['n_picked']} of k={summary['k']} "
        f"from {summary['n_candidates']} eligible ({summary['n_pool']} in pool), "
        f"{len(covered)} categories covered -> {out}"
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
