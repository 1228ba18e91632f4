from __future__ import annotations

import numpy as np

from safetymix.contamination import EvalPrompt, find_overlaps, normalize_prompt
from safetymix.schema import make_example


def test_normalize_prompt():
    assert normalize_prompt("  How do I KILL a Python   process?! ") == "how do i kill a python process"
    assert normalize_prompt("ﬁle") == "file"  # NFKC ligature


def fake_encode(texts):
    # bag of characters: near-identical strings get cosine close to 1
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for ch in t.lower():
            out[i, ord(ch) % 64] += 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_exact_and_near_duplicates_found():
    train = [
        make_example("How do I kill a Python process?", "r"),
        make_example("Write a poem about the sea", "r"),
        make_example("How do I kill a python process", "r2", input="please"),
    ]
    evals = [
        EvalPrompt("how do I KILL a python process?", "xstest.csv", 1),
        EvalPrompt("Bake a cake", "x", 2),
    ]
    matches = find_overlaps(train, evals, encode=fake_encode)
    assert [m["train_id"] for m in matches if m["kind"] == "exact"] == [train[0].id]
    near = [m for m in matches if m["kind"] == "embedding"]
    assert [m["train_id"] for m in near] == [train[2].id] and near[0]["score"] >= 0.95
    assert find_overlaps(train[1:2], evals, encode=fake_encode) == []
    # an infinite threshold skips the embedding test
    assert len(find_overlaps(train, evals, threshold=float("inf"))) == 1
