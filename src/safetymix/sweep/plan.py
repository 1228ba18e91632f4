"""Before any cell runs: read and fingerprint the inputs, lay out the grid, see what is done.

Nothing here trains or labels; :func:`plan_sweep` is what ``--dry-run`` shows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.schema import Example
from safetymix.sweep.cells import Cell, examples_sha256, expand_cells
from safetymix.sweep.config import SweepConfig
from safetymix.sweep.results import CELLS_DIR, cell_path, read_cell


@dataclass
class SweepInputs:
    """The benign set and the pool as read, and what ``sweep.json`` records about every input."""

    benign: list[Example]
    pool: list[Example]
    record: dict[str, Any]
    hashes: dict[str, Any]


def _data(
    name: str, path: str | None, fmt: str | None, given: Sequence[Example] | None, *, duplicates: str
) -> tuple[list[Example], dict[str, Any]]:
    from safetymix.io import read_examples
    from safetymix.io.manifest import recording_reads

    if given is not None and path is not None:
        raise ConfigError(
            f"give the {name} set once: {name}.path in the config or {name}= examples, not both"
        )
    if given is not None:
        examples = list(given)
        return examples, {"path": None, "sha256": examples_sha256(examples), "n_examples": len(examples)}
    if path is None:
        raise ConfigError(f"no {name} set: set {name}.path in the config (or pass {name}= examples)")
    with recording_reads() as reads:  # the sha256 of the bytes read, not of a second look
        examples = read_examples(path, fmt, duplicates=duplicates)
    return examples, {"path": str(path), "sha256": reads.sha256(path), "n_examples": len(examples)}


def resolve_inputs(
    config: SweepConfig, *, benign: Sequence[Example] | None = None, pool: Sequence[Example] | None = None
) -> SweepInputs:
    """Read the benign set and the pool (or take them as given) and hash every input.

    Raises
    ------
    ConfigError
        A set given both by path and in memory, or by neither; unknown suites.
    DataFormatError
        Unreadable data; an evaluation suite file that does not exist.
    """
    from safetymix.eval import EvalConfig, resolve_suites
    from safetymix.eval.suites import suite_path
    from safetymix.io import sha256_file

    # A benign set may hold exact duplicates (alpaca_en_demo has 14): each row is kept, as by mix.
    benign_ex, benign_rec = _data(
        "benign", config.benign.path, config.benign.format, benign, duplicates="keep"
    )
    pool_ex, pool_rec = _data("pool", config.pool.path, config.pool.format, pool, duplicates="error")
    if not benign_ex:
        raise DataFormatError("the benign set is empty", path=config.benign.path)
    record: dict[str, Any] = {"benign": benign_rec, "pool": pool_rec}
    hashes: dict[str, Any] = {"benign": benign_rec["sha256"], "pool": pool_rec["sha256"]}
    for key, value in (("reference", config.pool.reference), ("taxonomy", config.pool.taxonomy)):
        if value is not None and Path(value).is_file():
            record[key] = {"path": value, "sha256": sha256_file(value)}
            hashes[key] = record[key]["sha256"]
        elif key == "reference" and value is not None:
            raise DataFormatError("reference file not found", path=value)
    eval_config = EvalConfig(**config.eval.cell_fields())
    suites = {}
    for spec in resolve_suites(eval_config):
        path = suite_path(spec, eval_config.data_root)
        if not path.is_file():
            hint = " (set eval.data_root or $SAFETYMIX_DATASETS)" if spec.builtin else ""
            raise DataFormatError(f"suite {spec.name!r}: no such file{hint}", path=path)
        suites[spec.name] = {"kind": spec.kind, "path": str(path), "sha256": sha256_file(path)}
    record["suites"] = suites
    hashes["suites"] = {name: s["sha256"] for name, s in suites.items()}
    return SweepInputs(benign_ex, pool_ex, record, hashes)


@dataclass
class SweepPlan:
    """The grid, what is already done, and the estimated time of the rest.

    Attributes
    ----------
    cells : list of Cell
        Every cell, in run order.
    status : dict
        cell id -> ``"done"``, ``"failed"`` (will be retried) or ``"pending"``.
    estimate_seconds : float or None
        Wall-clock estimate of the cells left to run; None when nothing was measured yet.
    estimate_basis : str
        Where the estimate comes from, in words.
    """

    cells: list[Cell]
    inputs: SweepInputs
    status: dict[str, str] = field(default_factory=dict)
    estimate_seconds: float | None = None
    estimate_basis: str = ""

    @property
    def todo(self) -> list[Cell]:
        return [c for c in self.cells if self.status[c.cell_id] != "done"]

    @property
    def n_done(self) -> int:
        return sum(1 for s in self.status.values() if s == "done")


def cell_status(run_dir: Path, cell_id: str) -> str:
    path = cell_path(run_dir, cell_id)
    if not path.is_file():
        return "pending"
    try:
        return "done" if read_cell(path)["status"] == "ok" else "failed"
    except DataFormatError:
        return "pending"  # not a valid result: the cell runs again and replaces it


def measured_seconds(run_dir: Path) -> dict[str, list[float]]:
    """Seconds per finished cell in ``run_dir`` (any grid), by model."""
    out: dict[str, list[float]] = {}
    folder = run_dir / CELLS_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = read_cell(path)
        except DataFormatError:
            continue
        if rec["status"] == "ok" and "total" in rec["seconds"]:
            out.setdefault(rec["params"]["model"], []).append(float(rec["seconds"]["total"]))
    return out


def estimate(run_dir: Path, todo: Sequence[Cell], workers: int) -> tuple[float | None, str]:
    """Time of ``todo`` from the mean seconds per finished cell of the same model (else any
    model) in this run folder, divided among ``workers``."""
    if not todo:
        return 0.0, "nothing left to run"
    measured = measured_seconds(run_dir)
    every = [s for values in measured.values() for s in values]
    if not every:
        return None, f"no finished cell in {run_dir} to time yet; run the sweep (Ctrl-C keeps finished cells)"
    total = sum(statistics.fmean(measured.get(c.model) or every) for c in todo)
    basis = (
        f"mean of {len(every)} finished cell(s) in {run_dir} "
        f"({statistics.fmean(every):.1f} s per cell), {workers} worker(s)"
    )
    return total / max(1, min(workers, len(todo))), basis


def plan_sweep(
    config: SweepConfig,
    run_dir: str | Path,
    *,
    benign: Sequence[Example] | None = None,
    pool: Sequence[Example] | None = None,
    workers: int = 1,
) -> SweepPlan:
    """Lay out the grid and check ``run_dir`` for finished cells; trains and labels nothing.

    Parameters
    ----------
    config : SweepConfig
    run_dir : str or Path
        The sweep's run folder (need not exist).
    benign, pool : sequence of Example, optional
        In-memory data instead of ``config.benign.path`` / ``config.pool.path``.
    workers : int
        Cells run side by side (for the time estimate).
    """
    run_dir = Path(run_dir)
    inputs = resolve_inputs(config, benign=benign, pool=pool)
    cells = expand_cells(config, inputs.hashes, len(inputs.benign))
    plan = SweepPlan(cells, inputs, {c.cell_id: cell_status(run_dir, c.cell_id) for c in cells})
    plan.estimate_seconds, plan.estimate_basis = estimate(run_dir, plan.todo, workers)
    return plan
