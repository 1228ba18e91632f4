"""``safetymix sweep``: run (or, with --dry-run, show) a grid of select -> mix -> train -> eval cells."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import EXIT_ERROR, build_config, console, handle_errors, stdout_console

#: Exit code of an interrupted sweep (as for any Ctrl-C).
EXIT_INTERRUPTED = 130


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min" if hours else f"{m} min {s:02d} s" if m else f"{s} s"


@handle_errors
def sweep_command(
    config: Path = typer.Argument(
        ..., help="sweep YAML (benign, pool, strategies, budgets, seeds, models, ...)"
    ),
    out: Path = typer.Option(None, "--out", "-o", help="run folder (default: runs/<config name>)"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="show the grid, what is done, the time left; run nothing"
    ),
    workers: int = typer.Option(1, help="cells trained side by side, one process each"),
    threads: int = typer.Option(
        None, help="torch CPU threads per cell (default: 1 with several workers, else torch's default)"
    ),
) -> None:
    """Run the grid strategies x budgets x seeds x models of CONFIG; finished cells are skipped.

    Each cell selects, mixes, fine-tunes and evaluates; its result goes to
    RUN_DIR/cells/<cell_id>.json. Interrupt at any time and rerun the same command to resume
    (cells that failed are retried).
    """
    from safetymix.sweep import SweepConfig, plan_sweep, run_sweep

    cfg = build_config(SweepConfig, config)
    run_dir = out or Path("runs") / config.stem
    if threads is None and workers > 1:
        threads = 1
    if dry_run:
        plan = plan_sweep(cfg, run_dir, workers=workers)
        _show_plan(plan, run_dir)
        return
    try:
        summary = run_sweep(cfg, run_dir, workers=workers, threads_per_worker=threads, show_progress=True)
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted:[/yellow] finished cells are kept in {run_dir / 'cells'}; "
            "rerun the same command to resume"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    ran = summary["n_ok"] + summary["n_failed"]
    console.print(
        f"{summary['n_cells']} cell(s): {ran} run ({summary['n_ok']} ok, {summary['n_failed']} failed), "
        f"{summary['n_skipped']} already done -> {run_dir}"
    )
    for f in summary["failed"]:
        console.print(f"[red]failed[/red] {f['cell_id']} ({f['label']}): {f['type']}: {f['message'][:300]}")
    if summary["failed"]:
        console.print("rerun the same command to retry the failed cells (tracebacks are in their cell files)")
        raise typer.Exit(EXIT_ERROR)


def _show_plan(plan, run_dir: Path) -> None:
    from functools import partial

    from rich.table import Table

    multi = len({c.model for c in plan.cells}) > 1  # a model column only when there are several
    table = Table(title=f"sweep grid -> {run_dir}")
    for name in ["#", "cell id", *(["model"] if multi else []), "strategy", "budget", "seed", "status"]:
        table.add_column(name, justify="right" if name in ("#", "budget", "seed") else "left")
    colours = {"done": "green", "failed": "red", "pending": "white"}
    for i, c in enumerate(plan.cells, 1):
        status = plan.status[c.cell_id]
        shown = f"[{colours[status]}]{'failed (will retry)' if status == 'failed' else status}[/]"
        model = [c.model] if multi else []
        table.add_row(str(i), c.cell_id, *model, c.label, str(c.budget), str(c.seed), shown)
    stdout = stdout_console()
    stdout.print(table)
    say = partial(stdout.print, soft_wrap=True, highlight=False)
    n_failed = sum(1 for s in plan.status.values() if s == "failed")
    say(
        f"{len(plan.cells)} cells: {plan.n_done} done, {len(plan.todo)} to run"
        + (f" ({n_failed} failed, to retry)" if n_failed else "")
    )
    if plan.estimate_seconds is None:
        say(f"estimated time: unknown ({plan.estimate_basis})")
    else:
        say(f"estimated time: {_duration(plan.estimate_seconds)} ({plan.estimate_basis})")
    say("dry run: nothing was trained")
