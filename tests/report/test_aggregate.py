"""Aggregation over seeds, checked against numbers computed by hand.

t(0.975, 2) = 4.302653, so for three seeds the half-width is 4.302653 * sd / sqrt(3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.report.synthetic import make_cell, write_run

from safetymix.errors import ConfigError
from safetymix.report import aggregate, pareto_front, read_run, relative_reduction, t_estimate

T2 = 4.302653  # t(0.975, df=2)


def test_means_and_t_intervals_over_seeds(run_dir: Path) -> None:
    agg = aggregate(read_run(run_dir))
    assert agg.models == ["tiny"]
    assert agg.labels() == ["random", "sss-b"]  # reference first
    assert agg.budgets() == [10, 25]
    sss = agg.group("tiny", "sss-b", 10)
    h = sss.metrics["harmfulness"]
    # values 0.30, 0.40, 0.30: mean 1/3, sd sqrt(3)/30 = 0.057735
    assert h.mean == pytest.approx(1 / 3)
    assert h.sd == pytest.approx(0.057735, abs=1e-6)
    assert (h.low, h.high) == pytest.approx(
        (1 / 3 - T2 * 0.057735 / 3**0.5, 1 / 3 + T2 * 0.057735 / 3**0.5), abs=1e-5
    )
    assert (h.low, h.high) == pytest.approx((0.189912, 0.476755), abs=1e-5)
    assert h.n == 3 and h.method == "t"
    rnd = agg.group("tiny", "random", 10).metrics["harmfulness"]
    assert (rnd.mean, rnd.low, rnd.high) == pytest.approx((0.5, 0.251586, 0.748414), abs=1e-5)
    # harmful refusal is 1 - harmfulness in the synthetic cells
    assert sss.metrics["harmful_refusal"].mean == pytest.approx(2 / 3)
    assert sss.metrics["helpfulness"].mean == pytest.approx(2.11)
    # the failed cell (sss-b k=25 seed 3) is not a replicate
    assert agg.group("tiny", "sss-b", 25).seeds == [0, 1, 2]
    assert [c.seed for c in agg.failed] == [3]


def test_paired_differences_and_relative_reduction(run_dir: Path) -> None:
    agg = aggregate(read_run(run_dir))
    sss10 = agg.group("tiny", "sss-b", 10)
    d = sss10.diff["harmfulness"]  # per seed: -0.2, -0.2, -0.1
    assert (d.mean, d.low, d.high) == pytest.approx((-1 / 6, -0.310089, -0.023245), abs=1e-5)
    # (0.5 - 1/3) / 0.5 = 1/3; residuals d - R * h_random = (1/30, 0, -1/30), sd 1/30,
    # se = (1/30) / (sqrt(3) * 0.5) = 0.038490, half-width 4.302653 * se = 0.165609
    r = sss10.reduction
    assert (r.mean, r.low, r.high) == pytest.approx((1 / 3, 0.167724, 0.498942), abs=1e-5)
    assert r.method == "delta-t" and r.n == 3
    # k=25: every seed halves harmfulness exactly -> 0.5 with a zero-width interval
    r25 = agg.group("tiny", "sss-b", 25).reduction
    assert (r25.mean, r25.low, r25.high) == pytest.approx((0.5, 0.5, 0.5), abs=1e-9)
    assert agg.group("tiny", "sss-b", 25).diff["over_refusal"].mean == pytest.approx(0.05)
    # the reference and the baseline get no comparison with themselves
    assert agg.group("tiny", "random", 10).reduction is None
    assert agg.baseline("tiny").diff == {}


def test_relative_reduction_function_matches_hand_values() -> None:
    e = relative_reduction([0.5, 0.6, 0.4], [0.3, 0.4, 0.3])
    assert (e.mean, e.low, e.high) == pytest.approx((1 / 3, 0.167724, 0.498942), abs=1e-5)
    assert relative_reduction([0.0, 0.0], [0.1, 0.0]) is None
    one = relative_reduction([0.4], [0.3])
    assert one.mean == pytest.approx(0.25) and one.low is None
    with pytest.raises(ConfigError, match="same number"):
        relative_reduction([0.5, 0.4], [0.3])


def test_t_estimate_edge_cases() -> None:
    assert t_estimate([0.2, 0.2]).low == pytest.approx(0.2)
    lone = t_estimate([0.4], fallback=(0.3, 0.5))
    assert (lone.low, lone.high, lone.method) == (0.3, 0.5, "cell")
    assert t_estimate([0.4]).method == "none"
    with pytest.raises(ConfigError, match="at least one"):
        t_estimate([])
    with pytest.raises(ConfigError, match="confidence must be in"):
        t_estimate([0.1, 0.2], confidence=1.5)


def test_pairs_only_shared_seeds_and_single_seed_uses_cell_interval(tmp_path: Path) -> None:
    cells = [
        make_cell("none", 0, 0, harmfulness=0.7, over_refusal=0.1),
        *[
            make_cell("random", 10, s, harmfulness=h, over_refusal=0.1)
            for s, h in [(0, 0.5), (1, 0.6), (2, 0.4)]
        ],
        *[make_cell("sss-b", 10, s, harmfulness=h, over_refusal=0.1) for s, h in [(1, 0.3), (2, 0.2)]],
    ]
    agg = aggregate(read_run(write_run(tmp_path, cells)))
    g = agg.group("tiny", "sss-b", 10)
    assert g.diff["harmfulness"].n == 2
    assert g.diff["harmfulness"].mean == pytest.approx(-0.25)  # (0.3-0.6 + 0.2-0.4) / 2
    assert g.reduction.mean == pytest.approx((0.5 - 0.25) / 0.5)
    base = agg.baseline("tiny").metrics["harmfulness"]
    assert (base.low, base.high, base.method) == pytest.approx((0.66, 0.74, "cell"))
    assert any("one seed only" in n and "none k=0" in n for n in agg.notes)


def test_without_reference_no_comparisons_and_a_note(tmp_path: Path) -> None:
    cells = [make_cell("sss-b", 10, s, harmfulness=0.3, over_refusal=0.1) for s in (0, 1)]
    agg = aggregate(read_run(write_run(tmp_path, cells)))
    assert agg.group("tiny", "sss-b", 10).reduction is None
    assert any("no 'random' cells" in n for n in agg.notes)
    agg2 = aggregate(read_run(write_run(tmp_path, cells)), reference="sss-b")
    assert agg2.labels() == ["sss-b"]


def test_zero_reference_harmfulness_is_noted(tmp_path: Path) -> None:
    cells = [make_cell("random", 5, s, harmfulness=0.0) for s in (0, 1)]
    cells += [make_cell("sss-b", 5, s, harmfulness=0.1) for s in (0, 1)]
    agg = aggregate(read_run(write_run(tmp_path, cells)))
    assert agg.group("tiny", "sss-b", 5).reduction is None
    assert any("relative reduction undefined" in n for n in agg.notes)


def test_helpfulness_kind_and_mixed_kinds(tmp_path: Path) -> None:
    cells = [
        make_cell("random", 5, s, harmfulness=0.2, helpfulness=4.0, helpfulness_kind="reward") for s in (0, 1)
    ]
    agg = aggregate(read_run(write_run(tmp_path / "a", cells)))
    assert agg.helpfulness == {"kind": "reward", "higher_is_better": True}
    cells.append(make_cell("random", 5, 2, harmfulness=0.2, helpfulness=1.0, helpfulness_kind="loss"))
    agg = aggregate(read_run(write_run(tmp_path / "b", cells)))
    assert any("disagree on the helpfulness measure" in n for n in agg.notes)


def test_all_failed_is_an_error(tmp_path: Path) -> None:
    run = read_run(write_run(tmp_path, [make_cell("random", 5, 0, status="failed")]))
    with pytest.raises(ConfigError, match="all 1 cell.*failed"):
        aggregate(run)


def test_pareto_front() -> None:
    pts = [(0.1, 0.5), (0.2, 0.2), (0.3, 0.3), (0.4, 0.1), (0.2, 0.6)]
    assert pareto_front(pts) == [0, 1, 3]
    assert pareto_front([(0.1, 0.1), (0.1, 0.1), (0.2, 0.2)]) == [0, 1]
    assert pareto_front([(0.1, 0.3), (0.1, 0.2)]) == [1]
    assert pareto_front([]) == []


def test_rate_intervals_are_clipped_to_0_1_but_differences_and_loss_are_not(tmp_path: Path) -> None:
    # over-refusal 0.0 / 0.05 / 0.3 over seeds: the raw t interval starts below 0.
    ors = {0: 0.0, 1: 0.05, 2: 0.3}
    cells = [
        make_cell("none", 0, s, harmfulness=0.8, over_refusal=o, helpfulness=h)
        for (s, o), h in zip(ors.items(), (5.0, 5.2, 9.0), strict=True)
    ]
    cells += [make_cell("random", 5, s, harmfulness=0.5, over_refusal=0.2) for s in ors]
    agg = aggregate(read_run(write_run(tmp_path / "run", cells)))
    base = agg.baseline("tiny")
    raw_low = 0.35 / 3 - T2 * 0.16072751 / 3**0.5  # mean - t * sd / sqrt(n), sd by hand
    assert raw_low < 0
    assert base.metrics["over_refusal"].low == 0.0
    assert base.metrics["over_refusal"].high == pytest.approx(0.35 / 3 + T2 * 0.16072751 / 3**0.5, abs=1e-6)
    # helpfulness (a loss) is not a rate: its interval is the raw t interval
    sd = float(np.std([5.0, 5.2, 9.0], ddof=1))
    assert base.metrics["helpfulness"].low == pytest.approx(6.4 - T2 * sd / 3**0.5, abs=1e-6)
