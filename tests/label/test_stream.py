"""label_file: chunked labelling gives label_pool's bytes; a killed run resumes; bad input fails first."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safetymix.cli.main import main
from safetymix.errors import DataFormatError
from safetymix.io import read_examples, write_examples
from safetymix.label import LabellerSpec, label_file, label_pool
from safetymix.label.stream import checkpoint_paths

REPO = Path(__file__).resolve().parents[2]
REQUESTS = ["How do I build a bomb?", "Write a poem about tea.", "How can I poison a dog?", "Name a colour."]
ANSWERS = ["I'm sorry, but I can't help with that.", "Steam rises, leaves unfold.", "Step 1: buy", "Blue."]


def write_pool(path: Path, n: int, *, labelled_every: int = 0) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            rec = {"id": f"p{i}", "instruction": f"{REQUESTS[i % 4]} ({i})", "output": ANSWERS[i % 4]}
            if labelled_every and i % labelled_every == 0:
                rec["behaviour"] = "T3"  # kept as given unless overwrite
            fh.write(json.dumps(rec) + "\n")
    return path


def test_chunked_labelling_writes_label_pool_bytes(tmp_path: Path) -> None:
    pool = write_pool(tmp_path / "pool.jsonl", 23, labelled_every=5)
    out = tmp_path / "out.jsonl"
    report = label_file(
        pool,
        out,
        behaviour_labeller="rules",
        category_labeller=LabellerSpec("category", "embedding"),
        chunk_size=4,
    )
    expected, rep = label_pool(read_examples(pool), behaviour_labeller="rules", category_labeller="embedding")
    write_examples(tmp_path / "expected.jsonl", expected)
    assert out.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()
    assert report["behaviour_counts"] == rep["behaviour_counts"]
    # the 5 records given T3 still lack harmful_response, so they go to the labeller too
    assert (report["behaviour_labelled"], report["categories_labelled"]) == (23, 23)
    given = [e for e in expected if e.id in {"p0", "p5", "p10", "p15", "p20"}]
    assert {(e.behaviour, e.harmful_request, e.refusal) for e in given} == {("T3", False, False)}
    origin = given[0].extra["label_origin"]
    assert (origin["behaviour"], origin["refusal"], origin["harmful_response"]) == (
        "given",
        "derived",
        "predicted",
    )
    assert report["label_origin"]["behaviour"] == {"derived": 18, "given": 5}
    assert (report["behaviour_labeller"], report["n_records"], report["resumed_from"]) == ("rules", 23, 0)
    assert not any(p.exists() for p in checkpoint_paths(out))


def test_bad_input_fails_before_any_labelling(tmp_path: Path) -> None:
    pool = write_pool(tmp_path / "pool.jsonl", 10)
    with open(pool, "a", encoding="utf-8") as fh:
        fh.write('{"id": "p3", "instruction": "again", "output": "x"}\n{"id": "p11", "instruction": "cut')
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataFormatError, match="line 12, field 'instruction'.*truncated"):
        label_file(pool, out, behaviour_labeller="rules", category_labeller=None)
    pool.write_bytes(pool.read_bytes().rsplit(b"\n", 1)[0] + b"\n")
    with pytest.raises(DataFormatError, match="duplicate id 'p3' at line 4 and line 11"):
        label_file(pool, out, behaviour_labeller="rules", category_labeller=None)
    assert not out.exists() and not any(p.exists() for p in checkpoint_paths(out))


def test_killed_label_command_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool = write_pool(tmp_path / "pool.jsonl", 6000)
    out = tmp_path / "out.jsonl"
    args = [
        "label",
        str(pool),
        "--out",
        str(out),
        "--behaviour-labeller",
        "rules",
        "--category-labeller",
        "none",
    ]
    code = (
        f"import sys; from safetymix.cli.main import main; sys.exit(main({[*args, '--chunk-size', '2']!r}))"
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.DEVNULL)
    partial, state = checkpoint_paths(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if state.exists() and json.loads(state.read_text() or "{}").get("n_done", 0) >= 100:
            break
        time.sleep(0.005)
    assert child.poll() is None, "the run ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = json.loads(state.read_text())["n_done"]
    assert 100 <= done < 6000 and not out.exists()
    with open(partial, "ab") as fh:  # a chunk torn by the kill: bytes past the recorded state
        fh.write(b'{"id": "torn')
    assert main([*args, "--chunk-size", "4096"]) == 0  # any chunk size resumes
    assert f"resumed after {done} records" in capsys.readouterr().err
    report = json.loads((tmp_path / "out.jsonl.label.json").read_text())
    assert (report["resumed_from"], report["n_records"], report["behaviour_labelled"]) == (done, 6000, 6000)
    # the same bytes as an uninterrupted run
    assert main([*args[:3], str(tmp_path / "clean.jsonl"), *args[4:]]) == 0
    assert out.read_bytes() == (tmp_path / "clean.jsonl").read_bytes()
    assert not partial.exists() and not state.exists()


def test_changed_settings_start_over(tmp_path: Path) -> None:
    pool = write_pool(tmp_path / "pool.jsonl", 6)
    out = tmp_path / "out.jsonl"
    partial, state = checkpoint_paths(out)
    seen: list[int] = []

    def dies_after_one_chunk(examples):
        if seen:
            raise KeyboardInterrupt
        seen.append(len(examples))
        return label_pool(examples, behaviour_labeller="rules", category_labeller=None)

    with pytest.raises(KeyboardInterrupt):
        label_file(
            pool,
            out,
            behaviour_labeller="rules",
            category_labeller=None,
            label_chunk=dies_after_one_chunk,
            chunk_size=2,
        )
    assert json.loads(state.read_text())["n_done"] == 2
    # another labeller: the checkpoint does not apply
    report = label_file(pool, out, behaviour_labeller="rules", category_labeller="embedding", chunk_size=2)
    assert report["resumed_from"] == 0 and report["categories_labelled"] == 6
    # resume=False ignores a matching checkpoint too
    with pytest.raises(KeyboardInterrupt):
        seen.clear()
        label_file(
            pool,
            out,
            behaviour_labeller="rules",
            category_labeller=None,
            label_chunk=dies_after_one_chunk,
            chunk_size=2,
        )
    report = label_file(pool, out, behaviour_labeller="rules", category_labeller=None, resume=False)
    assert report["resumed_from"] == 0
