"""The budget advisor on synthetic sweeps whose answer is known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.synthetic import make_cell, write_run

from safetymix.cli.main import main
from safetymix.errors import ConfigError
from safetymix.report import AdviseConfig, advise, aggregate, read_run
from safetymix.report.advise import Evidence

#: (label, k) -> (harmfulness per seed 0-2, over-refusal per seed 0-2)
KNOWN = {
    ("none", 0): ((0.60, 0.62, 0.58), (0.100, 0.100, 0.100)),
    ("random", 10): ((0.50, 0.52, 0.48), (0.110, 0.115, 0.105)),
    ("random", 25): ((0.40, 0.42, 0.38), (0.115, 0.120, 0.110)),
    ("random", 50): ((0.30, 0.31, 0.29), (0.130, 0.135, 0.125)),
    ("sss-b", 10): ((0.45, 0.47, 0.43), (0.105, 0.110, 0.100)),
    ("sss-b", 25): ((0.28, 0.29, 0.27), (0.120, 0.125, 0.115)),
    ("sss-b", 50): ((0.20, 0.21, 0.19), (0.200, 0.210, 0.190)),
}


@pytest.fixture
def known_run(tmp_path: Path) -> Path:
    cells = [
        make_cell(label, k, s, harmfulness=harm[s], over_refusal=over[s])
        for (label, k), (harm, over) in KNOWN.items()
        for s in range(3)
    ]
    return write_run(tmp_path / "run", cells)


def _advise(run: Path, **kw) -> tuple:
    kw.setdefault("n_resamples", 300)
    advice = advise(aggregate(read_run(run)), AdviseConfig(**kw))
    [m] = advice.models
    return advice, m


def _row(m, label: str, k: int) -> Evidence:
    return next(r for r in m.rows if (r.label, r.budget) == (label, k))


def test_known_answer_smallest_budget_and_strategy(known_run: Path) -> None:
    # Half-width of a 3-seed t interval: 4.302653 * sd / sqrt(3). sss-b k=25: harmfulness
    # 0.28 +- 0.0248 (upper 0.305 <= 0.35); increase per seed 2, 2.5, 1.5 points: 2 +- 1.242.
    advice, m = _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5)
    assert advice.found
    assert (m.recommendation.label, m.recommendation.budget) == ("sss-b", 25)
    r = _row(m, "sss-b", 25)
    assert (r.harm.mean, r.harm.high) == pytest.approx((0.28, 0.28 + 4.302653 * 0.01 / 3**0.5), abs=1e-5)
    assert (r.increase.mean, r.increase.high) == pytest.approx((2.0, 2.0 + 4.302653 * 0.5 / 3**0.5), abs=1e-5)
    assert r.meets and r.passes_upper and r.passes_mean
    assert m.smallest_per_strategy == {"random": 50, "sss-b": 25}
    assert not _row(m, "random", 25).meets  # upper bound 0.425 > 0.35
    assert not _row(m, "sss-b", 50).meets  # increase 10 points > 5
    assert m.baseline_over_refusal.mean == pytest.approx(0.1)


def test_rule_mean_is_less_conservative(known_run: Path) -> None:
    # sss-b k=10: harmfulness 0.45, upper 0.475. Target 0.46 passes on the mean only.
    _, upper = _advise(known_run, max_harmfulness=0.46, max_over_refusal_increase=5)
    _, mean = _advise(known_run, max_harmfulness=0.46, max_over_refusal_increase=5, rule="mean")
    assert (upper.recommendation.label, upper.recommendation.budget) == ("sss-b", 25)
    assert (mean.recommendation.label, mean.recommendation.budget) == ("sss-b", 10)
    row = _row(upper, "sss-b", 10)
    assert row.passes_mean and not row.passes_upper and not row.meets


def test_no_budget_meets_the_targets(known_run: Path) -> None:
    advice, m = _advise(known_run, max_harmfulness=0.10, max_over_refusal_increase=5)
    assert not advice.found
    assert m.recommendation is None
    assert m.smallest_per_strategy == {"random": None, "sss-b": None}
    assert advice.as_dict()["found"] is False
    # over-refusal alone can block too: every budget that is safe enough costs > 0.5 points
    advice, m = _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=0.5)
    assert not advice.found


def test_baseline_that_already_meets_needs_no_examples(known_run: Path) -> None:
    advice, m = _advise(known_run, max_harmfulness=0.70, max_over_refusal_increase=5)
    assert advice.found
    assert (m.recommendation.label, m.recommendation.budget) == ("none", 0)
    assert any("no safety examples needed" in n for n in advice.notes)


def test_strategy_filter(known_run: Path) -> None:
    _, m = _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5, strategies=["random"])
    assert (m.recommendation.label, m.recommendation.budget) == ("random", 50)
    assert {r.label for r in m.rows} == {"none", "random"}
    with pytest.raises(ConfigError, match=r"unknown strategy label\(s\) \['pss-b'\].*random, sss-b"):
        _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5, strategies=["pss-b"])
    with pytest.raises(ConfigError, match="unknown model 'other'"):
        _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5, model="other")


def test_fit_basis_pools_non_monotone_budgets(tmp_path: Path) -> None:
    # pss-b is noisier at k=25 (0.36) than at k=10 (0.30): the isotonic fit (harmfulness
    # non-increasing in k) pools them to 0.33, so a 0.32 target passes raw at k=10 but not fitted.
    cells = [make_cell("none", 0, s, harmfulness=0.6, over_refusal=0.1) for s in range(3)]
    cells += [make_cell("pss-b", 10, s, harmfulness=0.30, over_refusal=0.11) for s in range(3)]
    cells += [make_cell("pss-b", 25, s, harmfulness=0.36, over_refusal=0.12) for s in range(3)]
    run = write_run(tmp_path / "run", cells)
    _, raw = _advise(run, max_harmfulness=0.32, max_over_refusal_increase=5, rule="mean")
    _, fit = _advise(run, max_harmfulness=0.32, max_over_refusal_increase=5, rule="mean", basis="fit")
    assert (raw.recommendation.label, raw.recommendation.budget) == ("pss-b", 10)
    assert fit.recommendation is None
    f10, f25 = _row(fit, "pss-b", 10), _row(fit, "pss-b", 25)
    assert f10.fit_harm.mean == pytest.approx(0.33) and f25.fit_harm.mean == pytest.approx(0.33)
    assert f10.fit_increase.mean == pytest.approx(1.0) and f25.fit_increase.mean == pytest.approx(2.0)


def test_fit_interval_and_interpolated_crossing(known_run: Path) -> None:
    _, m = _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5, basis="fit")
    r = _row(m, "sss-b", 25)
    assert r.fit_harm.mean == pytest.approx(0.28)  # monotone data: the fit is the mean
    assert r.fit_harm.low <= 0.28 <= r.fit_harm.high
    assert r.fit_harm.method == "isotonic-bootstrap"
    assert (m.recommendation.label, m.recommendation.budget) == ("sss-b", 25)
    # fitted harmfulness of sss-b crosses 0.35 between k=10 (0.45) and k=25 (0.28)
    assert 10 < m.interpolated["sss-b"] < 25
    # same seed, same numbers
    _, again = _advise(known_run, max_harmfulness=0.35, max_over_refusal_increase=5, basis="fit")
    assert _row(again, "sss-b", 25).fit_harm.high == r.fit_harm.high


def test_single_seed_and_unpaired_seeds(tmp_path: Path) -> None:
    cells = [make_cell("none", 0, s, harmfulness=0.6, over_refusal=0.10) for s in range(3)]
    cells.append(make_cell("one", 10, 0, harmfulness=0.2, over_refusal=0.15))  # cell interval +-0.05
    cells += [make_cell("other", 10, s, harmfulness=0.2, over_refusal=o) for s, o in ((5, 0.12), (6, 0.14))]
    _, m = _advise(write_run(tmp_path / "run", cells), max_harmfulness=0.3, max_over_refusal_increase=20)
    one = _row(m, "one", 10)
    assert (one.increase.mean, one.increase.low, one.increase.high) == pytest.approx((5.0, 0.0, 10.0))
    assert one.increase.method == "cell"
    other = _row(m, "other", 10)
    assert other.increase.method == "welch"
    assert other.increase.mean == pytest.approx(3.0)
    # one seed: the fit has no interval (not a zero-width one), so it meets nothing on upper bounds
    assert one.fit_harm.mean == pytest.approx(0.2) and one.fit_harm.high is None
    _, fit = _advise(
        write_run(tmp_path / "run2", cells), max_harmfulness=0.3, max_over_refusal_increase=20, basis="fit"
    )
    assert not _row(fit, "one", 10).meets and _row(fit, "other", 10).fit_harm.high is not None


def test_missing_baseline_is_an_error(tmp_path: Path) -> None:
    cells = [make_cell("sss-b", 10, s, harmfulness=0.3, over_refusal=0.1) for s in range(2)]
    with pytest.raises(ConfigError, match="no benign-only baseline"):
        _advise(write_run(tmp_path / "run", cells), max_harmfulness=0.35, max_over_refusal_increase=5)


def test_config_reads_percentages_and_rejects_bad_values() -> None:
    assert AdviseConfig(max_harmfulness="20%", max_over_refusal_increase=2).max_harmfulness == pytest.approx(
        0.2
    )
    with pytest.raises(ValueError, match="less than or equal to 1"):
        AdviseConfig(max_harmfulness=20, max_over_refusal_increase=2)
    with pytest.raises(ValueError, match="not a percentage"):
        AdviseConfig(max_harmfulness="lots%", max_over_refusal_increase=2)


def test_cli_json_and_exit_codes(known_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["advise", str(known_run), "--max-over-refusal-increase", "5", "--n-resamples", "200"]
    assert main([*args, "--max-harmfulness", "35%", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["found"] is True
    assert out["models"][0]["recommendation"]["strategy"] == "sss-b"
    assert out["models"][0]["recommendation"]["budget"] == 25
    assert main([*args, "--max-harmfulness", "0.1"]) == 3
    captured = capsys.readouterr()
    assert "no tested budget meets the targets" in captured.out
    assert "exit code 3" in captured.err
    assert main([*args, "--max-harmfulness", "0.35"]) == 0
    assert "recommendation: tiny: sss-b at k=25" in capsys.readouterr().out
    assert main(["advise", str(known_run), "--max-harmfulness", "0.35"]) == 1
    assert "max_over_refusal_increase: required (--max-over-refusal-increase or" in capsys.readouterr().err
