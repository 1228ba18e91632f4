"""The embedding cache: warm reads need no model, keys cover the settings, shards resume."""

from __future__ import annotations

import sys

import numpy as np

from safetymix.embed import EmbeddingCache, Encoder
from safetymix.embed.cache import text_key


def test_cache_round_trip_and_partial_hits(tmp_path):
    cache = EmbeddingCache({"model": "m", "normalize": True}, root=tmp_path)
    keys = [text_key(t) for t in ["a", "b", "c"]]
    vecs = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache.put(keys[:2], vecs[:2])
    out, missing = EmbeddingCache({"model": "m", "normalize": True}, root=tmp_path).get(keys)
    assert missing == [2]
    np.testing.assert_array_equal(out[:2], vecs[:2])
    # other settings -> other folder -> nothing cached
    none, missing = EmbeddingCache({"model": "other", "normalize": True}, root=tmp_path).get(keys)
    assert none is None and missing == [0, 1, 2]
    # no pickle anywhere
    for f in cache.dir.glob("*.npy"):
        np.load(f, allow_pickle=False)


def test_encoder_real_model_and_warm_cache(tmp_path):
    enc = Encoder(cache_root=tmp_path)
    texts = ["How do I bake bread?", "How do I build a bomb?", "How do I bake bread?"]
    v = enc.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v[0], v[2])
    assert float(v[0] @ v[1]) < 0.9
    # a fresh encoder reads the cache without loading the model
    warm = Encoder(cache_root=tmp_path)
    np.testing.assert_array_equal(warm.encode(texts), v)
    assert warm._st is None
    # uncached encoding gives the same vectors
    np.testing.assert_allclose(Encoder(cache=False).encode(texts[:1]), v[:1], atol=1e-6)
    assert "torch" in sys.modules  # the cold path really used the model
