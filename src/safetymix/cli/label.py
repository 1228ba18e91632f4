"""``safetymix label``: behaviour flags, T1-T4 and harm categories for every pair."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from safetymix.cli.options import console, handle_errors
from safetymix.errors import ConfigError, SafetymixError


def gold_refusal(value: object) -> bool | None:
    """Read a human refusal label: a bool, or XSTest's ``final_label`` strings
    (``2_full_refusal`` and ``3_partial_refusal`` are refusals, ``1_full_compliance`` is not)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if "refusal" in text:
        return True
    if "compliance" in text:
        return False
    return None


@handle_errors
def label_command(
    pool: Path = typer.Argument(..., help="pairs to label (JSON/JSONL/CSV/parquet/HF dataset folder)"),
    out: Path = typer.Option(..., "--out", "-o", help="labelled pairs, canonical JSONL"),
    behaviour_labeller: str = typer.Option("embedding", help="rules | embedding | guard | openai-guard"),
    category_labeller: str = typer.Option("embedding", help="embedding | judge | none"),
    taxonomy: str = typer.Option("beavertails", help="taxonomy name or JSON file"),
    model: str = typer.Option(None, help="guard model name/path, or the endpoint's model for openai-guard"),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint (openai-guard, judge)"),
    overwrite: bool = typer.Option(False, help="relabel pairs that already carry labels"),
    gold: str = typer.Option(
        None, help="field with a human refusal label: print refusal accuracy against it"
    ),
    heads: Path = typer.Option(
        None, help="folder of head .npz files for the embedding labeller (default: the shipped heads)"
    ),
) -> None:
    """Label POOL and write OUT; with --gold, also print refusal accuracy against human labels."""
    from safetymix.io import read_examples, write_examples
    from safetymix.label import get_behaviour_labeller, get_category_labeller, label_pool
    from safetymix.select.config import write_report

    examples = read_examples(pool)
    params = {k: v for k, v in {"model": model, "base_url": base_url}.items() if v is not None}
    if heads is not None:
        if behaviour_labeller != "embedding":
            raise ConfigError(
                f"--heads applies only to --behaviour-labeller embedding, got {behaviour_labeller!r}"
            )
        params["heads_dir"] = heads
    beh = get_behaviour_labeller(behaviour_labeller, **params)
    if category_labeller == "none":
        cat = None
    else:
        cat_params = {"taxonomy": taxonomy} | ({"base_url": base_url} if category_labeller == "judge" else {})
        cat = get_category_labeller(category_labeller, **cat_params)
    labelled, report = label_pool(
        examples, behaviour_labeller=beh, category_labeller=cat, overwrite=overwrite, show_progress=True
    )
    report["input"] = str(pool)
    if gold is not None:
        pairs = [(gold_refusal(e.extra.get(gold)), e.refusal) for e in labelled]
        missing = sum(g is None for g, _ in pairs)
        if missing == len(pairs):
            raise SafetymixError(f"--gold {gold!r}: no record carries a readable refusal label in that field")
        scored = [(g, p) for g, p in pairs if g is not None]
        correct = sum(g == p for g, p in scored)
        report["gold"] = {
            "field": gold,
            "n": len(scored),
            "accuracy": round(correct / len(scored), 4),
            "undecided": sum(p is None for _, p in scored),
        }
        console.print(
            f"refusal accuracy vs {gold!r}: {correct}/{len(scored)} = {correct / len(scored):.4f}"
            + (f" ({missing} record(s) without a gold label skipped)" if missing else "")
        )
    write_examples(out, labelled, format="jsonl")
    write_report(out.with_name(out.name + ".label.json"), report)
    counts = Counter(e.behaviour for e in labelled)
    console.print(f"labelled {len(labelled)} pairs -> {out}; behaviour {dict(sorted(counts.items()))}")
