"""``safetymix eval``: suites of prompts, judged, with intervals; refuses contaminated runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from safetymix.cli.options import EXIT_CONTAMINATED, build_config, console, handle_errors, parse_params
from safetymix.errors import ContaminationError
from safetymix.eval.suites import SUITE_GROUPS, SUITES
from safetymix.judge.registry import available_judges

_JUDGES = ", ".join(available_judges())


@handle_errors
def eval_command(
    out: Path = typer.Option(
        None, "--out", "-o", help="JSON report (per-item records go to OUT.items.jsonl)"
    ),
    suite: list[str] = typer.Option(
        None,
        "--suite",
        "-s",
        help=f"suite or group (repeatable): {', '.join(SUITES)}; groups: {', '.join(SUITE_GROUPS)} "
        "(default: your --suite-file suites, else the group 'default')",
    ),
    suite_file: list[str] = typer.Option(
        None, help="your own suite: name=path:kind[:category_field], or a suites .yaml (repeatable)"
    ),
    data_root: str = typer.Option(
        None, help="public data sets folder (default: $SAFETYMIX_DATASETS or ../shared/datasets)"
    ),
    responses: Path = typer.Option(None, help="generated responses JSONL (prompt, response)"),
    model: str = typer.Option(
        None, help="causal LM to generate with (and to score the loss route); may be a .gguf file"
    ),
    gguf_file: str = typer.Option(None, help="GGUF file name inside the --model folder or Hub repo"),
    adapter: str = typer.Option(None, help="PEFT adapter folder applied to --model"),
    device: str = typer.Option(None, help="torch device (default: cuda when available)"),
    dtype: str = typer.Option(None, help="torch dtype of --model (default: the checkpoint's)"),
    gen_param: list[str] = typer.Option(None, help="generation parameter key=value (repeatable)"),
    judge: str = typer.Option(None, help=f"refusal judge: {_JUDGES} (default: refusal-match)"),
    judge_param: list[str] = typer.Option(None, help="refusal judge parameter key=value (repeatable)"),
    harm_judge: str = typer.Option(None, help=f"harm judge of harmful suites: {_JUDGES} (default: none)"),
    harm_judge_param: list[str] = typer.Option(None, help="harm judge parameter key=value (repeatable)"),
    extra_judge: list[str] = typer.Option(
        None, help=f"one more judge of harmful / over-refusal suites, for agreement (repeatable): {_JUDGES}"
    ),
    helpfulness_judge: str = typer.Option(
        None, help="reward judge of helpfulness suites (default: loss route)"
    ),
    helpfulness_judge_param: list[str] = typer.Option(None, help="its parameter key=value (repeatable)"),
    train: list[str] = typer.Option(None, help="training file to check for contamination (repeatable)"),
    manifest: str = typer.Option(
        None, help="mix manifest (<mix>.manifest.json); its inputs are the training set"
    ),
    allow_contamination: bool = typer.Option(
        None, "--allow-contamination", help="report even if suite prompts overlap the training set"
    ),
    max_prompts: int = typer.Option(None, help="at most this many prompts per suite (seeded subset)"),
    seed: int = typer.Option(None, help="seed of bootstrap intervals and subsets (default: 0)"),
    per_category: bool = typer.Option(False, "--per-category", help="show per-category rows in the table"),
    write_prompts: Path = typer.Option(
        None, help="only write the suites' prompts as JSONL (for generate) and exit"
    ),
    config: Path = typer.Option(None, help="YAML file of these options (flags override it)"),
) -> None:
    """Evaluate responses (or a model) on harmful, over-refusal and helpfulness suites."""
    from rich.console import Console

    from safetymix.eval import EvalConfig, evaluate, export_prompts, report_table, write_report
    from safetymix.eval.report import agreement_table
    from safetymix.judge.responses import write_jsonl

    cfg = build_config(
        EvalConfig,
        config,
        model=model,
        gguf_file=gguf_file,
        suites=suite or None,
        suite_files=suite_file or None,
        data_root=data_root,
        responses=str(responses) if responses else None,
        adapter=adapter,
        device=device,
        dtype=dtype,
        generation=parse_params(gen_param),
        judge=judge,
        judge_params=parse_params(judge_param),
        harm_judge=harm_judge,
        harm_judge_params=parse_params(harm_judge_param),
        extra_judges=extra_judge or None,
        helpfulness_judge=helpfulness_judge,
        helpfulness_judge_params=parse_params(helpfulness_judge_param),
        train=train or None,
        manifest=manifest,
        allow_contamination=allow_contamination,
        max_prompts=max_prompts,
        seed=seed,
    )
    if write_prompts is not None:
        records = export_prompts(cfg)
        write_jsonl(write_prompts, records)
        n_suites = len({r["suite"] for r in records})
        console.print(f"wrote {len(records)} prompts of {n_suites} suite(s) -> {write_prompts}")
        return
    if out is None:
        console.print("[red]error:[/red] --out is required (or --write-prompts)")
        raise typer.Exit(1)
    try:
        report = evaluate(cfg, show_progress=True)
    except ContaminationError as exc:
        console.print(f"[red]contamination:[/red] {exc}", markup=True)
        console.print("refusing to report contaminated numbers; pass --allow-contamination to report anyway")
        raise typer.Exit(EXIT_CONTAMINATED) from exc
    _, items = write_report(report, out)
    stdout = Console()
    if not stdout.is_terminal:  # files and pipes get the whole table, not 80 columns
        stdout = Console(width=120)
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
