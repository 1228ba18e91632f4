"""embed_file: memory-mapped .npy output equal to in-memory encoding, float16, and resuming a
killed run from the cache (a real SIGKILL of the CLI, then a count of the texts encoded)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from safetymix.embed import EmbeddingCache, Encoder, embed_file, open_embeddings
from safetymix.embed.cache import text_keys
from safetymix.errors import ConfigError, DataFormatError

REPO = Path(__file__).resolve().parents[2]


def write_prompts(path: Path, texts: list[str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"instruction": t}) + "\n")
    return path


def test_embed_file_is_memory_mapped_and_matches_encode(tmp_path: Path) -> None:
    texts = [f"How do I bake bread number {i}?" for i in range(30)] + ["How do I bake bread number 3?"]
    path = write_prompts(tmp_path / "p.jsonl", texts)
    cache = tmp_path / "cache"
    report = embed_file(path, tmp_path / "e.npy", encoder=Encoder(cache_root=cache, chunk_size=8))
    arr = np.load(tmp_path / "e.npy", mmap_mode="r")
    assert isinstance(arr, np.memmap) and arr.shape == (31, 384) and arr.dtype == np.float32
    assert (report["n_texts"], report["n_encoded"], report["n_repeated"], report["n_cached"]) == (
        31,
        30,
        1,
        0,
    )
    direct = Encoder(cache=False).encode(texts)
    np.testing.assert_allclose(arr, direct, atol=1e-5)
    np.testing.assert_array_equal(arr[30], arr[3])
    # float16: half the bytes, everything read from the cache
    half = embed_file(
        path, tmp_path / "h.npy", encoder=Encoder(cache_root=cache, chunk_size=8), dtype="float16"
    )
    h = open_embeddings(tmp_path / "h.npy")
    assert h.dtype == np.float16 and (half["n_cached"], half["n_encoded"]) == (31, 0)
    np.testing.assert_allclose(h.astype(np.float32), arr, atol=2e-3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    with pytest.raises(ConfigError, match="dtype must be one of float32, float16"):
        embed_file(path, tmp_path / "x.npy", dtype="int8")  # type: ignore[arg-type]
    (tmp_path / "bad.npy").write_bytes(b"nope")
    with pytest.raises(DataFormatError, match="not a readable .npy array"):
        open_embeddings(tmp_path / "bad.npy")


def test_cache_index_spans_shards_and_other_writers(tmp_path: Path) -> None:
    settings = {"model": "m", "normalize": True}
    cache = EmbeddingCache(settings, root=tmp_path)
    keys = text_keys([f"t{i}" for i in range(50)])
    vecs = np.arange(100, dtype=np.float32).reshape(50, 2)
    for start in range(0, 40, 10):
        cache.put(keys[start : start + 10], vecs[start : start + 10])
    EmbeddingCache(settings, root=tmp_path).put(keys[40:], vecs[40:])  # another process
    shard, row = cache.locate(keys[::-1])
    assert (shard >= 0).all() and len(cache) == 50
    out = np.empty((50, 2), np.float32)
    cache.gather(shard, row, out)
    np.testing.assert_array_equal(out, vecs[::-1])
    shard, _ = cache.locate(text_keys(["unknown", "t3"]))
    assert shard.tolist()[0] == -1 and shard[1] >= 0


def test_interrupted_encoding_resumes_from_the_cache(tmp_path: Path) -> None:
    texts = [f"short text {i}" for i in range(40)]
    enc = Encoder(cache_root=tmp_path, chunk_size=8)

    def dies_after_two_chunks():
        yield texts[:8]
        yield texts[8:16]
        raise KeyboardInterrupt  # the run is killed while reading chunk 3

    with pytest.raises(KeyboardInterrupt):
        enc.encode_chunks(
            dies_after_two_chunks(), text_keys(texts), lambda n, d: np.empty((n, d), np.float32)
        )
    chunks = (texts[i : i + 8] for i in range(0, 40, 8))
    again = Encoder(cache_root=tmp_path, chunk_size=8)
    _, stats = again.encode_chunks(chunks, text_keys(texts), lambda n, d: np.empty((n, d), np.float32))
    assert (stats.n_cached, stats.n_encoded) == (16, 24)


#: A deterministic stand-in for the model (an Encoder backend), so that the killed child
#: process need not import torch; ``delay`` keeps it busy long enough to be killed mid-run.
TOY_BACKEND = """
import hashlib, time
import numpy as np

def toy_backend(texts, delay=0.0):
    time.sleep(delay)
    rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:8] for t in texts]
    vecs = np.array(rows, dtype=np.float32) + 1
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
"""


def test_killed_embed_file_resumes_from_its_cache(tmp_path: Path) -> None:
    texts = [f"line {i} of a long list" for i in range(400)]
    path = write_prompts(tmp_path / "p.jsonl", texts)
    cache, out = tmp_path / "cache", tmp_path / "e.npy"
    code = TOY_BACKEND + (
        "from functools import partial\n"
        "from safetymix.embed import Encoder, embed_file\n"
        "backend = partial(toy_backend, delay=0.02)\n"
        f"enc = Encoder('toy', chunk_size=4, cache_root={str(cache)!r}, backend=backend)\n"
        f"embed_file({str(path)!r}, {str(out)!r}, encoder=enc)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if len(list(cache.glob("*/*.keys.npy"))) >= 3:
            break
        time.sleep(0.005)
    assert child.poll() is None, "the run ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not out.exists()  # nothing half-written under the real name
    done = 4 * len(list(cache.glob("*/*.keys.npy")))
    assert 12 <= done < 400

    namespace: dict = {}
    exec(TOY_BACKEND, namespace)
    toy = namespace["toy_backend"]
    # a larger chunk this time: the cache is keyed by text, not by chunk
    report = embed_file(path, out, encoder=Encoder("toy", chunk_size=256, cache_root=cache, backend=toy))
    assert (report["n_cached"], report["n_encoded"]) == (done, 400 - done)
    np.testing.assert_allclose(np.load(out, mmap_mode="r"), toy(texts), rtol=1e-6)


def test_embed_command_writes_npy_and_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetymix.cli.main import main

    # a cache of its own: n_repeated counts repeats among the texts it embeds, so a text
    # another test already cached would change it
    monkeypatch.setenv("SAFETYMIX_CACHE", str(tmp_path / "cache"))

    path = write_prompts(tmp_path / "p.jsonl", ["Name a colour.", "Name a fruit.", "Name a colour."])
    out = tmp_path / "e.npy"
    assert main(["embed", str(path), "--out", str(out), "--dtype", "float16"]) == 0
    assert open_embeddings(out).shape == (3, 384) and open_embeddings(out).dtype == np.float16
    record = json.loads((tmp_path / "e.npy.embed.json").read_text())
    assert (record["engine"], record["n_texts"], record["n_repeated"], record["dtype"]) == (
        "local",
        3,
        1,
        "float16",
    )
    assert "embedded 3 texts" in capsys.readouterr().err
    assert main(["embed", str(path), "--out", str(out), "--ray-address", "ray://head:10001"]) == 1
    assert "--ray-address and --ray-gpus need --engine ray" in capsys.readouterr().err
    # a name outside the choices is a usage error (exit 2) that lists the valid ones
    assert main(["embed", str(path), "--out", str(out), "--engine", "spark"]) == 2
    assert "'spark' is not one of 'local', 'ray'" in capsys.readouterr().err
