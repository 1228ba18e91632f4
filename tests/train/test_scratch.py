"""Scratch models: a BPE tokenizer trained on given texts and a seeded random Llama."""

from __future__ import annotations

import pytest

from safetymix.train.scratch import SPECIAL_TOKENS, build_bpe_tokenizer, build_llama, save_scratch_model

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

TEXTS = ["How do I bake bread? Mix flour and water, then bake it.", "I cannot help with that request."] * 20


def test_tokenizer_round_trips_and_prepends_bos():
    tok = build_bpe_tokenizer(TEXTS, 300)
    assert [tok.convert_ids_to_tokens(i) for i in range(4)] == list(SPECIAL_TOKENS)
    ids = tok("How do I bake bread?")["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.eos_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == "How do I bake bread?"
    assert 256 < len(tok) <= 300


def test_same_seed_same_weights_other_seed_other_weights():
    tok = build_bpe_tokenizer(TEXTS, 300)
    a, b, c = (
        build_llama(tok, hidden_size=32, intermediate_size=64, num_layers=1, seed=s) for s in (0, 0, 1)
    )
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    assert a.config.vocab_size == len(tok) and a.generation_config.pad_token_id == tok.pad_token_id


def test_saved_folder_loads_with_auto_classes(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = save_scratch_model(tmp_path, TEXTS, 300, hidden_size=32, intermediate_size=64, num_layers=1)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert info == {"vocab_size": len(tok), "n_params": sum(p.numel() for p in model.parameters())}
    assert model.config.tie_word_embeddings
