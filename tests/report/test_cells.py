"""Reading run folders: order, status, and every error path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.report.synthetic import make_cell, standard_cells, write_run

from safetymix.errors import DataFormatError
from safetymix.report import read_run


def test_read_run_sorts_cells_and_splits_failed(run_dir: Path) -> None:
    run = read_run(run_dir)
    assert len(run.cells) == 16
    assert len(run.ok_cells) == 15
    [failed] = run.failed_cells
    assert (failed.label, failed.budget, failed.seed) == ("sss-b", 25, 3)
    assert failed.error["message"] == "CUDA out of memory"
    keys = [(c.model, c.label, c.budget, c.seed) for c in run.cells]
    assert keys == sorted(keys)
    base = run.cells[0]
    assert base.is_baseline and base.budget == 0
    assert base.value("harmfulness") == pytest.approx(0.60)
    assert base.interval("over_refusal") == pytest.approx((0.05, 0.15))
    assert base.value("missing-metric") is None
    assert run.sweep["config"]["pool"]["path"].endswith("pool.jsonl")


def test_read_run_ignores_temporary_files_and_notes_missing_sweep_json(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, standard_cells(with_failed=False)[:2])
    (run_dir / "cells" / ".abc.json.1234.tmp").write_text("{not json")
    (run_dir / "cells" / ".hidden.json").write_text("{not json")
    (run_dir / "sweep.json").unlink()
    run = read_run(run_dir)
    assert len(run.cells) == 2
    assert run.sweep == {}
    assert any("sweep.json is missing" in n for n in run.notes)


def test_lookup_of_an_unknown_cell_names_the_known_ones(run_dir: Path) -> None:
    run = read_run(run_dir)
    with pytest.raises(DataFormatError, match="no cell 'nope'.*cells: "):
        run.cell("nope")


def _write(tmp_path: Path, record: object, name: str = "x.json") -> Path:
    (tmp_path / "cells").mkdir(exist_ok=True)
    text = record if isinstance(record, str) else json.dumps(record, indent=1)
    (tmp_path / "cells" / name).write_text(text)
    return tmp_path


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no cells/ folder"):
        read_run(tmp_path)
    (tmp_path / "cells").mkdir()
    with pytest.raises(DataFormatError, match="no finished cell"):
        read_run(tmp_path)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, '{\n "cell_id": "a",\n oops\n}')
    with pytest.raises(DataFormatError, match=r"x\.json, line 3: invalid JSON") as info:
        read_run(tmp_path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: r.pop("cell_id"), "field 'cell_id'"),
        (lambda r: r.update(status="running"), "status must be one of ok, failed; got 'running'"),
        (lambda r: r.update(params=[1]), "field 'params'"),
        (lambda r: r["params"].pop("label"), "field 'params.label'"),
        (lambda r: r["params"].update(budget="10"), "field 'params.budget': must be an integer"),
        (lambda r: r["params"].update(budget=-1), "field 'params.budget': must be >= 0"),
        (lambda r: r["metrics"]["harmfulness"].update(value="high"), "field 'metrics.harmfulness'"),
        (lambda r: r["metrics"]["harmfulness"].update(value=float("nan")), "finite number"),
    ],
)
def test_bad_cells_are_rejected_with_the_field(tmp_path: Path, change, match: str) -> None:
    rec = make_cell("random", 10, 0, harmfulness=0.5, over_refusal=0.1)
    change(rec)
    _write(tmp_path, rec)
    with pytest.raises(DataFormatError, match=match):
        read_run(tmp_path)


def test_duplicate_cell_ids_are_rejected(tmp_path: Path) -> None:
    rec = make_cell("random", 10, 0, harmfulness=0.5)
    _write(tmp_path, rec, "a.json")
    _write(tmp_path, rec, "b.json")
    with pytest.raises(DataFormatError, match="also in"):
        read_run(tmp_path)


def test_cells_of_an_earlier_grid_are_left_out(tmp_path: Path) -> None:
    cells = standard_cells(with_failed=False)
    run_dir = write_run(tmp_path, cells)
    old = make_cell("old-strategy", 5, 0, harmfulness=0.9)
    (run_dir / "cells" / f"{old['cell_id']}.json").write_text(json.dumps(old))
    (run_dir / "cells" / f"{cells[0]['cell_id']}.items.jsonl").write_text("{}\n")  # per-prompt records
    run = read_run(run_dir)
    assert len(run.cells) == len(cells)
    assert "old-strategy" not in {c.label for c in run.cells}
    assert any("1 cell file(s) not in the grid" in n for n in run.notes)
    assert len(read_run(run_dir, current_only=False).cells) == len(cells) + 1
