"""``safetymix report``: the HTML page, PNG figures and Markdown table of a sweep's run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from safetymix.cli.options import config_command, console, stdout_console
from safetymix.report.build import ReportConfig


@config_command(ReportConfig)
def report_command(
    run_dir: Path = typer.Argument(..., help="run folder written by safetymix sweep (sweep.json, cells/)"),
    *,
    cfg: ReportConfig,
) -> None:
    """Write report.html (self-contained), results.md, summary.json and one PNG per figure."""
    from rich.table import Table

    from safetymix.report import build_report
    from safetymix.report.tables import result_header, result_rows

    result = build_report(run_dir, cfg, show_progress=True)
    agg = result.aggregate
    assert agg is not None
    stdout = stdout_console(160)
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
