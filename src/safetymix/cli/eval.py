"""``safetymix eval``: suites of prompts, judged, with intervals; refuses contaminated runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from safetymix.cli.options import EXIT_CONTAMINATED, config_command, console, stdout_console
from safetymix.errors import ContaminationError, SafetymixError
from safetymix.eval.config import EvalConfig


@config_command(EvalConfig)
def eval_command(
    out: Path = typer.Option(
        None, "--out", "-o", help="JSON report (per-item records go to OUT.items.jsonl)"
    ),
    per_category: bool = typer.Option(False, "--per-category", help="show per-category rows in the table"),
    write_prompts: Path = typer.Option(
        None, help="only write the suites' prompts as JSONL (for generate) and exit"
    ),
    *,
    cfg: EvalConfig,
) -> None:
    """Evaluate responses (or a model) on harmful, over-refusal and helpfulness suites."""
    from safetymix.eval import evaluate, export_prompts, report_table, write_report
    from safetymix.eval.report import agreement_table
    from safetymix.judge.responses import write_jsonl

    if write_prompts is not None:
        records = export_prompts(cfg)
        write_jsonl(write_prompts, records)
        n_suites = len({r["suite"] for r in records})
        console.print(f"wrote {len(records)} prompts of {n_suites} suite(s) -> {write_prompts}")
        return
    if out is None:
        raise SafetymixError("--out is required (or --write-prompts)")
    try:
        report = evaluate(cfg, show_progress=True)
    except ContaminationError as exc:
        console.print(f"[red]contamination:[/red] {exc}", markup=True)
        console.print("refusing to report contaminated numbers; pass --allow-contamination to report anyway")
        raise typer.Exit(EXIT_CONTAMINATED) from exc
    _, items = write_report(report, out)
    stdout = stdout_console()
    stdout.print(report_table(report, per_category=per_category))
    agreement = agreement_table(report)
    if agreement is not None:
        stdout.print(agreement)
    for note in report["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"report -> {out}" + (f"; items -> {items}" if items else ""))
    contamination = report["contamination"]
    if contamination.get("overridden"):
        pairs = json.dumps(
            [(m["train_id"], f"{m['eval_source']}:{m['eval_line']}") for m in contamination["matches"]]
        )
        console.print(
            f"[yellow]warning:[/yellow] contaminated pairs kept by --allow-contamination: {pairs[:500]}"
        )
