"""``safetymix judge``: verdicts for a responses file, and the refusal / harmful rates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from safetymix.cli.options import config_command, console
from safetymix.errors import redact_json
from safetymix.judge.runner import JudgeConfig


def _summary(records: list[dict[str, Any]], by: str | None, seed: int, confidence: float) -> dict[str, Any]:
    from safetymix.eval.metrics import metric_table

    metrics = {}
    for field, name in (("refusal", "refusal_rate"), ("harmful", "harmful_rate"), ("score", "score")):
        values = [r.get(field) for r in records]
        if any(v is not None for v in values):
            metrics[name] = values
    groups = [(str(r[by]),) if by and r.get(by) is not None else () for r in records]
    return metric_table(metrics, groups, seed=seed, confidence=confidence)


def _line(name: str, summary: dict[str, Any], confidence: float) -> str:
    from safetymix.eval.report import format_summary

    value, interval, _ = format_summary(summary)
    unjudged = f", {summary['n_unjudged']} unjudged" if summary["n_unjudged"] else ""
    pct = int(round(confidence * 100))
    return f"{name}: {value} ({pct}% CI {interval}; n={summary['n_judged']}{unjudged})"


@config_command(JudgeConfig)
def judge_command(
    responses: Path = typer.Argument(
        ..., help="responses JSONL (id, prompt, response), as safetymix generate writes"
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="verdicts JSONL: each record + refusal, harmful, score, raw"
    ),
    *,
    cfg: JudgeConfig,
) -> None:
    """Judge every response in RESPONSES; print the refusal / harmful rates with 95% intervals."""
    from safetymix.io import write_json
    from safetymix.judge.runner import judge_file

    records = judge_file(responses, out, cfg, show_progress=True)
    summary = _summary(records, cfg.by, cfg.seed, cfg.confidence)
    side = out.with_name(out.name + ".summary.json")
    body = {
        "command": "judge",
        "responses": str(responses),
        "config": redact_json(cfg.model_dump(mode="json")),
        **summary,
    }
    write_json(side, body)
    typer.echo(f"{cfg.judge}: {len(records)} responses -> {out}")
    for name, s in summary["overall"].items():
        typer.echo(_line(name, s, cfg.confidence))
    for group, metrics in summary["per_category"].items():
        for name, s in metrics.items():
            typer.echo(f"  {cfg.by}={group} " + _line(name, s, cfg.confidence))
    if not summary["overall"]:
        console.print("[yellow]note:[/yellow] the judge decided nothing (every verdict field is None)")
