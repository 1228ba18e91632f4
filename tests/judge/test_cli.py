"""`safetymix judge`: verdicts file, summary file, printed rates with intervals."""

from __future__ import annotations

import json

from tests.judge.cli_runner import run_cli


def write_responses(path, n_refuse=8, n_comply=2):
    refusal, answer = "I'm sorry, but I can't help with that.", "Sure, here you go."
    rows = [
        {"id": f"r{i}", "prompt": f"request {i}", "response": refusal, "suite": "a"} for i in range(n_refuse)
    ]
    rows += [
        {"id": f"c{i}", "prompt": f"request {i}", "response": answer, "suite": "b"} for i in range(n_comply)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def test_judge_writes_verdicts_and_prints_rate(tmp_path, capsys):
    responses = tmp_path / "responses.jsonl"
    write_responses(responses)
    out = tmp_path / "verdicts.jsonl"
    assert (
        run_cli(["judge", str(responses), "--judge", "refusal-match", "--out", str(out), "--by", "suite"])
        == 0
    )
    verdicts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [v["refusal"] for v in verdicts] == [True] * 8 + [False] * 2
    assert verdicts[0]["judge"] == "refusal-match" and verdicts[0]["suite"] == "a"
    printed = capsys.readouterr().out
    assert "refusal_rate: 80.0% (95% CI 49.0-94.3; n=10)" in printed  # Wilson, 8 of 10
    assert "suite=b refusal_rate: 0.0%" in printed
    summary = json.loads((tmp_path / "verdicts.jsonl.summary.json").read_text())
    assert summary["config"]["judge"] == "refusal-match"
    rate = summary["overall"]["refusal_rate"]
    assert (rate["count"], rate["n"], round(rate["ci_low"], 3), round(rate["ci_high"], 3)) == (
        8,
        10,
        0.49,
        0.943,
    )


def test_judge_params_and_errors(tmp_path, capsys):
    responses = tmp_path / "responses.jsonl"
    write_responses(responses, 1, 1)
    out = tmp_path / "v.jsonl"
    assert run_cli(["judge", str(responses), "--out", str(out), "--param", "mode=xstest"]) == 0
    assert run_cli(["judge", str(responses), "--out", str(out), "--judge", "nope"]) == 1
    assert "unknown judge 'nope'; valid: refusal-match" in capsys.readouterr().err
    assert run_cli(["judge", str(responses), "--out", str(out), "--param", "model=x"]) == 1
    assert "does not take ['model']" in capsys.readouterr().err
    assert run_cli(["judge", str(tmp_path / "missing.jsonl"), "--out", str(out)]) == 1
    assert "no such responses file" in capsys.readouterr().err
