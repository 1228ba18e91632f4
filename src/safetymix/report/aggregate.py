"""From cells to the numbers of the report: means over seeds, differences and reductions vs random.

Cells are grouped by (model, strategy label, budget); seeds are replicates.

- **Means** get a two-sided Student-t interval over seeds,
  ``mean +- t(conf, n-1) * sd / sqrt(n)`` with ``sd`` the sample standard deviation
  (``ddof=1``). With a single seed there is no spread to use: the interval is then the
  cell's own evaluation interval (Wilson for rates), marked ``method="cell"`` and listed
  in the notes.
- **Differences vs the reference** (default ``random``) are paired by seed: for every seed
  run at the same model and budget by both, ``d_s = x_strategy,s - x_reference,s``, with
  the t interval of ``mean(d)``. Pairing removes the variation shared by a seed (benign
  shuffle, initial weights).
- **Relative reduction of harmfulness** ``R = (h_ref - h_strategy) / h_ref`` (the paper's
  headline number) is the ratio of the paired means, ``mean(d) / mean(h_ref)`` with
  ``d_s = h_ref,s - h_strategy,s``. Its interval is the delta-method t interval over the
  same seeds: ``se = sd(d_s - R * h_ref,s) / (sqrt(n) * mean(h_ref))``, ``R +- t(conf, n-1)
  * se``. We use t rather than a percentile bootstrap over seeds because with the usual
  2-5 seeds a bootstrap has only a handful of distinct resamples and its interval is far
  too narrow; the t quantile (4.30 for 3 seeds) accounts for the few replicates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safetymix.errors import ConfigError
from safetymix.report.cells import BASELINE, METRICS, Cell, Run
from safetymix.report.estimates import RATES, Estimate, relative_reduction, t_estimate, t_quantile

__all__ = ["RATES", "Aggregate", "Estimate", "Group", "aggregate", "pareto_front", "t_estimate", "t_quantile"]

#: Strategy label that differences and reductions are measured against.
DEFAULT_REFERENCE = "random"


@dataclass
class Group:
    """All ok cells of one (model, label, budget): seeds are replicates."""

    model: str
    label: str
    strategy: str
    budget: int
    cells: list[Cell]
    metrics: dict[str, Estimate] = field(default_factory=dict)
    #: Paired-by-seed difference vs the reference label, per metric.
    diff: dict[str, Estimate] = field(default_factory=dict)
    #: Relative reduction of harmfulness vs the reference (None: no pair, or reference 0).
    reduction: Estimate | None = None
    #: Mean harmfulness per harm category over the seeds.
    per_category: dict[str, float] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return [c.seed for c in self.cells]

    @property
    def is_baseline(self) -> bool:
        return self.label == BASELINE

    def by_seed(self, metric: str) -> dict[int, float]:
        """Seed -> value of ``metric`` (seeds that lack it are left out)."""
        return {c.seed: v for c in self.cells if (v := c.value(metric)) is not None}

    def paired(self, other: Group, metric: str) -> tuple[list[float], list[float]]:
        """Values of ``metric`` here and in ``other`` at their shared seeds, in seed order."""
        a, b = self.by_seed(metric), other.by_seed(metric)
        common = sorted(set(a) & set(b))
        return [a[s] for s in common], [b[s] for s in common]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "label": self.label,
            "strategy": self.strategy,
            "budget": self.budget,
            "seeds": self.seeds,
            "cell_ids": [c.cell_id for c in self.cells],
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
            "diff_vs_reference": {k: v.as_dict() for k, v in self.diff.items()},
            "relative_reduction": self.reduction.as_dict() if self.reduction else None,
            "per_category_harmfulness": self.per_category,
        }


@dataclass
class Aggregate:
    """Everything the figures, tables and advisor read."""

    groups: list[Group]
    failed: list[Cell]
    reference: str
    confidence: float
    helpfulness: dict[str, Any] | None
    notes: list[str]

    @property
    def models(self) -> list[str]:
        return sorted({g.model for g in self.groups})

    def _strategy_groups(self, model: str | None) -> list[Group]:
        return [g for g in self.groups if not g.is_baseline and (model is None or g.model == model)]

    def labels(self, model: str | None = None) -> list[str]:
        """Strategy labels (without the baseline), the reference first, then by name."""
        names = {g.label for g in self._strategy_groups(model)}
        return sorted(names, key=lambda n: (n != self.reference, n))

    def budgets(self, model: str | None = None) -> list[int]:
        return sorted({g.budget for g in self._strategy_groups(model)})

    def series(self, model: str, label: str) -> list[Group]:
        """The groups of one strategy at one model, by budget."""
        return sorted(
            (g for g in self.groups if g.model == model and g.label == label), key=lambda g: g.budget
        )

    def baseline(self, model: str) -> Group | None:
        return next((g for g in self.groups if g.model == model and g.is_baseline), None)

    def group(self, model: str, label: str, budget: int) -> Group | None:
        return next((g for g in self.groups if (g.model, g.label, g.budget) == (model, label, budget)), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "confidence": self.confidence,
            "intervals": {
                "means": "Student-t over seeds (one seed: the cell's own interval)",
                "differences": "Student-t over seed pairs",
                "relative_reduction": "delta-method Student-t over seed pairs",
            },
            "helpfulness": self.helpfulness,
            "groups": [g.as_dict() for g in self.groups],
            "failed": [
                {"cell_id": c.cell_id, "params": c.params, "error": c.error, "path": str(c.path)}
                for c in self.failed
            ],
            "notes": self.notes,
        }


def _helpfulness_kind(cells: list[Cell], notes: list[str]) -> dict[str, Any] | None:
    kinds = {}
    for c in cells:
        m = c.metrics.get("helpfulness")
        if m and m.get("value") is not None:
            kinds[(m.get("kind", "loss"), bool(m.get("higher_is_better", m.get("kind") == "reward")))] = c
    if not kinds:
        return None
    if len(kinds) > 1:
        notes.append(
            "cells disagree on the helpfulness measure ("
            + ", ".join(f"{k} in {c.cell_id}" for (k, _), c in sorted(kinds.items()))
            + "); its means mix different scales"
        )
    kind, higher = sorted(kinds)[0]
    return {"kind": kind, "higher_is_better": higher}


def aggregate(run: Run, *, reference: str = DEFAULT_REFERENCE, confidence: float = 0.95) -> Aggregate:
    """Group a run's ok cells and compute means, paired differences and reductions.

    Parameters
    ----------
    run : Run
        From :func:`safetymix.report.read_run`.
    reference : str
        Label differences and relative reductions are measured against (default
        ``"random"``, the paper's baseline). When the run has no such label, differences and
        reductions are left empty and a note says so.
    confidence : float
        Coverage of every interval (default 0.95).

    Returns
    -------
    Aggregate
        Groups sorted by (model, baseline first, label, budget).

    Raises
    ------
    ConfigError
        No ok cell in the run, or a confidence outside (0, 1).
    """
    t_quantile(confidence, 1)  # validates confidence
    ok = run.ok_cells
    if not ok:
        raise ConfigError(f"all {len(run.cells)} cell(s) of {run.run_dir} failed: nothing to report")
    notes = list(run.notes)
    buckets: dict[tuple[str, str, int], list[Cell]] = defaultdict(list)
    for c in ok:
        buckets[(c.model, c.label, c.budget)].append(c)
    groups = []
    single = []
    for (model, label, budget), cells in buckets.items():
        seeds = [c.seed for c in cells]
        if len(set(seeds)) != len(seeds):
            notes.append(f"{label} k={budget} ({model}) has repeated seeds {seeds}: they count as replicates")
        g = Group(model, label, cells[0].strategy, budget, sorted(cells, key=lambda c: (c.seed, c.cell_id)))
        for metric in METRICS:
            vals = [(v, c) for c in g.cells if (v := c.value(metric)) is not None]
            if not vals:
                continue
            fallback = vals[0][1].interval(metric) if len(vals) == 1 else None
            bounds = (0.0, 1.0) if metric in RATES else None
            g.metrics[metric] = t_estimate([v for v, _ in vals], confidence, fallback=fallback, bounds=bounds)
            if len(vals) == 1:
                single.append(f"{label} k={budget}")
        cats: dict[str, list[float]] = defaultdict(list)
        for c in g.cells:
            for cat, v in c.category_values("harmfulness").items():
                cats[cat].append(v)
        g.per_category = {cat: float(np.mean(v)) for cat, v in sorted(cats.items())}
        groups.append(g)
    if single:
        notes.append(
            "one seed only (interval = the cell's own evaluation interval, not a spread over seeds): "
            + ", ".join(sorted(set(single)))
        )
    groups.sort(key=lambda g: (g.model, not g.is_baseline, g.label, g.budget))
    agg = Aggregate(groups, run.failed_cells, reference, confidence, _helpfulness_kind(ok, notes), notes)
    _compare(agg)
    return agg


def _compare(agg: Aggregate) -> None:
    """Fill ``diff`` and ``reduction`` of every non-reference group, paired by seed."""
    if not any(g.label == agg.reference for g in agg.groups):
        agg.notes.append(
            f"no {agg.reference!r} cells: no differences or relative reductions vs {agg.reference}"
        )
        return
    for g in agg.groups:
        if g.is_baseline or g.label == agg.reference:
            continue
        ref = agg.group(g.model, agg.reference, g.budget)
        if ref is None:
            agg.notes.append(f"{g.label} k={g.budget} ({g.model}): no {agg.reference} cells at that budget")
            continue
        for metric in METRICS:
            a, b = g.paired(ref, metric)
            if a:
                g.diff[metric] = t_estimate([x - y for x, y in zip(a, b, strict=True)], agg.confidence)
        a, b = g.paired(ref, "harmfulness")
        if a:
            g.reduction = relative_reduction(b, a, agg.confidence)
            if g.reduction is None:
                agg.notes.append(
                    f"{agg.reference} k={g.budget} ({g.model}) has harmfulness 0: "
                    "relative reduction undefined"
                )


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, both coordinates lower-is-better.

    A point is dominated when another is at most as large in both coordinates and smaller
    in one. Returned in increasing order of the first coordinate (ties: the second).

    Examples
    --------
    >>> pareto_front([(0.1, 0.5), (0.2, 0.2), (0.3, 0.3), (0.4, 0.1)])
    [0, 1, 3]
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best_second = math.inf
    for i in order:
        # Sorted by the first coordinate, a point is on the front when it beats every
        # earlier one in the second; exact duplicates of a front point stay on it.
        if points[i][1] < best_second or (front and points[i] == points[front[-1]]):
            front.append(i)
            best_second = min(best_second, points[i][1])
    return front
