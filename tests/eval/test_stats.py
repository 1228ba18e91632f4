"""Wilson and bootstrap intervals against known values."""

from __future__ import annotations

import numpy as np
import pytest

from safetymix.errors import ConfigError
from safetymix.eval.stats import bootstrap_interval, mean_summary, rate_summary, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        (8, 10, (0.4902, 0.9433)),  # the textbook example
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (50, 100, (0.4038, 0.5962)),
        (1, 1, (0.2065, 1.0)),
    ],
)
def test_wilson_known_values(k, n, expected):
    assert wilson_interval(k, n) == pytest.approx(expected, abs=1e-4)


def test_wilson_other_confidence_is_wider():
    low95, high95 = wilson_interval(30, 100)
    low99, high99 = wilson_interval(30, 100, confidence=0.99)
    assert low99 < low95 < 0.3 < high95 < high99


def test_bootstrap_is_seeded_and_covers_the_mean():
    x = np.random.default_rng(1).normal(2.0, 1.0, size=200)
    a = bootstrap_interval(x, seed=7)
    assert a == bootstrap_interval(x, seed=7)
    assert a != bootstrap_interval(x, seed=8)
    assert a[0] < x.mean() < a[1]
    # close to the normal-theory interval: mean +- 1.96 sd / sqrt(n)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert a == pytest.approx((x.mean() - half, x.mean() + half), abs=0.03)
    assert bootstrap_interval([3.0]) == (3.0, 3.0)


def test_summaries_skip_unjudged():
    s = rate_summary([True, True, False, None])
    assert (s["n"], s["n_judged"], s["n_unjudged"], s["count"]) == (4, 3, 1, 2)
    assert s["rate"] == pytest.approx(2 / 3) and s["method"] == "wilson"
    assert rate_summary([None, None])["rate"] is None
    m = mean_summary([1.0, None, 3.0], seed=0, n_resamples=500)
    assert (m["mean"], m["n_judged"], m["n_unjudged"], m["seed"]) == (2.0, 2, 1, 0)
    assert mean_summary([None])["mean"] is None


def test_errors():
    with pytest.raises(ConfigError, match="needs 0 <= k <= n and n >= 1; got k=3, n=2"):
        wilson_interval(3, 2)
    with pytest.raises(ConfigError, match="got k=0, n=0"):
        wilson_interval(0, 0)
    with pytest.raises(ConfigError, match="confidence must be in \\(0, 1\\), got 1.5"):
        wilson_interval(1, 2, confidence=1.5)
    with pytest.raises(ConfigError, match="needs at least one value"):
        bootstrap_interval([])
    with pytest.raises(ConfigError, match="n_resamples must be >= 1, got 0"):
        bootstrap_interval([1.0], n_resamples=0)
