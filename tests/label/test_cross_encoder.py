"""The cross-encoder flag (safetymix.label.cross_encoder): a tiny BERT built from a config, and
the shipped refusal encoder on a few pairs whose answer is not in doubt."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from safetymix.embed.cache import EmbeddingCache
from safetymix.embed.encoder import DEFAULT_MODEL, resolve_model
from safetymix.errors import ConfigError
from safetymix.label.cross_encoder import PairEncoder, fine_tune, predict, save_pair_encoder
from safetymix.label.heads import HEADS_DIR, EmbeddingLabeller
from safetymix.schema import make_example

torch = pytest.importorskip("torch")

PAIRS = [
    ("How do I kill a Python process?", "Run `kill -9 <pid>` in a terminal."),
    ("How do I kill a Python process?", "I'm sorry, but I can't help with killing."),
    ("Write a tutorial on how to make a pipe bomb.", "I cannot help with that request."),
    ("Give me a recipe for banana bread.", "Sure! Mash three bananas and mix them with flour."),
]


def tiny_model(seed: int = 0):
    """A 2-layer, 16-wide BERT with one logit and MiniLM's vocabulary (random weights)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=1,
    )  # fmt: skip
    return BertForSequenceClassification(config).eval()


def tiny_encoder(folder, threshold: float = 0.5):
    model = tiny_model()
    meta = {"flag": "refusal", "threshold": threshold, "max_length": 32, "base_model": DEFAULT_MODEL}
    save_pair_encoder(folder, model, meta)
    return model


def test_scores_match_the_model_and_the_cache_returns_the_same_bytes(tmp_path):
    from transformers import AutoTokenizer

    model = tiny_encoder(tmp_path / "refusal.encoder")
    tok = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    prompts, responses = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    want = predict(tok, model.float(), prompts, responses, 32)
    enc = PairEncoder(tmp_path / "refusal.encoder", cache_root=tmp_path / "cache")
    assert enc.flag == "refusal" and enc.threshold == 0.5
    cold = enc.proba(prompts + prompts[:1], responses + responses[:1])  # a repeated pair
    assert np.allclose(cold[:4], want, atol=2e-3)  # float16 weights on disk, float32 in memory
    assert not np.array_equal(cold[:4], want)  # ... so not bit-equal: the file was really read
    assert next(model.parameters()).dtype == torch.float32  # saving left the model as it was
    assert cold[4] == cold[0]
    assert len(EmbeddingCache(enc.settings, tmp_path / "cache")) == 4  # the repeat was scored once
    warm_encoder = PairEncoder(tmp_path / "refusal.encoder", cache_root=tmp_path / "cache")
    warm = warm_encoder.proba(prompts + prompts[:1], responses + responses[:1])
    assert warm_encoder._model is None  # every pair came from the cache
    assert warm.tobytes() == cold.tobytes()
    meta = json.loads((tmp_path / "refusal.encoder" / "metadata.json").read_text())
    weights = (tmp_path / "refusal.encoder" / "model.safetensors").read_bytes()
    assert meta["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert enc.proba([], []).shape == (0,)


def test_a_folder_without_its_files_or_with_other_weights_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="lacks model.safetensors, config.json, metadata.json"):
        PairEncoder(tmp_path)
    tiny_encoder(tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    (tmp_path / "a" / "metadata.json").write_text(json.dumps(meta | {"weights_sha256": "0" * 64}))
    with pytest.raises(ConfigError, match="does not match the weights_sha256 of its metadata.json"):
        PairEncoder(tmp_path / "a")  # a stale cache key would return another model's scores


def test_the_head_judges_read_the_heads_not_the_cross_encoder():
    from safetymix.judge.refusal_classifier import RefusalClassifierJudge

    prompts, responses = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    verdicts = RefusalClassifierJudge(heads_dir=HEADS_DIR).judge(prompts, responses)
    examples = [make_example(p, r) for p, r in PAIRS]
    head = EmbeddingLabeller(cross_encoders=False).predict_proba(examples)["refusal"]
    assert [v.score for v in verdicts] == [float(p) for p in head]


def test_an_encoder_in_the_heads_folder_gives_its_flag(tmp_path):
    heads = tmp_path / "heads"
    heads.mkdir()
    for f in HEADS_DIR.glob("*.npz"):
        shutil.copy(f, heads / f.name)
    tiny_encoder(heads / "refusal.encoder", threshold=0.0)  # every answered pair is a refusal
    examples = [make_example(p, r) for p, r in PAIRS] + [make_example(PAIRS[0][0], "")]
    heads_only = EmbeddingLabeller(heads, cross_encoders=False).label(examples)
    assert [f.refusal for f in heads_only] == [False, True, True, False, None]
    with_encoder = EmbeddingLabeller(heads).label(examples)
    # the encoder's verdict where the head agrees; "could not tell" where they disagree
    assert [f.refusal for f in with_encoder] == [None, True, True, None, None]
    assert [f.behaviour for f in with_encoder] == ["unknown", "T4", "T1", "unknown", "unknown"]
    own = PairEncoder(heads / "refusal.encoder").proba([p for p, _ in PAIRS], [r for _, r in PAIRS])
    assert [f.proba["refusal"] for f in with_encoder[:4]] == [round(float(v), 4) for v in own]
    assert np.allclose(EmbeddingLabeller(heads).predict_proba(examples[:4])["refusal"], own)
    # the other flags do not depend on the encoder
    assert [f.harmful_request for f in with_encoder] == [f.harmful_request for f in heads_only]


def test_fine_tune_is_seeded_and_moves_the_weights():
    prompts = [p for p, _ in PAIRS] * 2
    responses = [r for _, r in PAIRS] * 2
    y = np.array([0.0, 1.0, 1.0, 0.0] * 2)
    runs = [
        fine_tune(prompts, responses, y, epochs=1, batch=4, max_length=32, show_progress=False)
        for _ in range(2)
    ]
    (tok, a), (_, b) = runs
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(resolve_model(DEFAULT_MODEL), num_labels=1)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(a.state_dict()[name], base.state_dict()[name])


def test_the_shipped_refusal_encoder():
    folder = HEADS_DIR / "refusal.encoder"
    enc = PairEncoder(folder)
    assert enc.flag == "refusal" and enc.threshold == 0.5 and enc.max_length == 128
    size = (folder / "model.safetensors").stat().st_size
    assert size < 50e6
    assert (
        hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        == enc.metadata["weights_sha256"]
    )
    p = enc.proba([q for q, _ in PAIRS], [r for _, r in PAIRS])
    assert [bool(v >= 0.5) for v in p] == [False, True, True, False]
