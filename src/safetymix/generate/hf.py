"""The ``hf`` engine: ``transformers`` ``generate()`` on left-padded batches.

Batches are left-padded with an attention mask; ``transformers`` derives each row's position
ids from that mask, so a prompt gets the same greedy answer whatever batch it sits in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from safetymix.errors import ConfigError, MissingDependencyError
from safetymix.generate.config import GenerateConfig, tokenizer_folder
from safetymix.schema import Example
from safetymix.train.templates import as_example, check_template, encode_prompt


def generate_responses(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Example | str],
    *,
    template: str = "alpaca",
    num_beams: int = 1,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    show_progress: bool = False,
    on_batch: Callable[[list[int], list[str]], None] | None = None,
) -> list[str]:
    """Generate a response for each prompt with a model already in memory.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        A causal LM on its device; it is put in eval mode.
    tokenizer : PreTrainedTokenizerBase
        Its tokenizer; needs a pad token or an EOS token (used for padding).
    prompts : sequence of Example or str
        A string is an instruction without input.
    template : {"alpaca", "chat"}, default "alpaca"
        Must be the training template (:mod:`safetymix.train.templates`).
    num_beams : int, default 1
        1 is greedy search.
    max_new_tokens : int, default 256
    batch_size : int, default 8
        Prompts are sorted by length to batch similar lengths; the output keeps input order.
    show_progress : bool, default False
    on_batch : callable, optional
        Called after each batch with the batch's positions in ``prompts`` and their
        responses, so a caller can write each batch as it finishes.

    Returns
    -------
    list of str
        The decoded new tokens (special tokens dropped, whitespace stripped), in input order.

    Examples
    --------
    >>> generate_responses(model, tokenizer, ["Name a colour."], num_beams=1)  # doctest: +SKIP
    ['Blue.']
    """
    import torch

    check_template(template, tokenizer)
    if batch_size < 1 or num_beams < 1 or max_new_tokens < 1:
        raise ConfigError(
            "batch_size, num_beams and max_new_tokens must be >= 1; "
            f"got {batch_size}, {num_beams}, {max_new_tokens}"
        )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise ConfigError("the tokenizer has neither a pad token nor an EOS token to pad with")
    eos_id = model.generation_config.eos_token_id
    if eos_id is None:
        eos_id = tokenizer.eos_token_id
    encoded = [encode_prompt(tokenizer, as_example(p), template) for p in prompts]
    # Longest first: similar lengths share a batch (less padding), and an out-of-memory
    # error shows up in the first batch rather than the last.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if show_progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="generate", unit="batch")

    device = next(model.parameters()).device
    model.eval()
    out: list[str] = [""] * len(encoded)
    for batch in batches:
        input_ids, attention_mask = _left_pad([encoded[i] for i in batch], pad_id)
        with torch.inference_mode():
            generated = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                do_sample=False,
                num_beams=num_beams,
                max_new_tokens=max_new_tokens,
                pad_token_id=pad_id,
                eos_token_id=eos_id,
            )
        new_tokens = generated[:, input_ids.shape[1] :].cpu()
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for i, text in zip(batch, texts, strict=True):
            out[i] = text.strip()
        if on_batch is not None:
            on_batch(list(batch), [out[i] for i in batch])
    return out


def load_model(config: GenerateConfig) -> tuple[Any, Any]:
    """Load the model (merging a LoRA adapter when given) and its tokenizer, ready to generate.

    ``config`` should be resolved (:func:`~safetymix.generate.config.resolve_config`). The
    tokenizer comes from the adapter folder when it holds one (``safetymix train`` saves it
    there), else from the model (for a GGUF model: from the file's metadata).
    """
    import torch

    from safetymix.models import (
        load_pretrained,
        load_tokenizer,
        model_ref,
        resolve_device,
        warn_if_emulated_bf16,
    )

    device = resolve_device(config.device)
    dtype = config.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    if dtype == "bfloat16":
        warn_if_emulated_bf16(device, "generation (use --dtype float32 on this machine)")
    ref = model_ref(config.model, config.gguf_file)
    trust = config.trust_remote_code
    folder = tokenizer_folder(config)
    tokenizer = load_tokenizer(model_ref(folder) if folder else ref, trust_remote_code=trust, who="generate")
    model = load_pretrained(ref, dtype=dtype, trust_remote_code=trust, who="generate")
    if config.adapter is not None:
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise MissingDependencyError(f"loading a LoRA adapter needs peft ({exc})") from exc
        model = PeftModel.from_pretrained(model, config.adapter).merge_and_unload()
    return model.to(device).eval(), tokenizer


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Left-pad token rows into ``input_ids`` and ``attention_mask`` tensors."""
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            input_ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            attention_mask[i, width - len(row) :] = 1
    return input_ids, attention_mask
