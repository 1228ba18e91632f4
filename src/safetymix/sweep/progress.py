"""A rich progress bar over a sweep's cells, plus one line per finished cell."""

from __future__ import annotations

from typing import Any

from safetymix.sweep.cells import Cell


def cell_name(cell: Cell) -> str:
    """``label k=25 seed=0`` (plus the model's last path part when the grid has several)."""
    return f"{cell.label} k={cell.budget} seed={cell.seed}"


def metric_text(record: dict[str, Any]) -> str:
    """Short text of a finished cell's headline numbers."""
    m = record.get("metrics") or {}
    parts = []
    for key, name in (("harmfulness", "harmful"), ("over_refusal", "over-refusal")):
        if key in m:
            parts.append(f"{name} {m[key]['value']:.3f}")
    if "helpfulness" in m:
        parts.append(f"{m['helpfulness']['kind']} {m['helpfulness']['value']:.3f}")
    return ", ".join(parts)


class SweepProgress:
    """Progress over ``total`` cells; does nothing when ``enabled`` is False."""

    def __init__(self, total: int, *, enabled: bool, console: Any = None) -> None:
        self.enabled = enabled
        self.total = total
        self._progress = None
        self._task = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]sweep[/bold] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
            )

    def __enter__(self) -> SweepProgress:
        if self._progress is not None:
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start(self, cell: Cell) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=cell_name(cell))

    def done(self, cell: Cell, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        seconds = record["seconds"].get("total", 0.0)
        if record["status"] == "ok":
            line = (
                f"[green]ok[/green] {cell.cell_id} {cell_name(cell)}: {metric_text(record)} ({seconds:.0f} s)"
            )
        else:
            err = record["error"]
            line = (
                f"[red]failed[/red] {cell.cell_id} {cell_name(cell)}: {err['type']}: {err['message'][:200]}"
            )
        self._progress.console.print(line, highlight=False)
        self._progress.advance(self._task)
