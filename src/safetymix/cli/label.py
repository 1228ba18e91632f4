"""``safetymix label``: behaviour flags, T1-T4 and harm categories for every pair, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import console, handle_errors
from safetymix.errors import ConfigError, SafetymixError
from safetymix.label.stream import gold_refusal

__all__ = ["gold_refusal", "label_command"]


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
    chunk_size: int = typer.Option(
        None, help="records per chunk, the unit of memory and resumption (default: 4096; ray: 32768)"
    ),
    resume: bool = typer.Option(
        True, help="continue a killed run from OUT.partial when input and settings match"
    ),
    engine: str = typer.Option("local", help="local | ray"),
    ray_address: str = typer.Option(
        None, help="Ray cluster for --engine ray, e.g. ray://head:10001 (default: $RAY_ADDRESS or local)"
    ),
    ray_gpus: float = typer.Option(None, help="GPUs per Ray actor, e.g. 1 for a guard model (default: 0)"),
    max_line_bytes: int = typer.Option(None, help="longest accepted input line (default: 64 MiB)"),
) -> None:
    """Label POOL and write OUT chunk by chunk; --gold also prints refusal accuracy against human labels."""
    from safetymix.engine import get_engine
    from safetymix.label import LabellerSpec, label_file
    from safetymix.select.config import write_report

    params = {k: v for k, v in {"model": model, "base_url": base_url}.items() if v is not None}
    if heads is not None:
        if behaviour_labeller != "embedding":
            raise ConfigError(
                f"--heads applies only to --behaviour-labeller embedding, got {behaviour_labeller!r}"
            )
        params["heads_dir"] = str(heads)
    if (ray_address is not None or ray_gpus is not None) and engine != "ray":
        raise ConfigError("--ray-address and --ray-gpus need --engine ray")
    ray_params = {"address": ray_address, "num_gpus_per_actor": ray_gpus}
    beh = LabellerSpec("behaviour", behaviour_labeller, params)
    beh.build()  # fail on bad parameters now, not on a worker
    cat = None
    if category_labeller != "none":
        cat_params = {"taxonomy": taxonomy} | ({"base_url": base_url} if category_labeller == "judge" else {})
        cat = LabellerSpec("category", category_labeller, cat_params)
        cat.build()
    runner = get_engine(engine, **{k: v for k, v in ray_params.items() if v is not None})
    with runner:
        report = label_file(
            pool,
            out,
            behaviour_labeller=beh,
            category_labeller=cat,
            overwrite=overwrite,
            label_chunk=runner.chunk_labeller(beh, cat, overwrite=overwrite),
            chunk_size=chunk_size or runner.default_chunk_size,
            gold=gold,
            resume=resume,
            max_line_bytes=max_line_bytes,
            show_progress=True,
        )
    report["input"] = str(pool)
    report["engine"] = engine
    if report["resumed_from"]:
        console.print(f"resumed after {report['resumed_from']} records labelled by an interrupted run")
    if gold is not None:
        g = report["gold"]
        if g["n"] == 0:
            raise SafetymixError(f"--gold {gold!r}: no record carries a readable refusal label in that field")
        console.print(
            f"refusal accuracy vs {gold!r}: {g['correct']}/{g['n']} = {g['correct'] / g['n']:.4f}"
            + (f" ({g['missing']} record(s) without a gold label skipped)" if g["missing"] else "")
        )
    write_report(out.with_name(out.name + ".label.json"), report)
    console.print(f"labelled {report['n_records']} pairs -> {out}; behaviour {report['behaviour_counts']}")
