"""Figures: written, valid PNGs of real size, the same bytes for the same input, skipped without data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.report.synthetic import ALL_FIGURES, make_cell, write_run

from safetymix.report import ReportConfig, ReportResult, aggregate, build_report, read_run
from safetymix.report import figures as F


def _check_png(path: Path, min_bytes: int = 10_000) -> tuple[int, int]:
    assert path.stat().st_size > min_bytes, f"{path.name} is only {path.stat().st_size} bytes"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        arr = np.asarray(im.convert("L"))
    # Not a blank canvas: a real plot has many grey levels.
    assert len(np.unique(arr)) > 20
    return im.size


def test_every_figure_is_a_real_png_and_deterministic(
    built_report: ReportResult, run_dir: Path, tmp_path: Path
) -> None:
    """A second report of the same cells (another folder, warm embedding cache) has the same bytes."""
    again = build_report(run_dir, ReportConfig(out=str(tmp_path / "again")))
    assert tuple(built_report.figures) == ALL_FIGURES
    assert tuple(again.figures) == ALL_FIGURES
    for key in ALL_FIGURES:
        width, height = _check_png(built_report.figures[key])
        assert width >= 500 and height >= 300
        assert built_report.figures[key].read_bytes() == again.figures[key].read_bytes(), f"{key} differs"
    assert built_report.markdown.read_bytes() == again.markdown.read_bytes()
    # two panels side by side for harmfulness + harmful refusal
    two_panels = _check_png(built_report.figures["harm_vs_budget"])
    one_panel = _check_png(built_report.figures["over_refusal_vs_budget"])
    assert two_panels[0] == 2 * one_panel[0]
    assert b"Software" not in built_report.figures["tradeoff"].read_bytes()


def test_figures_change_with_the_numbers(run_dir: Path, tmp_path: Path) -> None:
    agg = aggregate(read_run(run_dir))
    one = F.plot_tradeoff(agg, tmp_path / "one.png")
    agg.group("tiny", "sss-b", 10).metrics["harmfulness"] = agg.group("tiny", "random", 25).metrics[
        "harmfulness"
    ]
    two = F.plot_tradeoff(agg, tmp_path / "two.png")
    assert one.read_bytes() != two.read_bytes()


def test_figures_without_data_are_skipped(tmp_path: Path) -> None:
    # Only harmfulness: no over-refusal, helpfulness, categories, or random reference.
    cells = [make_cell("sss-b", k, s, harmfulness=0.3 + 0.01 * s) for k in (5, 10) for s in (0, 1)]
    res = build_report(write_run(tmp_path / "run", cells), ReportConfig(pool_map=False))
    assert set(res.figures) == {"harm_vs_budget"}
    for key in ("over_refusal_vs_budget", "helpfulness_vs_budget", "tradeoff", "category_heatmap"):
        assert any(f"figure {key} skipped" in n for n in res.notes)
        assert not (res.out_dir / f"{key}.png").exists()


def test_stale_figures_of_an_older_report_are_removed(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "tradeoff.png").write_bytes(b"old")
    (out / "pool_map.png").write_bytes(b"old")
    cells = [make_cell("sss-b", 5, s, harmfulness=0.3) for s in (0, 1)]
    build_report(write_run(tmp_path / "r", cells), ReportConfig(out=str(out), pool_map=False))
    assert not (out / "tradeoff.png").exists() and not (out / "pool_map.png").exists()


def test_heatmap_values_mean_over_budgets_or_one_budget(run_dir: Path) -> None:
    agg = aggregate(read_run(run_dir))
    rows, cats, mat = F.heatmap_values(agg, "tiny", None)
    assert rows == ["none", "random", "sss-b"]
    assert cats[0] == "animal_abuse"
    # animal_abuse is harmfulness * 0.5: sss-b mean over k=10 (1/3) and k=25 (0.2) -> 0.5 * 0.2667
    assert mat[2, 0] == pytest.approx(0.5 * (1 / 3 + 0.2) / 2)
    _, _, at25 = F.heatmap_values(agg, "tiny", 25)
    assert at25[2, 0] == pytest.approx(0.5 * 0.2)
    assert at25[0, 0] == pytest.approx(0.5 * 0.65)  # the baseline row is always shown


def test_short_category_and_helpfulness_label(run_dir: Path) -> None:
    assert F.short_category("violence,aiding_and_abetting,incitement") == "violence..."
    assert F.short_category("animal_abuse") == "animal_abuse"
    assert len(F.short_category("x" * 40)) == 22
    assert F.helpfulness_label(aggregate(read_run(run_dir))) == "held-out loss (lower is better)"


def test_multi_model_runs_get_one_row_per_model(tmp_path: Path) -> None:
    cells = [
        make_cell(lab, k, s, harmfulness=0.5 - 0.01 * k, over_refusal=0.1, model=m)
        for m in ("model-a", "model-b")
        for lab, k in (("none", 0), ("random", 5), ("sss-b", 5), ("random", 10), ("sss-b", 10))
        for s in (0, 1)
    ]
    agg = aggregate(read_run(write_run(tmp_path / "run", cells)))
    single = F.plot_vs_budget(agg, [("harmfulness", "h", "%", 100.0)], tmp_path / "h.png", "t")
    with Image.open(single) as im:
        assert im.size[1] >= 2 * 400  # two rows of 4.2 inches at 100 dpi


def test_one_budget_draws_interval_bars(tmp_path: Path) -> None:
    """With one budget a band has no width: each strategy gets a vertical interval bar."""
    spread = {0: 0.2, 1: 0.5, 2: 0.8}  # harmfulness per seed: a wide t interval
    cells = [make_cell("none", 0, s, harmfulness=0.9) for s in spread]
    cells += [make_cell(lab, 25, s, harmfulness=h) for lab in ("random", "sss-b") for s, h in spread.items()]
    agg = aggregate(read_run(write_run(tmp_path / "run", cells)))
    path = F.plot_vs_budget(agg, [("harmfulness", "h", "%", 100.0)], tmp_path / "h.png", "t")
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    blue = np.array([31, 119, 180])  # tab10's first colour: the first strategy's bar
    is_blue = np.abs(rgb - blue).sum(axis=2) < 40
    longest = max(_longest_run(is_blue[:, col]) for col in range(is_blue.shape[1]))
    assert longest > 100, f"no interval bar: longest vertical run of the strategy colour is {longest} px"


def _longest_run(column: np.ndarray) -> int:
    best = run = 0
    for v in column:
        run = run + 1 if v else 0
        best = max(best, run)
    return best
