from __future__ import annotations

import json

from safetymix.cli.main import main
from safetymix.select import available_strategies


def test_demo_runs_every_strategy(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    for name in available_strategies():
        assert (tmp_path / f"picks.{name}.jsonl").exists()
        manifest = json.loads((tmp_path / f"mix.{name}.json.manifest.json").read_text())
        assert manifest["counts"]["picks"] == 14
    assert "sss-b" in err and "categories" in err
    b_rows = [json.loads(x) for x in (tmp_path / "picks.sss-b.jsonl").read_text().splitlines()]
    assert {r["behaviour"] for r in b_rows} == {"T1"}
