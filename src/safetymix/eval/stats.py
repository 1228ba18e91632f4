"""Intervals for the numbers an evaluation reports.

- Rates (refusal, harmful): the Wilson score interval (Wilson 1927), which stays inside
  [0, 1] and keeps its coverage for small n and rates near 0 or 1, where the normal
  ("Wald") interval does not.
- Means (harm scores, rewards, losses): the percentile bootstrap over items, drawn from
  one ``np.random.default_rng(seed)`` per call, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from safetymix.errors import ConfigError

#: Resamples of the bootstrap (enough for stable 95% percentile bounds at 3 decimals).
DEFAULT_RESAMPLES = 2000


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``, ``n >= 1``.
    confidence : float
        Coverage (default 0.95).

    Returns
    -------
    (low, high) : tuple of float

    Raises
    ------
    ConfigError
        For ``n < 1``, ``k`` outside ``[0, n]`` or a confidence outside (0, 1).

    Examples
    --------
    >>> [round(x, 3) for x in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    if n < 1 or not 0 <= k <= n:
        raise ConfigError(f"wilson_interval needs 0 <= k <= n and n >= 1; got k={k}, n={n}")
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp the rounding error at the ends (k = 0 or k = n give exactly 0 or 1).
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    values: Sequence[float],
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap interval ``(low, high)`` of the mean of ``values`` (at least one),
    resampled ``n_resamples`` times from ``np.random.default_rng(seed)``.

    Raises ConfigError for no values, ``n_resamples < 1`` or a confidence outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ConfigError("bootstrap_interval needs at least one value")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}")
    _z(confidence)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples, dtype=np.float64)
    # Resample in blocks so memory stays at about 4M draws whatever the sizes.
    block = max(1, 4_000_000 // x.size)
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        means[start:stop] = x[rng.integers(0, x.size, size=(stop - start, x.size))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def rate_summary(flags: Sequence[bool | None], confidence: float = 0.95) -> dict:
    """Share of True among the decided flags, with its Wilson interval.

    ``None`` flags (the judge could not decide) are left out of the rate and counted in
    ``n_unjudged``. With no decided flag, ``rate`` and the bounds are ``None``.
    """
    decided = [f for f in flags if f is not None]
    k, n = sum(bool(f) for f in decided), len(decided)
    out = {"n": len(flags), "n_judged": n, "n_unjudged": len(flags) - n, "count": k}
    low, high = wilson_interval(k, n, confidence) if n else (None, None)
    return {**out, "rate": k / n if n else None, "ci_low": low, "ci_high": high, "method": "wilson"}


def mean_summary(
    values: Sequence[float | None],
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> dict:
    """Mean of the non-None values, with its percentile-bootstrap interval."""
    x = [float(v) for v in values if v is not None]
    out = {"n": len(values), "n_judged": len(x), "n_unjudged": len(values) - len(x)}
    extra = {"method": "bootstrap", "seed": seed, "n_resamples": n_resamples}
    if not x:
        return {**out, "mean": None, "sd": None, "ci_low": None, "ci_high": None, **extra}
    low, high = bootstrap_interval(x, seed=seed, n_resamples=n_resamples, confidence=confidence)
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return {**out, "mean": float(np.mean(x)), "sd": sd, "ci_low": low, "ci_high": high, **extra}
