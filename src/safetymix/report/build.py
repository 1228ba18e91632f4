"""``build_report``: read a run folder, aggregate, draw, and write the page, the table and the PNGs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from safetymix.report.aggregate import DEFAULT_REFERENCE, Aggregate, aggregate
from safetymix.report.cells import read_run
from safetymix.report.html import FigureEntry, render_html
from safetymix.stage_config import StageConfig


class ReportConfig(StageConfig):
    """Options of ``safetymix report``."""

    out: str | None = Field(
        None, description="output folder (default: RUN_DIR/report)", json_schema_extra={"flags": ["-o"]}
    )
    cell: str | None = Field(
        None, description="cell id shown up close (default: best non-random cell at the largest budget)"
    )
    reference: str = Field(DEFAULT_REFERENCE, description="strategy label that differences compare with")
    heatmap_budget: int | None = Field(
        None, ge=1, description="budget of the per-category heatmap (default: mean over budgets)"
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="coverage of every interval")
    pool_map: bool = Field(True, description="embed the pool for the PCA map of the chosen cell's picks")


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    out_dir: Path
    html: Path
    markdown: Path
    summary: Path
    figures: dict[str, Path] = field(default_factory=dict)
    cell_id: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The numbers behind the report (what summary.json holds).
    aggregate: Aggregate | None = None


#: Title and caption of every figure the report can write, by file stem, in report order.
_CAPTIONS = {
    "harm_vs_budget": (
        "Harmfulness and refusal on harmful prompts vs budget",
        "One line per strategy (mean over seeds), its band the {pct}% interval over seeds; the dashed "
        "black line and grey band are the benign-only model (no safety examples). Lower harmfulness "
        "and higher harmful refusal are better: look for the smallest k where a line is well below "
        "(left) or above (right) the dashed line and the bands of other strategies.",
    ),
    "over_refusal_vs_budget": (
        "Over-refusal on safe prompts vs budget",
        "Share of safe prompts (XSTest safe) the model refused; lower is better. The height above the "
        "dashed benign-only line is the over-refusal the safety examples cost.",
    ),
    "helpfulness_vs_budget": (
        "Helpfulness vs budget",
        "The helpfulness measure of the sweep ({help}); the dashed line is the benign-only model. A "
        "line that moves away from it in the bad direction means the safety examples cost helpfulness.",
    ),
    "tradeoff": (
        "Safety / over-refusal trade-off",
        "Each dot is one strategy at one budget (mean over seeds; the number beside it is k); the star "
        "is the benign-only model. Bottom-left is better on both axes. The dotted step line is the "
        "Pareto front: the points no other point beats on both harmfulness and over-refusal.",
    ),
    "category_heatmap": (
        "Harmfulness per harm category",
        "Rows are strategies, columns harm categories; each cell is the harmfulness (%) on that "
        "category's harmful prompts ({where}). Dark cells are the categories a strategy leaves "
        "uncovered; compare each row with the benign-only row.",
    ),
    "relative_reduction": (
        "Relative reduction of harmfulness vs {ref}",
        "(h_{ref} - h) / h_{ref} at each budget, paired by seed: above 0 means fewer harmful answers "
        "than {ref} picks of the same size (the paper reports up to 41%). Error bars are {pct}% "
        "delta-method t intervals over seed pairs; a bar that crosses 0 is not a clear win.",
    ),
    "pool_map": (
        "Where the picks lie in the pool",
        "The pool's prompt embeddings projected on their first two principal components (grey), with "
        "the chosen cell's picks coloured by behaviour and numbered in pick order. Picks spread over "
        "the map cover many kinds of request; a tight cluster means near-duplicates.",
    ),
}


def _entry(key: str, path: Path, agg: Aggregate, heatmap_budget: int | None) -> FigureEntry:
    from safetymix.report.figures import helpfulness_label

    title, caption = _CAPTIONS[key]
    where = (
        "mean over budgets and seeds" if heatmap_budget is None else f"at k={heatmap_budget}, mean over seeds"
    )
    fmt = {
        "pct": int(round(agg.confidence * 100)),
        "ref": agg.reference,
        "help": helpfulness_label(agg),
        "where": where,
    }
    return FigureEntry(key, title.format(**fmt), path, caption.format(**fmt))


def build_report(
    run_dir: str | Path, config: ReportConfig | None = None, *, show_progress: bool = False
) -> ReportResult:
    """Write ``report.html``, ``results.md``, ``summary.json`` and the PNGs of a sweep.

    Parameters
    ----------
    run_dir : str or Path
        Folder written by ``safetymix sweep`` (``sweep.json``, ``cells/``).
    config : ReportConfig, optional
        Defaults as documented there.
    show_progress : bool
        Progress bar over the figures (the CLI turns it on).

    Returns
    -------
    ReportResult

    Raises
    ------
    DataFormatError
        Not a run folder, unreadable cells, or ``config.cell`` not in the run.
    ConfigError
        No ok cell.
    """
    from rich.progress import track

    from safetymix import __version__
    from safetymix.io import atomic_write, write_json
    from safetymix.io.manifest import record_header
    from safetymix.report import figures as F
    from safetymix.report.picks import choose_cell, pick_rows, pool_map
    from safetymix.report.tables import results_markdown

    config = config or ReportConfig()
    run = read_run(run_dir)
    agg = aggregate(run, reference=config.reference, confidence=config.confidence)
    out = Path(config.out) if config.out else run.run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    cell = choose_cell(run, agg, config.cell)
    notes = list(agg.notes)
    if config.heatmap_budget is not None and config.heatmap_budget not in agg.budgets():
        notes.append(f"no cell at heatmap budget k={config.heatmap_budget}; budgets: {agg.budgets()}")

    rate_panels: list[F.Panel] = [
        ("harmfulness", "Harmfulness (lower is better)", "harmful answers, %", 100.0),
        ("harmful_refusal", "Refusal on harmful prompts (higher is better)", "refused, %", 100.0),
    ]
    steps = {
        "harm_vs_budget": lambda p: F.plot_vs_budget(agg, rate_panels, p, "Harmful prompts"),
        "over_refusal_vs_budget": lambda p: F.plot_vs_budget(
            agg,
            [("over_refusal", "Over-refusal (lower is better)", "safe prompts refused, %", 100.0)],
            p,
            "Safe prompts (XSTest)",
        ),
        "helpfulness_vs_budget": lambda p: F.plot_vs_budget(
            agg, [("helpfulness", "Helpfulness", F.helpfulness_label(agg), 1.0)], p, "Helpfulness"
        ),
        "tradeoff": lambda p: F.plot_tradeoff(agg, p),
        "category_heatmap": lambda p: F.plot_category_heatmap(agg, p, config.heatmap_budget),
        "relative_reduction": lambda p: F.plot_relative_reduction(agg, p),
    }
    written: dict[str, Path] = {}
    for key in track(list(steps), description="figures", disable=not show_progress, transient=True):
        path = steps[key](out / f"{key}.png")
        if path is None:
            notes.append(f"figure {key} skipped: the cells hold no data for it")
        else:
            written[key] = path
    pool_figure = None
    if cell is not None and config.pool_map:
        path, note = pool_map(cell, run, out / "pool_map.png", show_progress=show_progress)
        if note:
            notes.append(note)
        if path is not None:
            written["pool_map"] = path
            pool_figure = _entry("pool_map", path, agg, config.heatmap_budget)
    for key in _CAPTIONS:  # a figure this run did not draw must not survive from an older run
        if key not in written:
            (out / f"{key}.png").unlink(missing_ok=True)

    entries = [_entry(k, p, agg, config.heatmap_budget) for k, p in written.items() if k != "pool_map"]
    page = render_html(
        run,
        agg,
        entries,
        cell=cell,
        pick_rows=pick_rows(cell) if cell is not None else [],
        pool_figure=pool_figure,
        notes=notes,
        version=__version__,
    )
    html_path, md_path, summary_path = out / "report.html", out / "results.md", out / "summary.json"
    with atomic_write(html_path) as fh:
        fh.write(page)
    md_figures = {_entry(k, p, agg, config.heatmap_budget).title: p.name for k, p in written.items()}
    agg.notes = notes
    with atomic_write(md_path) as fh:
        fh.write(results_markdown(agg, md_figures))
    summary = {
        **record_header("report"),
        "run_dir": str(run.run_dir),
        "config": config.model_dump(mode="json"),
        "cell": cell.cell_id if cell is not None else None,
        "figures": {k: p.name for k, p in written.items()},
        **agg.as_dict(),
    }
    write_json(summary_path, summary)
    return ReportResult(
        out_dir=out,
        html=html_path,
        markdown=md_path,
        summary=summary_path,
        figures=written,
        cell_id=cell.cell_id if cell is not None else None,
        notes=notes,
        aggregate=agg,
    )
