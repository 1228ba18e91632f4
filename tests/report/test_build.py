"""build_report end to end: the files, the Markdown table, the chosen cell and the pool map's fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.synthetic import make_cell, standard_cells, write_run

from safetymix.errors import DataFormatError
from safetymix.report import ReportConfig, ReportResult, aggregate, build_report, read_run
from safetymix.report.picks import choose_cell, format_reason, pick_rows, pool_map, pool_source
from safetymix.report.tables import fmt_estimate, markdown_table


def test_report_files_and_markdown_numbers(built_report: ReportResult) -> None:
    out = built_report.out_dir
    assert out.name == "report" and out.parent.name == "run"  # default: RUN_DIR/report
    md = built_report.markdown.read_text(encoding="utf-8")
    # sss-b k=10: harmfulness 33.3 [19.0, 47.7], harmful refusal 66.7 [52.3, 81.0],
    # reduction vs random 33.3 [16.8, 49.9] (hand values in test_aggregate)
    row = next(line for line in md.splitlines() if line.startswith("| sss-b | 10 |"))
    assert "33.3 [19.0, 47.7]" in row and "66.7 [52.3, 81.0]" in row and "33.3 [16.8, 49.9]" in row
    assert row.endswith("| 3 |")
    assert "| none (benign only) | 0 | 65.0 [52.6, 77.4]" in md
    assert "helpfulness: held-out loss (lower is better)" in md
    assert "## Failed cells (1)" in md and "CUDA out of memory" in md
    assert "![Harmfulness and refusal on harmful prompts vs budget](harm_vs_budget.png)" in md
    summary = json.loads(built_report.summary.read_text())
    assert summary["cell"] == built_report.cell_id
    assert summary["figures"]["pool_map"] == "pool_map.png"
    group = next(g for g in summary["groups"] if (g["label"], g["budget"]) == ("sss-b", 10))
    assert group["relative_reduction"]["mean"] == pytest.approx(1 / 3)
    assert summary["failed"][0]["error"]["type"] == "RuntimeError"


def test_default_cell_is_the_best_non_reference_at_the_largest_budget(run_dir: Path) -> None:
    run = read_run(run_dir)
    agg = aggregate(run)
    cell = choose_cell(run, agg)
    assert (cell.label, cell.budget, cell.seed) == ("sss-b", 25, 2)  # harmfulness 0.15, the lowest
    only_random = [make_cell("random", k, 0, harmfulness=0.3, picks=[{"id": "a"}]) for k in (5, 10)]
    run2 = read_run(write_run(run_dir.parent / "r2", only_random))
    assert choose_cell(run2, aggregate(run2)).budget == 10  # falls back to the reference
    with pytest.raises(DataFormatError, match="no cell 'zzz'"):
        choose_cell(run, agg, "zzz")


def test_chosen_cell_picks_table(tmp_path: Path) -> None:
    # harmfulness only: few figures to draw, the rest of the page is what is checked
    cells = [
        make_cell(
            c["params"]["label"],
            c["params"]["budget"],
            c["params"]["seed"],
            harmfulness=0.3,
            picks=c["selection"]["picks"],
        )
        for c in standard_cells(with_failed=False)
    ]
    run_dir = write_run(tmp_path / "run", cells)
    run = read_run(run_dir)
    target = next(c for c in run.ok_cells if (c.label, c.budget, c.seed) == ("random", 10, 1))
    cfg = ReportConfig(out=str(tmp_path / "o"), cell=target.cell_id, pool_map=False, heatmap_budget=7)
    res = build_report(run_dir, cfg)
    assert any("no cell at heatmap budget k=7" in n for n in res.notes)
    assert res.cell_id == target.cell_id
    rows = pick_rows(target)
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0] == {
        "rank": "1",
        "id": "p01",
        "prompt": "Tell me how to do harm 0",
        "behaviour": "T1",
        "categories": "animal_abuse",
        "reason": "slot=quota category=animal_abuse",
    }
    page = res.html.read_text(encoding="utf-8")
    assert f"<code>{target.cell_id}</code>: random, k=10, seed 1" in page
    assert "p01" in page and "slot=quota category=animal_abuse" in page
    assert set(res.figures) == {"harm_vs_budget", "relative_reduction"}


def test_format_reason_and_long_prompts() -> None:
    assert format_reason(
        {"strategy": "x", "rank": 0, "slot": "fill", "score": 0.41234, "category": None}
    ) == ("slot=fill score=0.412")
    assert format_reason("because") == "because"
    assert format_reason(None) == ""
    cell = read_cell_with_prompt("word " * 100)
    assert len(pick_rows(cell)[0]["prompt"]) == 160 and pick_rows(cell)[0]["prompt"].endswith("...")


def read_cell_with_prompt(prompt: str):
    from safetymix.report.cells import _check_cell

    rec = make_cell("sss-b", 5, 0, harmfulness=0.2, picks=[{"id": "x", "prompt": prompt, "categories": []}])
    return _check_cell(Path("x.json"), rec)


def test_pool_map_fallbacks(tmp_path: Path) -> None:
    cells = standard_cells()
    # no pool named at all
    run = read_run(write_run(tmp_path / "run", cells))
    cell = choose_cell(run, aggregate(run))
    path, note = pool_map(cell, run, tmp_path / "a.png")
    assert path is None and "names no pool file" in note
    # a pool that does not hold the picks
    other = tmp_path / "other.jsonl"
    lines = [json.dumps({"id": f"o{i}", "instruction": f"q {i}", "response": "r"}) for i in range(5)]
    other.write_text("\n".join(lines) + "\n")
    run = read_run(write_run(tmp_path / "run2", cells, pool=other))
    path, note = pool_map(cell, run, tmp_path / "b.png")
    assert path is None and "none of the cell's picks" in note
    # a pool file that is gone
    run = read_run(write_run(tmp_path / "run3", cells, pool=tmp_path / "gone.jsonl"))
    path, note = pool_map(cell, run, tmp_path / "c.png")
    assert path is None and "cannot be read" in note
    assert not (tmp_path / "c.png").exists()


def test_pool_source_reads_the_sweep_record() -> None:
    src = pool_source({"config": {"pool": {"path": "p.json", "format": "alpaca", "embedding_model": "m"}}})
    assert (src.path, src.format, src.embedding_model) == ("p.json", "alpaca", "m")
    assert pool_source({}).path is None
    assert pool_source({"pool": "x.jsonl"}).path == "x.jsonl"


def test_fmt_and_markdown_table() -> None:
    from safetymix.report.aggregate import Estimate

    assert fmt_estimate(None) == "-"
    assert fmt_estimate(Estimate(0.5, None, None, 1, None, "none")) == "50.0"
    assert fmt_estimate(Estimate(2.0, 1.9, 2.1, 3, 0.1, "t"), 1.0, 3) == "2.000 [1.900, 2.100]"
    assert markdown_table(["a", "b"], [["x|y", "1"]], right=[1]) == "| a | b |\n|---|---:|\n| x\\|y | 1 |"
