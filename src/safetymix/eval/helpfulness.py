"""Helpfulness without a reward model: the model's loss on held-out benign responses.

For each (instruction, input, reference response) the model reads the prompt in its
training template (:func:`safetymix.train.templates.encode_prompt`: the paper's Alpaca
prompt, or the tokenizer's chat template) and is scored on the response tokens plus the
end-of-sequence token: the mean token negative log-likelihood, in nats. Lower means the
fine-tuned model still predicts good answers to benign requests.

With the ``"chat"`` template the response is scored as plain text after the generation
prompt, closed by EOS rather than the template's own end-of-turn markup (an approximation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safetymix.errors import ConfigError
from safetymix.judge.loading import batches
from safetymix.schema import Example


def response_losses(
    lm: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    *,
    template: str = "alpaca",
    batch_size: int = 8,
    max_length: int = 1024,
    show_progress: bool = False,
) -> list[float | None]:
    """Mean token NLL of each example's response given its prompt in ``template``.

    Parameters
    ----------
    lm : transformers.PreTrainedModel or peft.PeftModel
        A causal LM on its device.
    tokenizer : PreTrainedTokenizerBase
        Its tokenizer.
    examples : sequence of Example
        Requests with reference responses; an empty response gets ``None``.
    template : {"alpaca", "chat"}
        The training template (default ``"alpaca"``, the paper's).
    batch_size : int
        Sequences per forward pass (default 8); right-padded.
    max_length : int
        Tokens per sequence (default 1024); longer ones lose their end, and an example
        whose response tokens are all cut gets ``None``.
    show_progress : bool
        Progress bar over batches.

    Returns
    -------
    list of float or None
        One per example, in order.

    Raises
    ------
    ConfigError
        For ``batch_size`` or ``max_length`` below 1, or an unknown template.
    """
    import torch

    from safetymix.train.templates import check_template, encode_prompt

    check_template(template, tokenizer)
    if batch_size < 1 or max_length < 1:
        raise ConfigError(f"batch_size and max_length must be >= 1, got {batch_size} and {max_length}")
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    pad = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
    rows: list[tuple[list[int], int] | None] = []
    for ex in examples:
        if not ex.response.strip():
            rows.append(None)
            continue
        prompt_ids = encode_prompt(tokenizer, ex, template)
        response_ids = list(tokenizer(ex.response, add_special_tokens=False)["input_ids"]) + eos
        ids = (prompt_ids + response_ids)[:max_length]
        rows.append((ids, len(prompt_ids)) if len(ids) > len(prompt_ids) else None)
    device = next(lm.parameters()).device
    lm.eval()
    out: list[float | None] = [None] * len(rows)
    chunks = batches([i for i, r in enumerate(rows) if r is not None], batch_size)
    if show_progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="loss")
    for chunk in chunks:
        seqs = [rows[i] for i in chunk]
        width = max(len(s[0]) for s in seqs)  # type: ignore[index]
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for b, (seq, n_prompt) in enumerate(seqs):  # type: ignore[misc]
            ids[b, : len(seq)] = torch.tensor(seq)
            labels[b, n_prompt : len(seq)] = torch.tensor(seq[n_prompt:])
            mask[b, : len(seq)] = 1
        with torch.inference_mode():
            logits = lm(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        # Position t predicts token t + 1.
        target = labels[:, 1:].to(device)
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), target, ignore_index=-100, reduction="none"
        )
        counted = (target != -100).sum(dim=1)
        means = nll.sum(dim=1) / counted.clamp(min=1)
        for b, i in enumerate(chunk):
            out[i] = float(means[b]) if int(counted[b]) else None
    return out
