"""The report's figures: matplotlib (Agg), one PNG each, same bytes for the same input.

Every function takes an :class:`~safetymix.report.aggregate.Aggregate`, writes one PNG
and returns its path, or None when the run holds no data for that figure. Figures are
built with :class:`matplotlib.figure.Figure` (no pyplot global state) under matplotlib's
default style, and saved without the ``Software`` metadata, so the bytes depend only on
the numbers and the matplotlib version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.report.aggregate import Aggregate, Group, pareto_front

#: Resolution of every PNG (dots per inch).
DPI = 100
_BASELINE_NAME = "benign only"


@contextmanager
def _style() -> Iterator[Any]:
    """Matplotlib's default style, whatever the user's matplotlibrc says, on the Agg canvas."""
    import matplotlib.style

    with matplotlib.style.context("default"):
        from matplotlib.figure import Figure

        yield Figure


def _save(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.tmp")
    # Software would embed the matplotlib version string; without it only pixels remain.
    fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    tmp.replace(path)
    return path


def palette(labels: Sequence[str]) -> dict[str, Any]:
    """One colour per strategy label, stable across figures (tab10, then tab20)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def short_category(name: str, width: int = 22) -> str:
    """A heatmap tick label: BeaverTails' first term (``violence,aiding...`` -> ``violence...``)."""
    head, _, rest = name.partition(",")
    out = head + ("..." if rest else "")
    return out if len(out) <= width else out[: width - 3] + "..."


def _model_title(agg: Aggregate, title: str, model: str) -> str:
    return f"{title}\n{model}" if len(agg.models) > 1 else title


def _finish(ax: Any, agg: Aggregate, title: str, model: str) -> None:
    ax.set_title(_model_title(agg, title, model))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def _budget_axis(ax: Any, budgets: Sequence[int]) -> None:
    if budgets and min(budgets) > 0 and len(budgets) > 1:
        ax.set_xscale("log")
        ax.minorticks_off()
    if budgets:
        ax.set_xticks(list(budgets))
        ax.set_xticklabels([str(b) for b in budgets])
    ax.set_xlabel("budget k (safety examples added)")


def _values(groups: Sequence[Group], metric: str | None, scale: float) -> tuple[np.ndarray, ...]:
    """Budgets, means and bounds (NaN: none) of ``metric``; None: the relative reduction."""
    x, y, lo, hi = [], [], [], []
    for g in groups:
        e = g.reduction if metric is None else g.metrics.get(metric)
        if e is None:
            continue
        x.append(g.budget)
        y.append(e.mean * scale)
        lo.append(np.nan if e.low is None else e.low * scale)
        hi.append(np.nan if e.high is None else e.high * scale)
    return tuple(np.asarray(v, dtype=np.float64) for v in (x, y, lo, hi))


#: (metric, panel title, y label, scale) of the line figures.
Panel = tuple[str, str, str, float]


def helpfulness_label(agg: Aggregate) -> str:
    """Helpfulness axis label naming the measure and its good direction."""
    h = agg.helpfulness or {"kind": "loss", "higher_is_better": False}
    what = "held-out loss" if h["kind"] == "loss" else h["kind"]
    return f"{what} ({'higher' if h['higher_is_better'] else 'lower'} is better)"


def plot_vs_budget(agg: Aggregate, panels: Sequence[Panel], path: Path, title: str) -> Path | None:
    """Metric vs budget, one line per strategy with its interval band, benign-only as a reference.

    One column per panel that has data, one row per base model.
    """
    panels = [p for p in panels if any(p[0] in g.metrics for g in agg.groups)]
    if not panels:
        return None
    models = agg.models
    colours = palette(agg.labels())
    pct = int(agg.confidence * 100)
    with _style() as Figure:
        fig = Figure(figsize=(5.6 * len(panels), 4.2 * len(models)), layout="constrained")
        axes = fig.subplots(len(models), len(panels), squeeze=False)
        for row, model in enumerate(models):
            base = agg.baseline(model)
            for col, (metric, panel_title, ylabel, scale) in enumerate(panels):
                ax = axes[row][col]
                labels = agg.labels(model)
                for i, label in enumerate(labels):
                    x, y, lo, hi = _values(agg.series(model, label), metric, scale)
                    if not len(x):
                        continue
                    if len(agg.budgets(model)) == 1:
                        # One budget: a band has no width, so draw dodged interval bars.
                        x = x * (1 + 0.03 * (i - (len(labels) - 1) / 2))
                        ax.errorbar(
                            x,
                            y,
                            yerr=[y - lo, hi - y],
                            marker="o",
                            capsize=4,
                            color=colours[label],
                            label=label,
                            ls="",
                        )
                        continue
                    ax.plot(x, y, marker="o", color=colours[label], label=label)
                    ax.fill_between(x, lo, hi, color=colours[label], alpha=0.18, linewidth=0)
                if base is not None and metric in base.metrics:
                    e = base.metrics[metric]
                    ax.axhline(e.mean * scale, color="black", ls="--", lw=1.2, label=_BASELINE_NAME)
                    if e.low is not None:
                        ax.axhspan(e.low * scale, e.high * scale, color="black", alpha=0.07, linewidth=0)
                _budget_axis(ax, agg.budgets(model))
                ax.set_ylabel(ylabel)
                _finish(ax, agg, panel_title, model)
        shape = "bars" if all(len(agg.budgets(m)) == 1 for m in models) else "band"
        fig.suptitle(f"{title} (mean over seeds, {shape}: {pct}% interval)")
        return _save(fig, path)


def plot_tradeoff(agg: Aggregate, path: Path) -> Path | None:
    """Harmfulness vs over-refusal, one point per strategy x budget, with the Pareto front."""
    both = [g for g in agg.groups if "harmfulness" in g.metrics and "over_refusal" in g.metrics]
    models = [m for m in agg.models if any(g.model == m for g in both)]
    if not models:
        return None
    colours = palette(agg.labels())
    with _style() as Figure:
        fig = Figure(figsize=(7.0, 5.2 * len(models)), layout="constrained")
        axes = fig.subplots(len(models), 1, squeeze=False)
        for row, model in enumerate(models):
            ax = axes[row][0]
            pts: list[tuple[float, float]] = []
            for g in (g for g in both if g.model == model):
                x, y = 100 * g.metrics["over_refusal"].mean, 100 * g.metrics["harmfulness"].mean
                pts.append((x, y))
                if g.is_baseline:
                    ax.scatter([x], [y], marker="*", s=220, color="black", zorder=3, label=_BASELINE_NAME)
                    continue
                ax.scatter([x], [y], color=colours[g.label], s=40, zorder=3)
                ax.annotate(str(g.budget), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
            for label in agg.labels(model):  # one legend entry per strategy
                ax.scatter([], [], color=colours[label], s=40, label=label)
            front = pareto_front(pts)
            fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
            ax.plot(
                fx, fy, color="black", lw=1, ls=":", drawstyle="steps-post", label="Pareto front", zorder=2
            )
            ax.set_xlabel("over-refusal on safe prompts, % (lower is better)")
            ax.set_ylabel("harmfulness, % (lower is better)")
            _finish(ax, agg, "Safety / over-refusal trade-off (labels: budget k)", model)
        return _save(fig, path)


def heatmap_values(agg: Aggregate, model: str, budget: int | None) -> tuple[list[str], list[str], np.ndarray]:
    """Rows (baseline, then strategies), categories and the harmfulness matrix (NaN: no data).

    ``budget=None`` averages each strategy's per-category means over its budgets (every
    budget weighs the same); an int takes that budget only (the baseline is always shown).
    """
    rows = ([] if agg.baseline(model) is None else ["none"]) + agg.labels(model)
    cats = sorted({c for g in agg.groups if g.model == model for c in g.per_category})
    mat = np.full((len(rows), len(cats)), np.nan)
    for i, label in enumerate(rows):
        groups = [
            g
            for g in agg.series(model, label)
            if g.per_category and (budget is None or g.is_baseline or g.budget == budget)
        ]
        for j, cat in enumerate(cats):
            vals = [g.per_category[cat] for g in groups if cat in g.per_category]
            if vals:
                mat[i, j] = float(np.mean(vals))
    keep = [i for i in range(len(rows)) if not np.all(np.isnan(mat[i]))]
    return [rows[i] for i in keep], cats, mat[keep]


def plot_category_heatmap(agg: Aggregate, path: Path, budget: int | None = None) -> Path | None:
    """Strategy x harm-category heatmap of harmfulness (%)."""
    data = [(m, *heatmap_values(agg, m, budget)) for m in agg.models]
    data = [d for d in data if d[2] and d[1]]
    if not data:
        return None
    where = "mean over budgets and seeds" if budget is None else f"budget k={budget}, mean over seeds"
    with _style() as Figure:
        width = max(7.0, 0.62 * max(len(d[2]) for d in data) + 3.0)
        heights = [0.42 * len(d[1]) + 2.4 for d in data]
        fig = Figure(figsize=(width, sum(heights)), layout="constrained")
        axes = fig.subplots(len(data), 1, squeeze=False, height_ratios=heights)
        for row, (model, rows, cats, mat) in enumerate(data):
            ax = axes[row][0]
            pct = 100 * mat
            im = ax.imshow(np.ma.masked_invalid(pct), cmap="Reds", vmin=0, vmax=100, aspect="auto")
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels([short_category(c) for c in cats], rotation=40, ha="right", fontsize=8)
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([_BASELINE_NAME if r == "none" else r for r in rows], fontsize=9)
            for i in range(len(rows)):
                for j in range(len(cats)):
                    if not np.isnan(pct[i, j]):
                        colour = "white" if pct[i, j] > 60 else "black"
                        ax.text(j, i, f"{pct[i, j]:.0f}", ha="center", va="center", fontsize=7, color=colour)
            ax.set_xlabel("harm category")
            ax.set_ylabel("strategy")
            ax.set_title(_model_title(agg, f"Harmfulness (%) per harm category ({where})", model))
            fig.colorbar(im, ax=ax, label="harmfulness, %")
        return _save(fig, path)


def plot_relative_reduction(agg: Aggregate, path: Path) -> Path | None:
    """Relative reduction of harmfulness vs the reference at each budget, with its interval."""
    models = [m for m in agg.models if any(g.model == m and g.reduction for g in agg.groups)]
    if not models:
        return None
    colours = palette(agg.labels())
    pct = int(agg.confidence * 100)
    with _style() as Figure:
        fig = Figure(figsize=(7.5, 4.6 * len(models)), layout="constrained")
        axes = fig.subplots(len(models), 1, squeeze=False)
        for row, model in enumerate(models):
            ax = axes[row][0]
            labels = [lab for lab in agg.labels(model) if any(g.reduction for g in agg.series(model, lab))]
            for j, label in enumerate(labels):
                x, y, lo, hi = _values(agg.series(model, label), None, 100)
                # Side-by-side offsets (multiplicative: the axis is logarithmic).
                x = x * (1 + 0.06 * (j - (len(labels) - 1) / 2))
                err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=colours[label], label=label, ls="")
            ax.axhline(0, color="black", lw=1)
            _budget_axis(ax, agg.budgets(model))
            ax.set_ylabel(f"relative reduction of harmfulness vs {agg.reference}, %\n(higher is better)")
            title = f"(h_{agg.reference} - h) / h_{agg.reference} per budget, {pct}% interval"
            _finish(ax, agg, title, model)
        return _save(fig, path)


def plot_pool_map(
    coords: np.ndarray,
    picked: Sequence[int],
    behaviours: Sequence[str],
    explained: Sequence[float],
    path: Path,
    title: str,
) -> Path:
    """2-D PCA map of the pool (grey) with the cell's picks highlighted, coloured by behaviour."""
    with _style() as Figure:
        fig = Figure(figsize=(7.0, 6.0), layout="constrained")
        ax = fig.subplots()
        ax.scatter(coords[:, 0], coords[:, 1], s=6, color="0.75", label=f"pool ({len(coords)})", linewidths=0)
        by_beh: dict[str, list[int]] = {}
        for i, b in zip(picked, behaviours, strict=True):
            by_beh.setdefault(b, []).append(i)
        cmap = palette(sorted(by_beh))
        for b in sorted(by_beh):
            idx = by_beh[b]
            ax.scatter(
                coords[idx, 0],
                coords[idx, 1],
                s=46,
                color=cmap[b],
                edgecolors="black",
                linewidths=0.6,
                label=f"picked, {b} ({len(idx)})",
                zorder=3,
            )
        for rank, i in enumerate(picked, start=1):
            ax.annotate(str(rank), coords[i], textcoords="offset points", xytext=(3, 3), fontsize=6)
        ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f}% of variance)")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        return _save(fig, path)
