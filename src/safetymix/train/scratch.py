"""Small causal LMs built from scratch: a byte-level BPE tokenizer and a random-weight Llama.

For experiments that cannot download a pretrained model (the CPU forgetting benchmark, the
perf benchmarks, tests): :func:`build_bpe_tokenizer` trains a tokenizer on the given texts
with 🤗 ``tokenizers``; :func:`build_llama` makes a ``LlamaForCausalLM`` with weights drawn
from a seed; :func:`save_scratch_model` does both and saves a folder that every safetymix
stage (train, generate, eval) loads like any Hugging Face model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: Special tokens of every scratch tokenizer, in id order (pad = 0).
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")


def build_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    *,
    extra_special_tokens: Sequence[str] = (),
    chat_template: str | None = None,
) -> Any:
    """Train a byte-level BPE ``PreTrainedTokenizerFast`` on ``texts``.

    Like Llama's tokenizer it prepends BOS when ``add_special_tokens=True`` and does not
    append EOS (the trainer adds it to completions). Training is deterministic.

    Parameters
    ----------
    texts : iterable of str
        Training corpus.
    vocab_size : int
        Target vocabulary size, special tokens and the 256 byte symbols included.
    extra_special_tokens : sequence of str
        Further special tokens (e.g. chat role markers), after :data:`SPECIAL_TOKENS`.
    chat_template : str, optional
        Jinja chat template to attach.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*SPECIAL_TOKENS, *extra_special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    extra = {"additional_special_tokens": list(extra_special_tokens)} if extra_special_tokens else {}
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", **extra
    )
    if chat_template is not None:
        wrapped.chat_template = chat_template
    return wrapped


def build_llama(
    tokenizer: Any,
    *,
    hidden_size: int = 128,
    intermediate_size: int = 352,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    max_position_embeddings: int = 512,
    tie_word_embeddings: bool = True,
    seed: int = 0,
) -> Any:
    """A random-weight ``LlamaForCausalLM`` sized for ``tokenizer``, its weights drawn from ``seed``.

    The global torch generator is forked, so building a model leaves it untouched. The
    generation config gets the tokenizer's pad, EOS and BOS ids.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(tokenizer, key))
    return model


def save_scratch_model(
    path: str | Path, texts: Iterable[str], vocab_size: int, **model_kwargs: Any
) -> dict[str, int]:
    """Train a tokenizer on ``texts``, build a Llama (``model_kwargs`` go to :func:`build_llama`), save both.

    Returns
    -------
    dict
        ``vocab_size`` (actual) and ``n_params``.
    """
    tokenizer = build_bpe_tokenizer(texts, vocab_size)
    model = build_llama(tokenizer, **model_kwargs)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return {"vocab_size": len(tokenizer), "n_params": sum(p.numel() for p in model.parameters())}
