"""`safetymix label`: labels, gold accuracy, errors."""

from __future__ import annotations

import json

from safetymix.cli.main import main


def test_label_xstest_file_with_gold(tmp_path, datasets, capsys):
    src = datasets / "xstest" / "model_completions" / "xstest_v2_completions_gpt4.csv"
    out = tmp_path / "gpt4.jsonl"
    assert (
        main(["label", str(src), "--out", str(out), "--gold", "final_label", "--category-labeller", "none"])
        == 0
    )
    report = json.loads((tmp_path / "gpt4.jsonl.label.json").read_text())
    assert report["gold"]["n"] == 450
    assert report["gold"]["accuracy"] >= 0.85
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 450
    assert {r["behaviour"] for r in rows} <= {"T1", "T2", "T3", "T4", "unknown"}
    assert all(r["categories"] is None for r in rows)
    assert "refusal accuracy" in capsys.readouterr().err


def test_label_malformed_line(tmp_path, capsys):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{oops}\n', encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["label", str(bad), "--out", str(out)]) == 1
    assert "line 2" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_labeller(tmp_path, capsys):
    src = tmp_path / "p.jsonl"
    src.write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    assert main(["label", str(src), "--out", str(tmp_path / "o.jsonl"), "--behaviour-labeller", "magic"]) == 1
    assert "valid: rules, embedding" in capsys.readouterr().err
