"""One cell up close: which examples it picked, and where they lie in the pool (PCA map)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.errors import SafetymixError
from safetymix.report.aggregate import Aggregate
from safetymix.report.cells import Cell, Run

logger = logging.getLogger(__name__)

#: Characters of a prompt shown in the picks table.
EXCERPT = 160


def choose_cell(run: Run, agg: Aggregate, cell_id: str | None = None) -> Cell | None:
    """The cell shown up close: ``cell_id`` if given, else the best non-reference cell.

    "Best" is the lowest harmfulness among the ok, non-baseline cells that recorded picks,
    at the largest budget, not counting the reference strategy (random) unless it is the
    only one. Ties go to the label, then the seed, then the cell id.

    Raises
    ------
    DataFormatError
        ``cell_id`` is not a cell of the run.
    """
    if cell_id is not None:
        return run.cell(cell_id)
    with_picks = [c for c in run.ok_cells if not c.is_baseline and c.picks]
    candidates = [c for c in with_picks if c.label != agg.reference] or with_picks
    if not candidates:
        return None
    top = max(c.budget for c in candidates)
    at_top = [c for c in candidates if c.budget == top]

    def key(c: Cell) -> tuple:
        h = c.value("harmfulness")
        return (np.inf if h is None else h, c.label, c.seed, c.cell_id)

    return min(at_top, key=key)


def format_reason(reason: Any) -> str:
    """A pick's reason as one short line (``slot=quota category=... score=0.412``)."""
    if reason is None:
        return ""
    if not isinstance(reason, dict):
        return str(reason)
    parts = []
    for key, value in reason.items():
        if key in ("strategy", "rank") or value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.3f}"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def pick_rows(cell: Cell) -> list[dict[str, str]]:
    """Rows of the picks table: rank, id, prompt excerpt, behaviour, categories, reason."""
    rows = []
    for rank, p in enumerate(cell.picks, start=1):
        prompt = " ".join(str(p.get("prompt") or p.get("instruction") or "").split())
        if len(prompt) > EXCERPT:
            prompt = prompt[: EXCERPT - 3] + "..."
        cats = p.get("categories") or []
        rows.append(
            {
                "rank": str(rank),
                "id": str(p.get("id", "")),
                "prompt": prompt,
                "behaviour": str(p.get("behaviour") or "unknown"),
                "categories": ", ".join(cats) if isinstance(cats, list) else str(cats),
                "reason": format_reason(p.get("reason")),
            }
        )
    return rows


@dataclass(frozen=True)
class PoolSource:
    """Where the sweep's pool lies and how it was embedded (from ``sweep.json``)."""

    path: str | None
    format: str | None
    embedding_model: str


def pool_source(sweep: dict[str, Any]) -> PoolSource:
    """Read the pool section of a sweep record (``config.pool``: path, format, embedding_model)."""
    from safetymix.embed import DEFAULT_MODEL

    config = sweep.get("config") if isinstance(sweep.get("config"), dict) else sweep
    pool = config.get("pool") if isinstance(config, dict) else None
    if isinstance(pool, str):
        return PoolSource(pool, None, DEFAULT_MODEL)
    if not isinstance(pool, dict):
        return PoolSource(None, None, DEFAULT_MODEL)
    return PoolSource(pool.get("path"), pool.get("format"), pool.get("embedding_model") or DEFAULT_MODEL)


def _resolve(path: str, run_dir: Path) -> Path:
    """As the sweep read it (working directory), else beside the run folder."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    beside = run_dir / p
    return beside if beside.exists() else p


def pool_map(
    cell: Cell, run: Run, path: Path, *, show_progress: bool = False
) -> tuple[Path | None, str | None]:
    """Embed the sweep's pool, project it on 2 principal components and mark the cell's picks.

    Parameters
    ----------
    cell : Cell
        The cell whose picks are highlighted.
    run : Run
        Its run (``sweep.json`` names the pool file and the embedding model).
    path : Path
        PNG to write.
    show_progress : bool
        Progress bar while embedding (the CLI turns it on).

    Returns
    -------
    (png path or None, note or None)
        The figure is skipped, with a note saying why, when the pool file is not named,
        cannot be read or embedded, or holds none of the picks. It never raises for these.
    """
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    from safetymix.embed import Encoder
    from safetymix.io import read_examples
    from safetymix.report.figures import plot_pool_map

    src = pool_source(run.sweep)
    if not src.path:
        return None, "pool map skipped: sweep.json names no pool file (config.pool.path)"
    pool_file = _resolve(src.path, run.run_dir)
    try:
        examples = read_examples(pool_file, src.format)
    except (SafetymixError, OSError) as exc:
        return None, f"pool map skipped: the pool file {pool_file} cannot be read ({exc})"
    if len(examples) < 3:
        return None, f"pool map skipped: the pool {pool_file} has {len(examples)} example(s)"
    index = {e.id: i for i, e in enumerate(examples)}
    picked = [(index[p["id"]], p) for p in cell.picks if p.get("id") in index]
    if not picked:
        return None, f"pool map skipped: none of the cell's picks is in {pool_file} (another pool?)"
    missing = len(cell.picks) - len(picked)
    try:
        emb = Encoder(src.embedding_model, show_progress=show_progress).encode([e.prompt for e in examples])
    except (SafetymixError, OSError, ValueError) as exc:
        return None, f"pool map skipped: embedding the pool with {src.embedding_model} failed ({exc})"
    # Exact PCA from the d x d covariance (cheap for n >> d); sklearn fixes the components'
    # signs. One BLAS thread: the same floats on every run, and no oversubscription.
    with threadpool_limits(1):
        pca = PCA(n_components=2, svd_solver="covariance_eigh")
        coords = pca.fit_transform(emb.astype(np.float64))
    title = f"Pool ({pool_file.name}) and the picks of {cell.label} k={cell.budget} seed {cell.seed}"
    out = plot_pool_map(
        coords,
        [i for i, _ in picked],
        [str(p.get("behaviour") or "unknown") for _, p in picked],
        pca.explained_variance_ratio_.tolist(),
        path,
        title,
    )
    note = f"{missing} pick(s) not found in the pool file are not on the map" if missing else None
    return out, note
