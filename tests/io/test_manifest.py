"""The run record: hashes of what was read, sidecar published with the output, --out checks,
temporary files cleaned; and the one-line errors of the listed defects (through ``mix``)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re

import pytest

from safetymix.cli.main import main
from safetymix.errors import ConfigError, DataFormatError
from safetymix.io import RunRecord, read_examples, write_examples
from safetymix.io.manifest import remove_stale_temps, temp_path
from safetymix.schema import make_example


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    benign = write_jsonl(
        tmp_path / "benign.jsonl", [{"instruction": f"Task {i}", "output": "ok"} for i in range(5)]
    )
    picks = tmp_path / "picks.jsonl"
    write_examples(picks, [make_example("How do I hurt someone?", "I can't help with that.", behaviour="T1")])
    return benign, picks


def test_manifest_hashes_the_bytes_read_and_the_output(files, tmp_path):
    benign, picks = files
    out = tmp_path / "mix.jsonl"
    assert main(["mix", str(benign), str(picks), "--out", str(out), "--format", "jsonl"]) == 0
    manifest = json.loads((tmp_path / "mix.jsonl.manifest.json").read_text())
    assert manifest["inputs"]["benign"]["sha256"] == hashlib.sha256(benign.read_bytes()).hexdigest()
    assert manifest["inputs"]["picks"]["sha256"] == hashlib.sha256(picks.read_bytes()).hexdigest()
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("which", ["benign", "picks"])
def test_out_equal_to_an_input_is_refused(files, which, capsys):
    benign, picks = files
    before = (benign if which == "benign" else picks).read_bytes()
    target = benign if which == "benign" else picks
    assert main(["mix", str(benign), str(picks), "--out", str(target), "--format", "jsonl"]) == 1
    assert f"is the {which} input" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_out_an_existing_directory_is_refused_before_work(files, tmp_path, capsys):
    benign, picks = files
    (tmp_path / "d").mkdir()
    assert main(["mix", str(benign), str(picks), "--out", str(tmp_path / "d")]) == 1
    assert "is an existing directory" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="existing directory"):
        RunRecord("label", tmp_path / "d", tmp_path / "d.label.json")


def test_a_failed_publish_leaves_neither_output_nor_temps(files, tmp_path, monkeypatch, capsys):
    benign, picks = files
    out = tmp_path / "mix.jsonl"

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr("safetymix.io.manifest.os.replace", disk_full)
    assert main(["mix", str(benign), str(picks), "--out", str(out), "--format", "jsonl"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benign.jsonl", "picks.jsonl"]


def test_stale_temps_of_dead_runs_are_removed_live_ones_kept(tmp_path):
    out = tmp_path / "mix.json"
    dead = out.with_name(f".{out.name}.999999999-0123456789ab.spill")
    dead.write_bytes(b"x" * 100)
    mine = temp_path(out)
    mine.write_bytes(b"y")
    other = tmp_path / ".other.json.999999999-0123456789ab.tmp"
    other.write_bytes(b"z")
    assert remove_stale_temps(out) == [dead]
    assert mine.exists() and other.exists() and not dead.exists()


def test_sidecar_never_outlives_its_output(files, tmp_path):
    benign, picks = files
    out = tmp_path / "mix.jsonl"
    assert main(["mix", str(benign), str(picks), "--out", str(out), "--format", "jsonl"]) == 0
    side = tmp_path / "mix.jsonl.manifest.json"
    old_seed = json.loads(side.read_text())["config"]["seed"]
    # a run killed between publishing the output and its sidecar: the old sidecar is gone
    with RunRecord("mix", out, side, {"benign": benign}) as run:
        run.staged.write_text("new\n")
        real = os.replace
        calls = []

        def kill_after_first(src, dst):
            calls.append(dst)
            if len(calls) == 3:  # temp sidecar written (1), output published (2), sidecar (3)
                raise KeyboardInterrupt
            real(src, dst)

        import safetymix.io.manifest as m

        m.os.replace = kill_after_first
        try:
            with pytest.raises(KeyboardInterrupt):
                run.commit({"config": {"seed": old_seed + 1}})
        finally:
            m.os.replace = real
    assert out.read_text() == "new\n" and not side.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"instruction": "a\\ud800b", "output": "x"}\n',
            "line 1, field 'instruction': lone surrogate U+D800",
        ),
        ("[" * 200_000 + "]" * 200_000 + "\n", "line 1: JSON nested too deeply"),
    ],
)
def test_broken_texts_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=re.escape(message)):
        read_examples(path)


def test_alpaca_array_into_a_jsonl_name_is_refused(files, tmp_path, capsys):
    benign, picks = files
    assert (
        main(["mix", str(benign), str(picks), "--out", str(tmp_path / "x.jsonl"), "--format", "alpaca"]) == 1
    )
    assert "--format alpaca-jsonl" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_same_text_under_two_ids_is_not_mixed_twice(files, tmp_path, capsys):
    benign, _ = files
    twin = tmp_path / "twin.jsonl"
    write_jsonl(twin, [{"id": "other-id", "instruction": "Task 3", "output": "ok"}])
    assert main(["mix", str(benign), str(twin), "--out", str(tmp_path / "m.jsonl"), "--format", "jsonl"]) == 1
    err = capsys.readouterr().err
    assert "other-id" in err and "mixed in twice" in err


def test_mix_without_eval_warns(files, tmp_path, capsys):
    benign, picks = files
    assert (
        main(["mix", str(benign), str(picks), "--out", str(tmp_path / "m.jsonl"), "--format", "jsonl"]) == 0
    )
    assert "contamination guard did not run" in capsys.readouterr().err


def test_label_out_equal_to_its_input_is_refused(files, capsys):
    benign, _ = files
    before = benign.read_bytes()
    assert main(["label", str(benign), "--out", str(benign)]) == 1
    assert "is the pool input" in capsys.readouterr().err
    assert benign.read_bytes() == before


def test_a_save_to_disk_folder_is_hashed_and_recorded(files, tmp_path):
    import datasets

    benign, picks = files
    folder = tmp_path / "benign_ds"
    datasets.Dataset.from_list([json.loads(x) for x in benign.read_text().splitlines()]).save_to_disk(folder)
    out = tmp_path / "mix.jsonl"
    assert main(["mix", str(folder), str(picks), "--out", str(out), "--format", "jsonl"]) == 0
    manifest = json.loads((tmp_path / "mix.jsonl.manifest.json").read_text())
    from safetymix.io import sha256_file

    assert manifest["inputs"]["benign"] == {"path": str(folder), "sha256": sha256_file(folder)}
    assert manifest["counts"]["benign"] == 5
