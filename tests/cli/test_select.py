"""`safetymix select` on the real 2,483-example Bianchi pool: the core issue's acceptance checks."""

from __future__ import annotations

import json

import pytest

from safetymix.cli.main import main
from tests.conftest import BIANCHI_POOL


def run_select(tmp_path, name, *args):
    out = tmp_path / f"{name}.jsonl"
    code = main(["select", str(BIANCHI_POOL), "--out", str(out), *args])
    assert code == 0
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sss_b_is_reproducible_t1_and_covers_categories(tmp_path, datasets):
    a = run_select(tmp_path, "a", "--strategy", "sss-b", "--budget", "100", "--seed", "0")
    b = run_select(tmp_path, "b", "--strategy", "sss-b", "--budget", "100", "--seed", "0")
    c = run_select(tmp_path, "c", "--strategy", "sss-b", "--budget", "100", "--seed", "1")
    assert a.read_bytes() == b.read_bytes()
    rows = read_jsonl(a)
    assert len(rows) == 100 == len({r["id"] for r in rows})
    assert {r["behaviour"] for r in rows} == {"T1"}
    assert len({cat for r in rows for cat in r["categories"]}) >= 12
    assert a.read_bytes() != c.read_bytes()
    assert rows[0]["reason"]["strategy"] == "sss-b"
    report = json.loads((tmp_path / "a.jsonl.selection.json").read_text())
    assert report["labelling"]["behaviour_labelled"] == 2483
    assert report["selection"]["quota_per_category"] == 7


@pytest.mark.parametrize(
    "strategy", ["random", "random-b", "sss", "sss-b", "pss", "pss-b", "cossim", "cossim-b"]
)
def test_paper_strategies_run_on_the_pool(tmp_path, datasets, strategy):
    rows = read_jsonl(run_select(tmp_path, strategy, "--strategy", strategy, "--budget", "100"))
    assert len(rows) == 100
    kinds = {r["behaviour"] for r in rows}
    if strategy.endswith("-b"):
        assert kinds == {"T1"}
    assert all(r["harmful_response"] is not True for r in rows)


def test_unknown_strategy_fails_cleanly(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    assert main(["select", str(BIANCHI_POOL), "--out", str(out), "--strategy", "best", "--budget", "5"]) == 1
    assert "unknown strategy 'best'" in capsys.readouterr().err
    assert not out.exists()


def test_share_budget_needs_train(tmp_path, datasets, capsys):
    out = tmp_path / "x.jsonl"
    assert main(["select", str(BIANCHI_POOL), "--out", str(out), "--budget", "0.5%"]) == 1
    assert "--train" in capsys.readouterr().err
    train = datasets / "alpaca_en_demo" / "alpaca_en_demo.json"
    assert (
        main(["select", str(BIANCHI_POOL), "--out", str(out), "--budget", "1%", "--train", str(train)]) == 0
    )
    assert len(read_jsonl(out)) == 10  # 1% of 999, rounded


def test_malformed_pool_line_fails_with_line_number(tmp_path, capsys):
    bad = tmp_path / "pool.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n', encoding="utf-8")
    out = tmp_path / "x.jsonl"
    assert main(["select", str(bad), "--out", str(out), "--budget", "1"]) != 0
    err = capsys.readouterr().err
    assert "line 2" in err and "pool.jsonl" in err
    assert not out.exists()
