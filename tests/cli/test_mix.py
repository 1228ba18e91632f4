"""`safetymix mix`: every benign example once, manifest, contamination guard."""

from __future__ import annotations

import json
from collections import Counter

from safetymix.cli.main import main
from safetymix.io import read_examples, read_prompts, write_examples
from safetymix.schema import make_example


def write_picks(path, n=5, extra=()):
    picks = [
        make_example(f"How do I do harmful thing {i}?", "I'm sorry, I can't help with that.", behaviour="T1")
        for i in range(n)
    ]
    picks += list(extra)
    for p in picks:
        p.extra["reason"] = {"strategy": "test", "rank": 0, "slot": "fill", "category": None, "score": None}
    write_examples(path, picks, format="jsonl")
    return picks


def test_mix_keeps_every_benign_example_once(tmp_path, datasets):
    benign_path = datasets / "alpaca_en_demo" / "alpaca_en_demo.json"
    picks_path = tmp_path / "picks.jsonl"
    write_picks(picks_path)
    out = tmp_path / "train.json"
    args = ["mix", str(benign_path), str(picks_path), "--out", str(out), "--upsample", "2", "--seed", "3"]
    assert main([*args, "--duplicates", "keep"]) == 0
    rows = json.loads(out.read_text())
    benign = read_examples(benign_path, duplicates="keep")  # 14 exact duplicates in this file
    assert len(rows) == len(benign) + 10
    mixed = Counter((r["instruction"], r["input"], r["output"]) for r in rows)
    expected = Counter((e.instruction, e.input, e.response) for e in benign)
    assert all(mixed[key] == n for key, n in expected.items())
    manifest = json.loads((tmp_path / "train.json.manifest.json").read_text())
    assert manifest["counts"] == {
        "benign": 999,
        "benign_duplicates_dropped": 0,
        "picks": 5,
        "upsample": 2,
        "total": 1009,
        "safety_share": 0.009911,
    }
    assert len(manifest["inputs"]["benign"]["sha256"]) == 64
    assert manifest["picks"][0]["reason"]["strategy"] == "test"
    # same inputs + seed -> same bytes; another seed -> another order
    out2 = tmp_path / "train2.json"
    main(["mix", str(benign_path), str(picks_path), "--out", str(out2), "--upsample", "2", "--seed", "3"])
    assert out.read_bytes() != out2.read_bytes()  # the default drops the 14 duplicates
    manifest = json.loads((tmp_path / "train2.json.manifest.json").read_text())
    assert manifest["counts"]["benign"] == 985 and manifest["counts"]["benign_duplicates_dropped"] == 14
    assert len(json.loads(out2.read_text())) == 985 + 10
    assert manifest["warnings"] == ["dropped 14 duplicate benign record(s) (--duplicates keep keeps them)"]
    main([*args, "--duplicates", "keep"])
    assert out.read_bytes() == json.dumps(rows, ensure_ascii=False, indent=2).encode() + b"\n"
    main([*args[:-1], "4", "--duplicates", "keep", "--out", str(out2)])
    assert out.read_bytes() != out2.read_bytes()
    assert main([*args, "--duplicates", "error"]) == 1


def test_mix_refuses_planted_xstest_prompt(tmp_path, datasets, capsys):
    xstest = datasets / "xstest" / "xstest_prompts.csv"
    planted = read_prompts(xstest)[17]
    picks_path = tmp_path / "picks.jsonl"
    write_picks(picks_path, extra=[make_example(planted.instruction, "Sorry, no.", behaviour="T4")])
    benign_path = tmp_path / "benign.jsonl"
    write_examples(
        benign_path, [make_example("Write a haiku about tea", "Steam rises slowly")], format="jsonl"
    )
    out = tmp_path / "train.json"
    code = main(["mix", str(benign_path), str(picks_path), "--out", str(out), "--eval", str(xstest)])
    assert code == 2
    err = capsys.readouterr().err
    assert "overlap evaluation prompts" in err and planted.instruction[:30] in err
    assert not out.exists() and not (tmp_path / "train.json.manifest.json").exists()
    # explicit override writes it and says so in the manifest
    assert (
        main(
            [
                "mix",
                str(benign_path),
                str(picks_path),
                "--out",
                str(out),
                "--eval",
                str(xstest),
                "--allow-contamination",
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "train.json.manifest.json").read_text())
    assert manifest["contamination"]["overridden"] is True
    assert manifest["contamination"]["matches"][0]["kind"] == "exact"


def test_mix_formats_and_dataset_info(tmp_path):
    picks_path = tmp_path / "picks.jsonl"
    write_picks(picks_path, n=2)
    benign_path = tmp_path / "benign.jsonl"
    write_examples(benign_path, [make_example(f"task {i}", f"answer {i}") for i in range(3)], format="jsonl")
    for fmt in ("sharegpt", "messages", "alpaca-jsonl"):
        out = tmp_path / f"train.{fmt}.jsonl"
        info = tmp_path / "dataset_info.json"
        assert (
            main(
                [
                    "mix",
                    str(benign_path),
                    str(picks_path),
                    "--out",
                    str(out),
                    "--format",
                    fmt,
                    "--dataset-info",
                    str(info),
                    "--dataset-name",
                    f"mix_{fmt}",
                ]
            )
            == 0
        )
        assert len(out.read_text().splitlines()) == 5
    entries = json.loads(info.read_text())
    assert set(entries) == {"mix_sharegpt", "mix_messages", "mix_alpaca-jsonl"}


def test_mix_malformed_benign_line(tmp_path, capsys):
    picks_path = tmp_path / "picks.jsonl"
    write_picks(picks_path, n=1)
    bad = tmp_path / "benign.jsonl"
    bad.write_text(
        '{"instruction": "a", "output": "b"}\n\n{"instruction": 3, "output": "x"}\n', encoding="utf-8"
    )
    out = tmp_path / "train.json"
    assert main(["mix", str(bad), str(picks_path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "instruction" in err
    assert not out.exists()
