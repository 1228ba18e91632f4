"""``safetymix report``: the HTML page, PNG figures and Markdown table of a sweep's run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import build_config, console, handle_errors


@handle_errors
def report_command(
    run_dir: Path = typer.Argument(..., help="run folder written by safetymix sweep (sweep.json, cells/)"),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: RUN_DIR/report)"),
    cell: str = typer.Option(
        None, help="cell id shown up close (default: best non-random cell at the largest budget)"
    ),
    reference: str = typer.Option(None, help="strategy label to compare with (default: random)"),
    heatmap_budget: int = typer.Option(
        None, help="budget of the per-category heatmap (default: mean over budgets)"
    ),
    confidence: float = typer.Option(None, help="coverage of the intervals (default: 0.95)"),
    no_pool_map: bool = typer.Option(
        False, "--no-pool-map", help="skip the PCA map of the pool (it embeds the pool file)"
    ),
    config: Path = typer.Option(None, help="YAML file of these options (flags override it)"),
) -> None:
    """Write report.html (self-contained), results.md, summary.json and one PNG per figure."""
    from rich.console import Console
    from rich.table import Table

    from safetymix.report import ReportConfig, build_report
    from safetymix.report.tables import result_header, result_rows

    cfg = build_config(
        ReportConfig,
        config,
        out=str(out) if out is not None else None,
        cell=cell,
        reference=reference,
        heatmap_budget=heatmap_budget,
        confidence=confidence,
        pool_map=False if no_pool_map else None,
    )
    result = build_report(run_dir, cfg, show_progress=True)
    agg = result.aggregate
    assert agg is not None
    stdout = Console()
    if not stdout.is_terminal:  # files and pipes get the whole table, not 80 columns
        stdout = Console(width=160)
    header = result_header(agg)
    for model in agg.models:
        table = Table(title=f"safetymix report: {model}")
        for i, h in enumerate(header):
            table.add_column(h, justify="right" if i else "left")
        for row in result_rows(agg, model):
            table.add_row(*row)
        stdout.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(
        f"{len(result.figures)} figure(s), results.md, summary.json and report.html -> {result.out_dir}"
    )
