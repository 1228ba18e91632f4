"""Read a sweep's run folder: ``sweep.json`` plus one ``cells/<cell_id>.json`` per cell.

This is the report's own small reader of the run-folder contract written by
``safetymix sweep``; it validates only what the report and the advisor use (cell id,
status, params, metric values) and keeps every record as read, so new fields pass
through untouched.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetymix.errors import DataFormatError

#: The four metrics of a cell, in report order.
METRICS = ("harmfulness", "harmful_refusal", "over_refusal", "helpfulness")
#: Label (and strategy) of the benign-only cells.
BASELINE = "none"
_STATUSES = ("ok", "failed")


@dataclass(frozen=True)
class Cell:
    """One cell of a sweep (one model x strategy label x budget x seed).

    Attributes
    ----------
    cell_id : str
        Content hash of the cell, the file's stem.
    status : {"ok", "failed"}
    params : dict
        ``model``, ``strategy``, ``label``, ``strategy_params``, ``budget``, ``seed``.
    record : dict
        The whole JSON record as read.
    path : Path
        The file it came from.
    """

    cell_id: str
    status: str
    params: dict[str, Any]
    record: dict[str, Any] = field(repr=False)
    path: Path

    @property
    def model(self) -> str:
        return str(self.params["model"])

    @property
    def label(self) -> str:
        return str(self.params["label"])

    @property
    def strategy(self) -> str:
        return str(self.params.get("strategy", self.params["label"]))

    @property
    def budget(self) -> int:
        return int(self.params["budget"])

    @property
    def seed(self) -> int:
        return int(self.params["seed"])

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_baseline(self) -> bool:
        """Benign-only cell: label ``none`` (the sweep also gives it strategy ``none``, budget 0)."""
        return self.label == BASELINE

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return self.record.get("metrics") or {}

    def value(self, metric: str) -> float | None:
        """The metric's point value, or None when the cell did not measure it."""
        m = self.metrics.get(metric)
        if not m or m.get("value") is None:
            return None
        return float(m["value"])

    def interval(self, metric: str) -> tuple[float, float] | None:
        """The cell's own interval of the metric (from its evaluation items), if recorded."""
        m = self.metrics.get(metric) or {}
        if m.get("low") is None or m.get("high") is None:
            return None
        return float(m["low"]), float(m["high"])

    def category_values(self, metric: str = "harmfulness") -> dict[str, float]:
        """Per-harm-category values of ``metric`` (empty when not recorded)."""
        cats = (self.record.get("per_category") or {}).get(metric) or {}
        return {c: float(v["value"]) for c, v in cats.items() if v.get("value") is not None}

    @property
    def picks(self) -> list[dict[str, Any]]:
        return list(((self.record.get("selection") or {}).get("picks")) or [])

    @property
    def error(self) -> dict[str, Any] | None:
        return self.record.get("error")


@dataclass(frozen=True)
class Run:
    """A run folder as read: the sweep record and its cells in a stable order."""

    run_dir: Path
    sweep: dict[str, Any]
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.ok]

    @property
    def failed_cells(self) -> list[Cell]:
        return [c for c in self.cells if not c.ok]

    def cell(self, cell_id: str) -> Cell:
        """The cell with this id; raises DataFormatError naming the ids that exist."""
        for c in self.cells:
            if c.cell_id == cell_id:
                return c
        known = ", ".join(c.cell_id for c in self.cells[:20])
        raise DataFormatError(
            f"no cell {cell_id!r} in this run; cells: {known}{' ...' if len(self.cells) > 20 else ''}",
            path=self.run_dir / "cells",
        )


def _check_cell(path: Path, rec: Any) -> Cell:
    if not isinstance(rec, dict):
        raise DataFormatError("a cell record must be a JSON object", path=path)
    cell_id = rec.get("cell_id")
    if not isinstance(cell_id, str) or not cell_id:
        raise DataFormatError("missing or empty cell_id", path=path, field="cell_id")
    status = rec.get("status")
    if status not in _STATUSES:
        raise DataFormatError(f"status must be one of {', '.join(_STATUSES)}; got {status!r}", path=path)
    params = rec.get("params")
    if not isinstance(params, dict):
        raise DataFormatError("params must be an object", path=path, field="params")
    for key in ("model", "label", "budget", "seed"):
        if key not in params:
            raise DataFormatError(
                "params needs model, label, budget and seed", path=path, field=f"params.{key}"
            )
    for key in ("budget", "seed"):
        if not isinstance(params[key], int) or isinstance(params[key], bool):
            raise DataFormatError(
                f"must be an integer, got {params[key]!r}", path=path, field=f"params.{key}"
            )
    if params["budget"] < 0:
        raise DataFormatError("must be >= 0", path=path, field="params.budget")
    metrics = rec.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise DataFormatError("metrics must be an object", path=path, field="metrics")
    for name, m in metrics.items():
        value = m.get("value") if isinstance(m, dict) else m
        if value is not None and (not isinstance(value, int | float) or not math.isfinite(value)):
            raise DataFormatError(
                f"value must be a finite number or null, got {value!r}", path=path, field=f"metrics.{name}"
            )
    return Cell(cell_id=cell_id, status=status, params=params, record=rec, path=path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc}", path=path) from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc


def read_run(run_dir: str | Path, *, current_only: bool = True) -> Run:
    """Read ``RUN_DIR/sweep.json`` and the cells of ``RUN_DIR/cells/*.json``.

    Parameters
    ----------
    run_dir : str or Path
        A folder written by ``safetymix sweep``.
    current_only : bool, default True
        Keep only the cells listed in ``sweep.json`` (a run folder can also hold the cells
        of an earlier grid, which the sweep keeps for resuming); the others are counted in
        a note. False keeps every cell file.

    Returns
    -------
    Run
        Cells sorted by (model, label, budget, seed, cell_id), so everything computed from
        them comes out in the same order whatever the file system lists first.

    Raises
    ------
    DataFormatError
        No ``cells`` folder or no cell in it, unreadable JSON, or a cell without the fields
        the report needs (file and field named).

    Examples
    --------
    >>> run = read_run("runs/my-sweep")  # doctest: +SKIP
    >>> len(run.ok_cells), len(run.failed_cells)  # doctest: +SKIP
    (24, 0)
    """
    run_dir = Path(run_dir)
    cells_dir = run_dir / "cells"
    if not cells_dir.is_dir():
        raise DataFormatError("not a sweep run folder: no cells/ folder in it", path=run_dir)
    notes: list[str] = []
    sweep_file = run_dir / "sweep.json"
    if sweep_file.is_file():
        sweep = _read_json(sweep_file)
        if not isinstance(sweep, dict):
            raise DataFormatError("sweep.json must be a JSON object", path=sweep_file)
    else:
        sweep = {}
        notes.append(f"{sweep_file} is missing: the pool map and the sweep's settings are not shown")
    # Hidden files are the atomic writer's temporaries of cells still being written.
    files = sorted(p for p in cells_dir.glob("*.json") if not p.name.startswith("."))
    listed = sweep.get("cells")
    if current_only and isinstance(listed, list):
        wanted = {c.get("cell_id") for c in listed if isinstance(c, dict)}
        stale = [p for p in files if p.stem not in wanted]
        if stale:
            notes.append(
                f"{len(stale)} cell file(s) not in the grid of sweep.json (an earlier grid) left out"
            )
        files = [p for p in files if p.stem in wanted]
    cells = [_check_cell(p, _read_json(p)) for p in files]
    if not cells:
        raise DataFormatError("no finished cell yet (cells/ is empty)", path=cells_dir)
    seen: dict[str, Path] = {}
    for c in cells:
        if c.cell_id in seen:
            raise DataFormatError(f"cell_id {c.cell_id!r} also in {seen[c.cell_id]}", path=c.path)
        seen[c.cell_id] = c.path
    cells.sort(key=lambda c: (c.model, c.label, c.budget, c.seed, c.cell_id))
    return Run(run_dir=run_dir, sweep=sweep, cells=tuple(cells), notes=tuple(notes))
