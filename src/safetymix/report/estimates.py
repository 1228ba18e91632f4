"""Estimates over seeds: a mean with its interval, Student-t intervals, the paired relative
reduction (see :mod:`safetymix.report.aggregate` for the formulas)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from safetymix.errors import ConfigError

#: Metrics that are rates: their intervals over seeds are clipped to [0, 1].
RATES = frozenset({"harmfulness", "harmful_refusal", "over_refusal"})


@dataclass(frozen=True)
class Estimate:
    """A mean with its interval.

    Attributes
    ----------
    mean : float
    low, high : float or None
        Interval bounds; None when there is none (one replicate and no cell interval).
    n : int
        Replicates (seeds, or seed pairs) behind the mean.
    sd : float or None
        Sample standard deviation over replicates (None for ``n < 2``).
    method : {"t", "cell", "delta-t", "none"}
        How the interval was made (see the module docstring).
    """

    mean: float
    low: float | None
    high: float | None
    n: int
    sd: float | None
    method: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def t_quantile(confidence: float, df: float) -> float:
    """Two-sided Student-t quantile ``t(0.5 + confidence / 2, df)``."""
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2.0, df))


def t_estimate(
    values: Sequence[float],
    confidence: float = 0.95,
    *,
    fallback: tuple[float, float] | None = None,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Mean of ``values`` with its Student-t interval over replicates.

    Parameters
    ----------
    values : sequence of float
        One value per replicate; at least one.
    confidence : float
        Coverage (default 0.95).
    fallback : (low, high), optional
        Interval to report when there is a single value (e.g. the cell's own interval).
    bounds : (low, high), optional
        Range the quantity cannot leave (``(0, 1)`` for a rate): the interval is clipped to it.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> e = t_estimate([0.2, 0.3, 0.4])
    >>> round(e.mean, 3), round(e.low, 4), round(e.high, 4)
    (0.3, 0.0516, 0.5484)
    >>> t_estimate([0.0, 0.1, 0.4], bounds=(0.0, 1.0)).low
    0.0
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ConfigError("t_estimate needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        if fallback is not None:
            return Estimate(mean, fallback[0], fallback[1], 1, None, "cell")
        return Estimate(mean, None, None, 1, None, "none")
    sd = float(x.std(ddof=1))
    half = t_quantile(confidence, x.size - 1) * sd / math.sqrt(x.size)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(mean, low, high, int(x.size), sd, "t")


def relative_reduction(
    reference: Sequence[float], strategy: Sequence[float], confidence: float = 0.95
) -> Estimate | None:
    """``(mean(ref) - mean(strategy)) / mean(ref)`` over seed pairs, with a delta-method t interval.

    Parameters
    ----------
    reference, strategy : sequence of float
        Harmfulness of the reference (random) and of the strategy, paired by seed.
    confidence : float
        Coverage (default 0.95).

    Returns
    -------
    Estimate or None
        None when the reference's mean harmfulness is 0 (the ratio is undefined).

    Examples
    --------
    >>> e = relative_reduction([0.5, 0.6, 0.4], [0.3, 0.4, 0.3])
    >>> round(e.mean, 4), round(e.low, 4), round(e.high, 4)
    (0.3333, 0.1677, 0.4989)
    """
    r = np.asarray(reference, dtype=np.float64)
    s = np.asarray(strategy, dtype=np.float64)
    if r.shape != s.shape or r.size == 0:
        raise ConfigError("relative_reduction needs the same number (>= 1) of paired values")
    base = float(r.mean())
    if base == 0.0:
        return None
    d = r - s
    ratio = float(d.mean()) / base
    if r.size == 1:
        return Estimate(ratio, None, None, 1, None, "none")
    resid = d - ratio * r
    sd = float(resid.std(ddof=1))
    se = sd / (math.sqrt(r.size) * base)
    half = t_quantile(confidence, r.size - 1) * se
    return Estimate(ratio, ratio - half, ratio + half, int(r.size), None, "delta-t")
