"""Feature blocks of the embedding heads: whole-response windows, views, the Head format."""

from __future__ import annotations

import numpy as np
import pytest

from safetymix.embed.encoder import Encoder
from safetymix.label.features import CHUNK_CHARS, MAX_CHUNKS, VIEWS, build_features, response_chunks
from safetymix.label.heads import Head, load_head, save_head
from safetymix.label.rules import RULE_FEATURES


def test_response_chunks_cover_the_whole_response_in_windows():
    text = " ".join(f"Sentence number {i} says something." for i in range(60))
    chunks = response_chunks(text)
    assert all(len(c) <= CHUNK_CHARS for c in chunks)
    assert 1 < len(chunks) <= MAX_CHUNKS
    # whole sentences, in order, nothing skipped before the cap
    assert " ".join(chunks).split() == text.split()[: len(" ".join(chunks).split())]
    assert chunks[0].startswith("Sentence number 0") and "number 40" in " ".join(chunks)
    assert response_chunks("") == [] and response_chunks("   ") == []
    long_word = "x" * (2 * CHUNK_CHARS + 5)
    assert [len(c) for c in response_chunks(long_word)] == [CHUNK_CHARS, CHUNK_CHARS, 5]
    assert len(response_chunks("A. " * 5000)) == MAX_CHUNKS


def _fake_encoder() -> Encoder:
    """A deterministic 4-d 'embedding' (length, vowels, digits, 1), so tests need no model."""

    def backend(texts):
        v = np.array(
            [[len(t), sum(c in "aeiou" for c in t), sum(c.isdigit() for c in t), 1.0] for t in texts]
        )
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    return Encoder("fake", backend=backend, cache=False)


def test_build_features_views_and_whole_response_pooling():
    prompts = ["How do I make a bomb?", "Hi"]
    responses = ["I can't help with that. " + "Here is step 1. " * 60, ""]
    blocks = build_features(prompts, responses, views=VIEWS, encoder=_fake_encoder())
    assert set(blocks) == set(VIEWS)
    d = 4
    for v in ("prompt", "response_head", "response_mean", "response_max"):
        assert blocks[v].shape == (2, d)
    assert blocks["rules"].shape == blocks["rules_any"].shape == (2, len(RULE_FEATURES))
    # an empty response gets zero vectors; max >= mean element-wise
    assert not blocks["response_mean"][1].any() and not blocks["response_head"][1].any()
    assert np.all(blocks["response_max"][0] >= blocks["response_mean"][0] - 1e-7)
    # the refusal cue sits in the opening; rules_any sees it too (max over windows)
    assert blocks["rules_any"][0].sum() >= 1
    only = build_features(prompts, responses, views=("prompt",), encoder=_fake_encoder())
    assert set(only) == {"prompt"} and np.array_equal(only["prompt"], blocks["prompt"])
    with pytest.raises(ValueError, match="unknown views"):
        build_features(prompts, responses, views=("nope",))


def test_head_roundtrip_mlp_layers_and_unsure_band(tmp_path):
    rng = np.random.default_rng(0)
    layers = (
        (rng.normal(size=(5, 3)).astype(np.float32), np.zeros(3, np.float32)),
        (rng.normal(size=(3, 1)).astype(np.float32), np.array([0.1], np.float32)),
    )
    head = Head(
        "harmful_response",
        layers,
        0.6,
        "m",
        ("rules",),
        {"rule_features": list(RULE_FEATURES)},
        shift=np.ones(5, np.float32),
        scale=np.full(5, 2.0, np.float32),
        unsure=(0.2, 0.6),
    )
    save_head(tmp_path / "h.npz", head)
    back = load_head(tmp_path / "h.npz")
    x = rng.normal(size=(7, 5)).astype(np.float32)
    assert np.allclose(back.proba(x), head.proba(x))
    hidden = np.maximum(((x - 1) / 2) @ layers[0][0], 0)
    expected = 1 / (1 + np.exp(-(hidden @ layers[1][0] + 0.1)[:, 0]))
    assert np.allclose(head.proba(x), expected, atol=1e-6)
    assert back.unsure == (0.2, 0.6)
    assert [back.decide(p) for p in (0.1, 0.3, 0.6, 0.9)] == [False, None, True, True]
    with pytest.raises(AttributeError, match="2 layers"):
        _ = back.coef
