"""The budget advisor: the smallest tested budget, and the strategy, that meet the user's targets.

Targets: harmfulness ``<= max_harmfulness`` (an absolute rate in [0, 1]) and an
over-refusal increase over the benign-only baseline ``<= max_over_refusal_increase``
(percentage points).

Evidence per strategy and tested budget, two ways:

- **raw** (the default basis): the mean over seeds with its Student-t interval, as in the
  report. The over-refusal increase is paired by seed with the baseline cells
  (``over_s - over_baseline,s``, over the shared seeds); with fewer than two shared seeds,
  Welch's t interval of the two means. With one seed the cell's own evaluation interval
  stands in (the baseline then counts as exact).
- **fit**: monotone (isotonic) regression of each metric on log budget per strategy,
  harmfulness non-increasing and over-refusal non-decreasing in the budget (more safety
  examples never make the model less safe or less cautious on average; where the data
  disagree, the fit pools the neighbouring budgets). Its interval is the percentile
  bootstrap over seeds: seeds are resampled with replacement (a seed's cells at all budgets,
  and its baseline cell, travel together) and the fit is redone. With a single seed the fit
  has no interval, so under ``rule="upper"`` it meets nothing.

A budget **meets** the targets under ``rule="upper"`` (default, conservative) when the
upper bounds of both intervals pass, under ``rule="mean"`` when both means pass. Only
tested budgets are recommended; the fit is also interpolated between tested budgets (linear
in log budget) to show where it would cross the targets, and that number is marked untested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from safetymix.errors import ConfigError
from safetymix.report.aggregate import Aggregate, Estimate, Group, t_estimate
from safetymix.report.estimates import t_quantile
from safetymix.stage_config import StageConfig


class AdviseConfig(StageConfig):
    """Options of ``safetymix advise``: the two targets and how evidence is read."""

    max_harmfulness: float = Field(
        ...,
        ge=0.0,
        le=1.0,
        description="target: harmfulness at most this rate ('0.2' or '20%')",
        json_schema_extra={"cli_type": "str"},
    )
    max_over_refusal_increase: float = Field(
        ...,
        ge=-100.0,
        le=100.0,
        description="target: over-refusal at most this many points above benign-only",
    )
    strategies: list[str] | None = Field(
        None,
        description="strategy label to consider (repeatable; default: all)",
        json_schema_extra={"flags": ["--strategy"]},
    )
    model: str | None = Field(None, description="base model to advise on (default: each model of the run)")
    rule: Literal["upper", "mean"] = Field(
        "upper", description="upper: the intervals' upper bounds must meet the targets; mean: the means"
    )
    basis: Literal["raw", "fit"] = Field(
        "raw", description="raw: per-budget means over seeds; fit: isotonic fit on log budget"
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="coverage of the intervals")
    n_resamples: int = Field(2000, ge=100, description="bootstrap resamples of the fit")
    seed: int = Field(0, ge=0, description="seed of the bootstrap")

    @field_validator("max_harmfulness", mode="before")
    @classmethod
    def _percent(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().endswith("%"):
            try:
                return float(v.strip()[:-1]) / 100.0
            except ValueError as exc:
                raise ValueError(f"not a percentage: {v!r}") from exc
        return v


@dataclass
class Evidence:
    """One strategy at one tested budget (or the baseline at k=0)."""

    label: str
    budget: int
    n_seeds: int
    harm: Estimate | None
    increase: Estimate | None  # points
    fit_harm: Estimate | None = None
    fit_increase: Estimate | None = None
    passes_mean: bool = False
    passes_upper: bool = False
    meets: bool = False

    def as_dict(self) -> dict[str, Any]:
        def d(e: Estimate | None) -> dict | None:
            return e.as_dict() if e is not None else None

        return {
            "label": self.label,
            "budget": self.budget,
            "n_seeds": self.n_seeds,
            "harmfulness": d(self.harm),
            "over_refusal_increase_points": d(self.increase),
            "fit_harmfulness": d(self.fit_harm),
            "fit_over_refusal_increase_points": d(self.fit_increase),
            "passes_mean": self.passes_mean,
            "passes_upper": self.passes_upper,
            "meets": self.meets,
        }


@dataclass
class ModelAdvice:
    """The advice for one base model."""

    model: str
    baseline_over_refusal: Estimate
    rows: list[Evidence]
    recommendation: Evidence | None
    smallest_per_strategy: dict[str, int | None] = field(default_factory=dict)
    interpolated: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return {
            "model": self.model,
            "baseline_over_refusal": self.baseline_over_refusal.as_dict(),
            "recommendation": None
            if rec is None
            else {"strategy": rec.label, "budget": rec.budget, "evidence": rec.as_dict()},
            "smallest_budget_per_strategy": self.smallest_per_strategy,
            "fit_crossing_budget_untested": self.interpolated,
            "evidence": [r.as_dict() for r in self.rows],
        }


@dataclass
class Advice:
    """The advisor's answer: one :class:`ModelAdvice` per model."""

    config: AdviseConfig
    models: list[ModelAdvice]
    notes: list[str]

    @property
    def found(self) -> bool:
        """True when every model has a recommended budget."""
        return all(m.recommendation is not None for m in self.models)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": {
                "max_harmfulness": self.config.max_harmfulness,
                "max_over_refusal_increase_points": self.config.max_over_refusal_increase,
            },
            "rule": self.config.rule,
            "basis": self.config.basis,
            "confidence": self.config.confidence,
            "found": self.found,
            "models": [m.as_dict() for m in self.models],
            "notes": self.notes,
        }


def _increase_raw(g: Group, base: Group, confidence: float) -> Estimate | None:
    """Over-refusal of ``g`` minus the baseline's, in points: paired by seed, else Welch."""
    a, b = g.by_seed("over_refusal"), base.by_seed("over_refusal")
    if not a or not b:
        return None
    pa, pb = g.paired(base, "over_refusal")
    if len(pa) >= 2:
        return t_estimate([100 * (x - y) for x, y in zip(pa, pb, strict=True)], confidence)
    xa, xb = np.array(list(a.values())), np.array(list(b.values()))
    mean = 100 * float(xa.mean() - xb.mean())
    if len(xa) == 1:
        # One seed: the cell's own evaluation interval, shifted by the baseline mean.
        iv = next(c.interval("over_refusal") for c in g.cells if c.value("over_refusal") is not None)
        if iv is None:
            return Estimate(mean, None, None, 1, None, "none")
        base_mean = float(xb.mean())
        return Estimate(mean, 100 * (iv[0] - base_mean), 100 * (iv[1] - base_mean), 1, None, "cell")
    va = xa.var(ddof=1) / len(xa)
    vb = xb.var(ddof=1) / len(xb) if len(xb) > 1 else 0.0
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Estimate(mean, mean, mean, len(xa), None, "welch")
    # Welch-Satterthwaite degrees of freedom (a single baseline value counts as exact).
    df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + (vb**2 / (len(xb) - 1) if len(xb) > 1 else 0.0))
    half = 100 * t_quantile(confidence, df) * se
    return Estimate(mean, mean - half, mean + half, len(xa), None, "welch")


def _monotone(
    budgets: np.ndarray, values: np.ndarray, weights: np.ndarray, *, increasing: bool
) -> np.ndarray:
    """Weighted isotonic fit of per-budget means; budgets of zero weight are interpolated."""
    from scipy.optimize import isotonic_regression

    keep = weights > 0
    fitted = isotonic_regression(values[keep], weights=weights[keep], increasing=increasing).x
    x = np.log(budgets)
    return np.interp(x, x[keep], fitted)


def _fit_strategy(
    series: list[Group], base: Group, cfg: AdviseConfig
) -> tuple[list[Estimate | None], list[Estimate | None]]:
    """Isotonic fits of harmfulness and over-refusal increase at the tested budgets, bootstrapped."""
    budgets = np.array([g.budget for g in series], dtype=np.float64)
    harm = [g.by_seed("harmfulness") for g in series]
    over = [g.by_seed("over_refusal") for g in series]
    base_over = base.by_seed("over_refusal")
    if not all(harm) or not all(over) or not base_over:
        return [None] * len(series), [None] * len(series)
    seeds = sorted({s for h in harm for s in h} | {s for o in over for s in o})

    def matrix(per: list[dict[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(budgets x seeds) values (0 where missing) and presence mask."""
        val = np.array([[p.get(s, 0.0) for s in seeds] for p in per])
        mask = np.array([[s in p for s in seeds] for p in per], dtype=np.float64)
        return val, mask

    hv, hm = matrix(harm)
    ov, om = matrix(over)
    bv, bm = matrix([base_over])
    # Seed weights: the point fit weighs every seed once; each resample by its draw counts.
    rng = np.random.default_rng(cfg.seed)
    draws = rng.integers(0, len(seeds), size=(cfg.n_resamples, len(seeds)))
    weights = np.vstack([np.ones(len(seeds)), np.apply_along_axis(np.bincount, 1, draws, None, len(seeds))])

    def means(val: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted per-budget means for every weight row at once: (rows x budgets)."""
        tot = weights @ mask.T
        return np.divide(weights @ (val * mask).T, tot, out=np.zeros_like(tot), where=tot > 0), tot

    (hmean, htot), (omean, otot), (bmean, btot) = means(hv, hm), means(ov, om), means(bv, bm)
    base_all = float(np.mean(list(base_over.values())))
    fits_h, fits_o = [], []
    for i in range(len(weights)):
        if not htot[i].any() or not otot[i].any():
            continue
        b = float(bmean[i, 0]) if btot[i, 0] > 0 else base_all
        fits_h.append(_monotone(budgets, hmean[i], htot[i], increasing=False))
        fits_o.append(100 * (_monotone(budgets, omean[i], otot[i], increasing=True) - b))
    point_h, point_o = fits_h[0], fits_o[0]
    alpha = 1.0 - cfg.confidence
    qh = np.quantile(np.array(fits_h[1:]), [alpha / 2, 1 - alpha / 2], axis=0)
    qo = np.quantile(np.array(fits_o[1:]), [alpha / 2, 1 - alpha / 2], axis=0)

    def estimates(point: np.ndarray, q: np.ndarray) -> list[Estimate | None]:
        if len(seeds) < 2:  # resampling one seed has no spread: no interval, not a zero-width one
            return [Estimate(float(p), None, None, 1, None, "isotonic") for p in point]
        return [
            Estimate(float(point[i]), float(q[0, i]), float(q[1, i]), len(seeds), None, "isotonic-bootstrap")
            for i in range(len(series))
        ]

    return estimates(point_h, qh), estimates(point_o, qo)


def _passes(harm: Estimate | None, inc: Estimate | None, cfg: AdviseConfig) -> tuple[bool, bool]:
    if harm is None or inc is None:
        return False, False
    x, y = cfg.max_harmfulness, cfg.max_over_refusal_increase
    # Tiny tolerance: a mean that equals the target up to float rounding passes.
    eps = 1e-9
    mean_ok = harm.mean <= x + eps and inc.mean <= y + eps
    upper_ok = harm.high is not None and inc.high is not None and harm.high <= x + eps and inc.high <= y + eps
    return mean_ok, upper_ok


def _crossing(rows: list[Evidence], cfg: AdviseConfig) -> float | None:
    """Smallest budget where the fitted means, linear in log budget, meet both targets (display only)."""
    pts = [(r.budget, r.fit_harm.mean, r.fit_increase.mean) for r in rows if r.fit_harm and r.fit_increase]
    if len(pts) < 2:
        return None
    x = np.log([p[0] for p in pts])
    grid = np.linspace(x[0], x[-1], 400)
    h = np.interp(grid, x, [p[1] for p in pts])
    o = np.interp(grid, x, [p[2] for p in pts])
    ok = (h <= cfg.max_harmfulness) & (o <= cfg.max_over_refusal_increase)
    return round(float(np.exp(grid[np.argmax(ok)])), 1) if ok.any() else None


def _advise_model(agg: Aggregate, model: str, cfg: AdviseConfig, notes: list[str]) -> ModelAdvice:
    base = agg.baseline(model)
    if base is None or "over_refusal" not in base.metrics:
        raise ConfigError(
            f"no benign-only baseline cells with over-refusal for model {model!r} (strategy 'none', "
            "budget 0): the over-refusal increase needs them; run the sweep with 'baseline: true'"
        )
    labels = agg.labels(model)
    if cfg.strategies:
        unknown = [s for s in cfg.strategies if s not in labels]
        if unknown:
            raise ConfigError(
                f"unknown strategy label(s) {unknown} for {model}; the run has: {', '.join(labels)}"
            )
        labels = [lab for lab in labels if lab in cfg.strategies]
    rows: list[Evidence] = []
    harm0, exact = base.metrics.get("harmfulness"), Estimate(0.0, 0.0, 0.0, 0, None, "exact")
    base_row = Evidence("none", 0, len(base.cells), harm0, exact, harm0, exact)
    crossing: dict[str, float | None] = {}
    for label in labels:
        series = [g for g in agg.series(model, label) if g.budget > 0]
        srows = []
        for g, h, o in zip(series, *_fit_strategy(series, base, cfg), strict=True):
            increase = _increase_raw(g, base, agg.confidence)
            r = Evidence(label, g.budget, len(g.cells), g.metrics.get("harmfulness"), increase, h, o)
            if r.harm is None or r.increase is None:
                notes.append(
                    f"{label} k={g.budget} ({model}): harmfulness or over-refusal missing; not assessed"
                )
            srows.append(r)
        rows += srows
        crossing[label] = _crossing(srows, cfg)
    for r in [base_row, *rows]:
        harm, inc = (r.harm, r.increase) if cfg.basis == "raw" else (r.fit_harm, r.fit_increase)
        r.passes_mean, r.passes_upper = _passes(harm, inc, cfg)
        r.meets = r.passes_upper if cfg.rule == "upper" else r.passes_mean
    smallest = {x: min((r.budget for r in rows if r.label == x and r.meets), default=None) for x in labels}
    if base_row.meets:
        rec: Evidence | None = base_row
        notes.append(f"{model}: the benign-only model already meets the targets: no safety examples needed")
    else:

        def key(r: Evidence) -> tuple:
            harm, inc = (r.harm, r.increase) if cfg.basis == "raw" else (r.fit_harm, r.fit_increase)
            assert harm is not None and inc is not None
            pick = (lambda e: e.high) if cfg.rule == "upper" else (lambda e: e.mean)
            return (r.budget, pick(harm), pick(inc), r.label)

        passing = [r for r in rows if r.meets]
        rec = min(passing, key=key) if passing else None
    return ModelAdvice(model, base.metrics["over_refusal"], [base_row, *rows], rec, smallest, crossing)


def advise(agg: Aggregate, config: AdviseConfig) -> Advice:
    """Recommend the smallest tested budget, and its strategy, that meets the targets.

    Parameters
    ----------
    agg : Aggregate
        From :func:`safetymix.report.aggregate` on a run folder.
    config : AdviseConfig
        Targets and rules (see the module docstring).

    Returns
    -------
    Advice
        ``found`` is False when, for some model, no tested budget meets the targets.

    Raises
    ------
    ConfigError
        An unknown model or strategy label, or no baseline cells to measure the over-refusal
        increase against.

    Examples
    --------
    >>> cfg = AdviseConfig(max_harmfulness=0.5, max_over_refusal_increase=5)
    >>> advice = advise(aggregate(read_run("runs/my-sweep")), cfg)  # doctest: +SKIP
    >>> advice.models[0].recommendation.label, advice.models[0].recommendation.budget  # doctest: +SKIP
    ('sss-b', 25)
    """
    notes: list[str] = []
    models = agg.models
    if config.model is not None:
        if config.model not in models:
            raise ConfigError(f"unknown model {config.model!r}; the run has: {', '.join(models)}")
        models = [config.model]
    return Advice(config, [_advise_model(agg, m, config, notes) for m in models], notes)
