"""``safetymix select``: pick k safety examples from a pool."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import build_config, console, handle_errors, parse_params
from safetymix.io.readers import DUPLICATES_HELP
from safetymix.select.registry import available_strategies


@handle_errors
def select_command(
    pool: Path = typer.Argument(..., help="safety pool (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help="picks, canonical JSONL with a reason per pick"),
    strategy: str = typer.Option(None, help=f"one of: {', '.join(available_strategies())} (default: sss-b)"),
    budget: str = typer.Option(None, help="count ('100') or share of --train ('0.5%')"),
    seed: int = typer.Option(None, help="seed (default: 0)"),
    behaviour: list[str] = typer.Option(None, help="types a -b strategy keeps (repeatable) (default: T1)"),
    taxonomy: str = typer.Option(None, help="taxonomy name or JSON file (default: beavertails)"),
    reference: str = typer.Option(None, help="labelled file of Cossim reference examples"),
    train: str = typer.Option(None, help="your benign fine-tuning set"),
    embedding_model: str = typer.Option(None, help="sentence-transformers model (default: all-MiniLM-L6-v2)"),
    behaviour_labeller: str = typer.Option(None, help="for unlabelled pools (default: embedding)"),
    category_labeller: str = typer.Option(None, help="for pools without categories (default: embedding)"),
    param: list[str] = typer.Option(None, help="extra strategy parameter key=value (repeatable)"),
    duplicates: str = typer.Option(None, help=DUPLICATES_HELP),
    config: Path = typer.Option(None, help="YAML file of these options (flags override it)"),
) -> None:
    """Select BUDGET examples from POOL with STRATEGY; labels the pool first if needed."""
    from safetymix.io import write_examples
    from safetymix.select.config import SelectConfig, run_select, write_report

    cfg = build_config(
        SelectConfig,
        config,
        strategy=strategy,
        budget=budget,
        seed=seed,
        behaviour=behaviour or None,
        taxonomy=taxonomy,
        reference=reference,
        train=train,
        embedding_model=embedding_model,
        behaviour_labeller=behaviour_labeller,
        category_labeller=category_labeller,
        params=parse_params(param),
        duplicates=duplicates,
    )
    picks, selection, report = run_select(pool, cfg, show_progress=True)
    lab = report["labelling"]
    if lab["behaviour_labelled"] or lab["categories_labelled"]:
        console.print(
            f"labelled {lab['behaviour_labelled']} example(s) by behaviour "
            f"({lab.get('behaviour_labeller', '-')}) and {lab['categories_labelled']} by category "
            f"({lab.get('category_labeller', '-')}); behaviour counts {lab['behaviour_counts']}"
        )
    write_examples(out, picks, format="jsonl")
    write_report(out.with_name(out.name + ".selection.json"), report)
    summary = selection.summary()
    covered = sorted({c for e in picks for c in (e.categories or [])})
    console.print(
        f"{summary['strategy']}: picked {summary['n_picked']} of k={summary['k']} "
        f"from {summary['n_candidates']} eligible ({summary['n_pool']} in pool), "
        f"{len(covered)} categories covered -> {out}"
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
