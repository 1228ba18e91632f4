"""Streaming reads: chunks in bounded memory, whole-file checks, and bad input at scale
(truncated last line, over-long line, a file that changes while it is read); streaming mix."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from safetymix.errors import ConfigError, DataFormatError
from safetymix.io import (
    FileSnapshot,
    iter_chunks,
    read_examples,
    scan_examples,
    write_examples,
)
from safetymix.io.guard import CHECK_EVERY_LINES
from safetymix.mix import MixConfig, mix_examples, run_mix
from safetymix.schema import make_example


def write_jsonl(path: Path, n: int, *, start: int = 0) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(start, start + n):
            fh.write(
                json.dumps({"id": f"r{i}", "instruction": f"question {i}", "output": f"answer {i}"}) + "\n"
            )
    return path


# -- chunked reading ----------------------------------------------------------------------------


def test_iter_chunks_jsonl_csv_parquet_and_datasets_agree(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_jsonl(tmp_path / "a.jsonl", 10)
    whole = read_examples(path)
    chunks = list(iter_chunks(path, chunk_size=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert [e for c in chunks for e in c] == whole

    csv = tmp_path / "a.csv"
    csv.write_text("id,instruction,output\n" + "".join(f"r{i},question {i},answer {i}\n" for i in range(10)))
    parquet = tmp_path / "a.parquet"
    cols = {k: [getattr(e, a) for e in whole] for k, a in [("id", "id"), ("instruction", "instruction")]}
    pq.write_table(pa.table({**cols, "output": [e.response for e in whole]}), parquet, row_group_size=3)
    folder = tmp_path / "hf"
    datasets.Dataset.from_dict({**cols, "output": [e.response for e in whole]}).save_to_disk(str(folder))
    for other in (csv, parquet, folder):
        got = [(e.id, e.instruction, e.response) for c in iter_chunks(other, chunk_size=3) for e in c]
        assert got == [(e.id, e.instruction, e.response) for e in whole], other
    with pytest.raises(ConfigError, match="chunk_size must be >= 1"):
        iter_chunks(path, chunk_size=0)


def test_streaming_hf_iterable_dataset_rows() -> None:
    # Hub data sets are opened with streaming=True, which yields an IterableDataset; the row
    # reader must take one without materialising it (no network here: built from a generator).
    import datasets

    from safetymix.io.readers import _dataset_rows

    def gen():
        for i in range(1100):
            yield {"instruction": f"q{i}", "output": f"a{i}"}

    rows = _dataset_rows(datasets.IterableDataset.from_generator(gen))
    first = [next(rows) for _ in range(3)]
    assert first == [(i, {"instruction": f"q{i}", "output": f"a{i}"}) for i in range(3)]
    assert sum(1 for _ in rows) == 1097


def test_scan_counts_and_finds_duplicates_far_apart(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", 3000)
    assert scan_examples(path) == 3000
    with open(path, "a", encoding="utf-8") as fh:  # a copy of record 5 at the very end
        fh.write(json.dumps({"id": "r5", "instruction": "other", "output": "x"}) + "\n")
    with pytest.raises(
        DataFormatError, match="line 3001, field 'id': duplicate id 'r5' at line 6 and line 3001"
    ):
        scan_examples(path)
    assert scan_examples(path, duplicates="keep") == 3001


# -- bad input at scale -------------------------------------------------------------------------


def test_truncated_final_line_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", 3)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "r3", "instruction": "q", "output": "cut off mid-')  # no newline
    with pytest.raises(DataFormatError) as info:
        list(iter_chunks(path))
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 4, "output")
    assert "final line, which has no newline: the file looks truncated" in str(err)
    # scan_examples finds it before any work starts
    with pytest.raises(DataFormatError, match="line 4, field 'output'.*truncated"):
        scan_examples(path)
    # a broken line that does end in a newline is plain malformed JSON, not truncation
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": \n')
    with pytest.raises(DataFormatError, match=r"line 2: malformed JSON: Expecting value") as info:
        list(iter_chunks(path))
    assert "looks truncated" not in str(info.value)


def test_overlong_line_fails_after_the_limit_in_bounded_memory(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", 2)
    huge = 20 * 1024 * 1024  # stands in for a multi-GB line
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "big", "instruction": "q", "output": "' + "x" * huge + '"}\n')
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError) as info:
            list(iter_chunks(path, max_line_bytes=64 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = info.value
    assert (err.line, err.field) == (3, "output")
    assert "line longer than 65536 bytes (max_line_bytes)" in str(err)
    assert peak < 2 * 1024 * 1024, peak  # read 64 KiB of the 20 MiB line, not all of it
    assert len(read_examples(path)) == 3  # the default limit (64 MiB) accepts it
    csv = tmp_path / "a.csv"
    csv.write_text("instruction,output\n" + "a," + "y" * 5000 + "\n")
    with pytest.raises(DataFormatError, match="a.csv, line 2: line longer than 1000 bytes"):
        read_examples(csv, max_line_bytes=1000)


def test_file_growing_while_read(tmp_path: Path) -> None:
    n = 2 * CHECK_EVERY_LINES + 10
    path = write_jsonl(tmp_path / "a.jsonl", n)
    chunks = iter_chunks(path, chunk_size=100)
    assert len(next(chunks)) == 100
    with open(path, "a", encoding="utf-8") as fh:  # another process appends meanwhile
        fh.write(json.dumps({"instruction": "late", "output": "x"}) + "\n")
    with pytest.raises(DataFormatError) as info:
        list(chunks)
    assert info.value.line == CHECK_EVERY_LINES  # caught at the next periodic check
    assert "the file changed while being read (size" in str(info.value)


def test_file_replaced_between_passes_and_truncated_while_read(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", 50)
    snap = FileSnapshot.take(path)
    assert scan_examples(path, snapshot=snap) == 50
    other = write_jsonl(tmp_path / "b.jsonl", 50, start=100)  # same size, other content
    os.replace(other, path)
    with pytest.raises(DataFormatError, match="a.jsonl: the file changed while being read .*replaced"):
        list(iter_chunks(path, snapshot=snap))
    # truncated by a writer while being read: caught at the end of the file
    path = write_jsonl(tmp_path / "c.jsonl", 50)
    chunks = iter_chunks(path, chunk_size=10)
    next(chunks)
    with open(path, "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(DataFormatError, match="changed while being read"):
        list(chunks)


def test_parquet_changed_between_batches(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    rows = 5000  # two record batches of 4096
    table = pa.table({"instruction": [f"q{i}" for i in range(rows)], "output": ["a"] * rows})
    pq.write_table(table, path)
    stream = iter_chunks(path, chunk_size=1000)
    next(stream)
    pq.write_table(table.slice(0, 10), path)
    with pytest.raises(DataFormatError, match=r"a.parquet: row 4096: the file changed while being read"):
        list(stream)


# -- streaming mix ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["alpaca", "jsonl", "sharegpt"])
def test_streaming_mix_writes_the_in_memory_bytes(tmp_path: Path, fmt: str) -> None:
    benign_path = write_jsonl(tmp_path / "benign.jsonl", 257)
    with open(benign_path, "a", encoding="utf-8") as fh:  # an exact duplicate row, kept twice
        fh.write(json.dumps({"id": "r7", "instruction": "question 7", "output": "answer 7"}) + "\n")
    picks = [make_example(f"harmful {i}?", "I can't help with that.", behaviour="T1") for i in range(5)]
    picks_path = write_examples(tmp_path / "picks.jsonl", picks)
    cfg = MixConfig(format=fmt, seed=3, upsample=2, duplicates="keep")
    manifest = run_mix(benign_path, picks_path, tmp_path / "out", cfg, chunk_size=50)
    expected = tmp_path / "expected"
    benign = read_examples(benign_path, duplicates="keep")
    write_examples(expected, mix_examples(benign, picks, seed=3, upsample=2), format=fmt)
    assert (tmp_path / "out").read_bytes() == expected.read_bytes()
    assert manifest["counts"]["total"] == 258 + 10
    assert not list(tmp_path.glob(".*spill"))  # the spill file is gone
    clash = write_examples(tmp_path / "clash.jsonl", [*picks, benign[0]])
    with pytest.raises(ConfigError, match="1 pick\\(s\\) are already in the benign set, e.g. \\['r0'\\]"):
        run_mix(benign_path, clash, tmp_path / "out2", cfg, chunk_size=50)
    assert not (tmp_path / "out2").exists()
    dropped = run_mix(benign_path, picks_path, tmp_path / "out3", MixConfig(format=fmt), chunk_size=50)
    assert dropped["counts"]["benign"] == 257 and dropped["counts"]["benign_duplicates_dropped"] == 1
    with pytest.raises(DataFormatError, match="duplicate id 'r7' at record 8 and record 258"):
        run_mix(benign_path, picks_path, tmp_path / "out4", MixConfig(format=fmt, duplicates="error"))
