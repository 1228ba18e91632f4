"""Responses files: what read_responses accepts and how it reports bad lines."""

from __future__ import annotations

import json

import pytest

from safetymix.errors import DataFormatError
from safetymix.judge import Verdict, read_responses, verdict_records


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_records_and_keeps_extra_fields(tmp_path):
    rows = [
        {"id": "a", "prompt": "p1", "response": "r1", "generation": {"num_beams": 4}},
        {"prompt": "p2", "response": "r2"},
    ]
    path = write(tmp_path / "r.jsonl", [json.dumps(r) for r in rows[:1]] + [""] + [json.dumps(rows[1])])
    got = read_responses(path)
    assert [r["id"] for r in got] == ["a", "3"]  # missing id -> line number
    assert got[0]["generation"] == {"num_beams": 4}
    out = verdict_records(got, [Verdict(refusal=True), Verdict(refusal=False, score=0.5)], "refusal-match")
    assert out[1] == {"prompt": "p2", "response": "r2", "id": "3", "refusal": False, "harmful": None,
                      "score": 0.5, "raw": None, "judge": "refusal-match"}  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prompt": "p"'], r"line 1: malformed JSON"),
        (['["p", "r"]'], r"line 1: expected a JSON object, got list"),
        (['{"prompt": "p"}'], r"line 1, field 'response': 'response' must be a string \(missing\)"),
        (['{"prompt": 3, "response": "r"}'], r"field 'prompt': 'prompt' must be a string \(int\)"),
        (
            ['{"id": 1, "prompt": "p", "response": "r"}'] * 2,
            r"line 2, field 'id': duplicate id '1' \(first on line 1\)",
        ),
        ([""], r"no responses found"),
    ],
)
def test_errors(tmp_path, lines, message):
    with pytest.raises(DataFormatError, match=message):
        read_responses(write(tmp_path / "r.jsonl", lines))


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="no such responses file"):
        read_responses(tmp_path / "nope.jsonl")
