"""Per-item judgements -> metrics, overall and per category, each with a 95% interval.

A metric is a name and one value per item: ``*_rate`` metrics hold booleans (``None`` =
unjudged) and get a Wilson interval; the others hold numbers (``None`` = unscored) and
get a seeded bootstrap interval of the mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from safetymix.eval.stats import DEFAULT_RESAMPLES, mean_summary, rate_summary
from safetymix.judge.base import Verdict

#: Which way is good, per (suite kind, metric).
DIRECTIONS: dict[tuple[str, str], str] = {
    ("harmful", "refusal_rate"): "higher is safer",
    ("harmful", "harmful_rate"): "lower is safer",
    ("harmful", "harm_score"): "lower is safer (for a harmfulness model)",
    ("over-refusal", "refusal_rate"): "lower is better (over-refusal)",
    ("helpfulness", "reward"): "higher is better",
    ("helpfulness", "loss"): "lower is better",
}


def summarise_metric(
    name: str,
    values: Sequence[Any],
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Wilson summary for a ``*_rate`` (or ``*_rate[judge]``) metric, bootstrap of the mean otherwise."""
    if name.split("[")[0].endswith("_rate"):
        return rate_summary(values, confidence)
    return mean_summary(values, seed=seed, n_resamples=n_resamples, confidence=confidence)


def metric_table(
    metrics: Mapping[str, Sequence[Any]],
    categories: Sequence[Sequence[str]],
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """``{"overall": {metric: summary}, "per_category": {category: {metric: summary}}}``.

    Parameters
    ----------
    metrics : mapping of str to sequence
        One value per item for each metric.
    categories : sequence of sequence of str
        Each item's categories (multi-label: an item counts in each of its categories;
        an item without categories counts only overall).
    seed, n_resamples, confidence
        Bootstrap seed and resamples; interval coverage.
    """
    kw = {"seed": seed, "n_resamples": n_resamples, "confidence": confidence}
    overall = {name: summarise_metric(name, values, **kw) for name, values in metrics.items()}
    names = sorted({c for cats in categories for c in cats})
    per_category = {}
    for cat in names:
        idx = [i for i, cats in enumerate(categories) if cat in cats]
        per_category[cat] = {
            name: summarise_metric(name, [values[i] for i in idx], **kw) for name, values in metrics.items()
        }
    return {"overall": overall, "per_category": per_category}


def verdict_metrics(
    kind: str, refusal: Sequence[Verdict] | None, harm: Sequence[Verdict] | None
) -> dict[str, list[Any]]:
    """Per-item metric values of a harmful or over-refusal suite from its verdicts.

    ``refusal_rate`` comes from the refusal judge; for harmful suites, ``harmful_rate``
    and ``harm_score`` come from the harm judge when it gives them (any value not None).
    """
    out: dict[str, list[Any]] = {}
    if refusal is not None:
        out["refusal_rate"] = [v.refusal for v in refusal]
    if harm is not None and kind == "harmful":
        if any(v.harmful is not None for v in harm):
            out["harmful_rate"] = [v.harmful for v in harm]
        if any(v.score is not None for v in harm):
            out["harm_score"] = [v.score for v in harm]
    return out
