"""Tiny random-weight models built from configs, saved to a folder; no download.

The tokenizer is the bundled all-MiniLM-L6-v2 one (a BERT WordPiece tokenizer that ships
with the package), so every model here uses its 30,522-token vocabulary.
"""

from __future__ import annotations

from pathlib import Path

#: A Jinja chat template in the shape of Llama Guard's: the whole conversation in one prompt.
GUARD_CHAT_TEMPLATE = (
    "[INST] Task: check the last Agent message.\n"
    "{% for m in messages %}{{ 'User' if m['role'] == 'user' else 'Agent' }}: "
    "{{ m['content'] }}\n{% endfor %}"
    "Provide your safety assessment. [/INST]"
)


def minilm_tokenizer():
    from transformers import AutoTokenizer

    from safetymix.embed import DEFAULT_MODEL
    from safetymix.embed.encoder import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))


def save_tiny_classifier(folder: Path, num_labels: int = 1) -> Path:
    """A 1-layer BERT sequence classifier (hidden 16) with the MiniLM tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = minilm_tokenizer()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
        num_labels=num_labels,
        initializer_range=0.5,  # larger weights, so different inputs get visibly different scores
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_causal_lm(folder: Path, chat_template: str | None = None) -> Path:
    """A 1-layer Llama (hidden 32) with the MiniLM tokenizer ([PAD] pads, no EOS)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = minilm_tokenizer()
    # A decoder takes no token_type_ids (BERT's tokenizer would return them).
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    tokenizer.init_kwargs["model_input_names"] = ["input_ids", "attention_mask"]
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
