"""``safetymix advise``: the smallest tested budget, and the strategy, that meet your targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from safetymix.cli.options import build_config, config_command, console, stdout_console
from safetymix.report.advise import AdviseConfig
from safetymix.report.tables import fmt_estimate

#: Exit code when no tested budget meets the targets (1 is an error, 2 contamination).
EXIT_NOT_MET = 3


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _print_advice(advice: Any) -> None:
    from rich.table import Table

    cfg = advice.config
    pct = int(round(cfg.confidence * 100))
    stdout = stdout_console(160)
    rule = f"upper bound of the {pct}% interval" if cfg.rule == "upper" else "mean"
    basis = "means over seeds" if cfg.basis == "raw" else "isotonic fit on log budget"
    stdout.print(
        f"targets: harmfulness <= {100 * cfg.max_harmfulness:.1f}%, over-refusal increase over the "
        f"benign-only model <= {cfg.max_over_refusal_increase:g} points; a budget meets them when the "
        f"{rule} passes both (basis: {basis})"
    )
    for m in advice.models:
        table = Table(
            title=f"evidence: {m.model} (benign-only over-refusal {fmt_estimate(m.baseline_over_refusal)}%)"
        )
        cols = (
            "strategy",
            "k",
            "seeds",
            "harmfulness %",
            "over-refusal +points",
            "fit harmfulness %",
            "fit +points",
            "mean passes",
            "upper passes",
            "meets",
        )
        for i, c in enumerate(cols):
            table.add_column(c, justify="left" if i == 0 else "right")
        for r in m.rows:
            table.add_row(
                "none (benign only)" if r.label == "none" else r.label,
                str(r.budget),
                str(r.n_seeds),
                fmt_estimate(r.harm),
                fmt_estimate(r.increase, 1),
                fmt_estimate(r.fit_harm),
                fmt_estimate(r.fit_increase, 1),
                _yes(r.passes_mean),
                _yes(r.passes_upper),
                "[green]yes[/green]" if r.meets else "no",
            )
        stdout.print(table)
        per = ", ".join(f"{k}: {'-' if v is None else v}" for k, v in m.smallest_per_strategy.items())
        stdout.print(f"smallest tested budget meeting the targets, per strategy: {per}")
        fit = ", ".join(f"{k}: {'-' if v is None else f'~{v:g}'}" for k, v in m.interpolated.items())
        stdout.print(f"where the fitted means would cross both targets (interpolated, untested): {fit}")
        rec = m.recommendation
        if rec is None:
            stdout.print(f"[bold red]no tested budget meets the targets[/bold red] for {m.model}")
        elif rec.label == "none":
            stdout.print(
                f"[bold green]recommendation:[/bold green] {m.model}: no safety examples needed (k=0)"
            )
        else:
            stdout.print(
                f"[bold green]recommendation:[/bold green] {m.model}: {rec.label} at k={rec.budget} "
                f"(harmfulness {fmt_estimate(rec.harm)}%, "
                f"over-refusal {fmt_estimate(rec.increase, 1)} points)"
            )


@config_command(AdviseConfig)
def advise_command(
    run_dir: Path = typer.Argument(
        ..., help="run folder written by safetymix sweep (with --sweep: where the cells run)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the advice as JSON on stdout"),
    sweep: Path = typer.Option(
        None,
        help="sweep config: run its cells into RUN_DIR first, one budget at a time from the "
        "smallest, and stop at the first budget that meets the targets",
    ),
    workers: int = typer.Option(1, help="with --sweep: cells trained side by side"),
    threads: int = typer.Option(None, help="with --sweep: torch CPU threads per cell"),
    *,
    cfg: AdviseConfig,
) -> None:
    """Recommend the smallest tested budget and strategy meeting harmfulness and over-refusal targets.

    Exit code 0 with a recommendation, 3 when no tested budget meets the targets, 1 on errors.
    """
    from safetymix.report import advise, advise_by_running, aggregate, read_run

    ran = None
    if sweep is not None:
        from safetymix.sweep import SweepConfig

        if threads is None and workers > 1:
            threads = 1
        ran = advise_by_running(
            build_config(SweepConfig, sweep),
            run_dir,
            cfg,
            workers=workers,
            threads_per_worker=threads,
            show_progress=not as_json,
            console=console,
        )
    agg = aggregate(read_run(run_dir), confidence=cfg.confidence)
    advice = advise(agg, cfg) if ran is None else ran.advice
    if as_json:
        typer.echo(json.dumps(advice.as_dict() if ran is None else ran.as_dict(), indent=2))
    else:
        _print_advice(advice)
    if ran is not None:
        console.print(
            f"budgets run: {', '.join(map(str, ran.tested))}"
            + (f"; not run (not needed): {', '.join(map(str, ran.skipped))}" if ran.skipped else "")
        )
    for note in [*agg.notes, *advice.notes]:
        console.print(f"[yellow]note:[/yellow] {note}")
    if not advice.found:
        console.print("no tested budget meets the targets: see the evidence (exit code 3)")
        raise typer.Exit(EXIT_NOT_MET)
