"""``safetymix report`` in-process: files, the table on stdout, error exits."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.report.synthetic import make_cell, write_run

from safetymix.cli.main import main


def test_report_command_writes_everything(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["report", str(run_dir), "--out", str(out), "--no-pool-map"]) == 0
    for name in ("report.html", "results.md", "summary.json", "tradeoff.png", "relative_reduction.png"):
        assert (out / name).is_file()
    assert not (out / "pool_map.png").exists()
    captured = capsys.readouterr()
    assert "sss-b" in captured.out and "33.3 [19.0, 47.7]" in captured.out
    assert f"-> {out}" in captured.err


def test_report_command_errors(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    assert "no cells/ folder" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--cell", "zzz", "--no-pool-map"]) == 1
    assert "no cell 'zzz'" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--confidence", "1.5", "--no-pool-map"]) == 1
    assert "confidence" in capsys.readouterr().err


def test_report_command_reads_a_yaml_config(tmp_path: Path) -> None:
    cells = [make_cell(lab, 10, s, harmfulness=0.3 + 0.1 * s) for lab in ("random", "sss-b") for s in (0, 1)]
    run_dir = write_run(tmp_path / "run", cells)
    cfg = tmp_path / "report.yaml"
    cfg.write_text(f"out: {tmp_path / 'from-yaml'}\npool_map: false\nreference: sss-b\n")
    assert main(["report", str(run_dir), "--config", str(cfg)]) == 0
    md = (tmp_path / "from-yaml" / "results.md").read_text()
    assert "reduction vs sss-b" in md
    cfg.write_text("colour: red\n")
    assert main(["report", str(run_dir), "--config", str(cfg)]) == 1
