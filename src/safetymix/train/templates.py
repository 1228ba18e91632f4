"""Prompt templates shared by training and generation.

Training and generation must show the model the same prompt, token for token, so both
stages go through this module: :func:`to_prompt_completion` builds the training record that
TRL's ``SFTTrainer`` tokenizes, :func:`encode_prompt` tokenizes a prompt for generation
exactly as the trainer tokenized the prompt part of that record, and :func:`encode_example`
gives the whole training sequence (for held-out loss).

Two templates:

- ``"alpaca"``: the Alpaca-LoRA template (tloen/alpaca-lora ``templates/alpaca.json``) that
  Bianchi et al.'s safety-tuned LLaMAs and the paper fine-tune with; the response follows
  ``"### Response:\\n"`` and ends with the tokenizer's EOS token (added by the trainer).
- ``"chat"``: the tokenizer's own chat template, one user turn (the instruction, then the
  input on a new line) and one assistant turn.
"""

from __future__ import annotations

from typing import Any

from safetymix.errors import ConfigError
from safetymix.schema import Example

#: Alpaca-LoRA's template for a record without input.
ALPACA_PROMPT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
#: Alpaca-LoRA's template for a record with an input.
ALPACA_PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)

#: Template names and what they do (the CLI lists these).
TEMPLATES: dict[str, str] = {
    "alpaca": "the paper's Alpaca prompt (Alpaca-LoRA wording; input variant when the record has one)",
    "chat": "the tokenizer's chat template: one user turn, one assistant turn",
}


def check_template(name: str, tokenizer: Any = None) -> None:
    """Raise :class:`ConfigError` for an unknown template, or ``"chat"`` without a chat template.

    Parameters
    ----------
    name : str
        A key of :data:`TEMPLATES`.
    tokenizer : PreTrainedTokenizerBase, optional
        When given, ``"chat"`` requires ``tokenizer.chat_template`` to be set.
    """
    if name not in TEMPLATES:
        raise ConfigError(f"unknown template {name!r}; valid templates: {', '.join(TEMPLATES)}")
    if name == "chat" and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "template 'chat' needs a tokenizer with a chat template, and this one has none; "
            "use template 'alpaca' (the paper's) or a chat model's tokenizer"
        )


def as_example(prompt: Example | str) -> Example:
    """A bare string is an instruction without input."""
    if isinstance(prompt, Example):
        return prompt
    return Example(id="", instruction=prompt)


def alpaca_prompt(example: Example | str) -> str:
    """The Alpaca prompt text for ``example`` (everything before the response).

    Examples
    --------
    >>> alpaca_prompt("Name a colour.").endswith("### Instruction:\\nName a colour.\\n\\n### Response:\\n")
    True
    """
    ex = as_example(example)
    if ex.input:
        return ALPACA_PROMPT_WITH_INPUT.format(instruction=ex.instruction, input=ex.input)
    return ALPACA_PROMPT.format(instruction=ex.instruction)


def chat_messages(example: Example | str) -> list[dict[str, str]]:
    """The user turn of ``example``: :attr:`Example.prompt` (instruction, newline, input)."""
    return [{"role": "user", "content": as_example(example).prompt}]


def to_prompt_completion(example: Example, template: str) -> dict[str, Any]:
    """One record of a TRL prompt-completion dataset.

    For ``"alpaca"`` both fields are strings; for ``"chat"`` both are message lists, which
    TRL renders with the chat template (the prompt with ``add_generation_prompt=True``).
    TRL appends EOS to a string completion; a chat template supplies its own end-of-turn.
    """
    if template == "alpaca":
        return {"prompt": alpaca_prompt(example), "completion": example.response}
    return {
        "prompt": chat_messages(example),
        "completion": [{"role": "assistant", "content": example.response}],
    }


def encode_prompt(tokenizer: Any, example: Example | str, template: str) -> list[int]:
    """Token ids of the prompt, as the trainer tokenized it; generation continues from here.

    ``"alpaca"``: ``tokenizer(text)`` with the tokenizer's special tokens (BOS for
    Llama-style tokenizers), as TRL tokenizes a string prompt. ``"chat"``:
    ``apply_chat_template(..., add_generation_prompt=True)``, which adds no special tokens
    beyond those in the template.
    """
    if template == "alpaca":
        return list(tokenizer(alpaca_prompt(example))["input_ids"])
    out = tokenizer.apply_chat_template(
        chat_messages(example), tokenize=True, add_generation_prompt=True, return_dict=True
    )
    return list(out["input_ids"])


def encode_example(tokenizer: Any, example: Example, template: str) -> tuple[list[int], int]:
    """Token ids of prompt plus response, as the trainer builds them, and the prompt length.

    Mirrors TRL's prompt-completion preparation: the response gets the EOS token
    (``"alpaca"``) or the chat template's end of turn (``"chat"``), the whole text is
    tokenized at once, and the prompt ends where the prompt alone and the whole sequence stop
    sharing a prefix. Tokens from the prompt length on are the ones the loss counts, so
    held-out loss computed from this matches the training loss.

    Returns
    -------
    ids : list of int
        Not truncated.
    n_prompt : int
        Number of leading prompt tokens (labels -100 in training).
    """
    prompt = encode_prompt(tokenizer, example, template)
    if template == "alpaca":
        response = example.response
        eos = tokenizer.eos_token or ""
        if not response.endswith(eos):
            response += eos
        ids = list(tokenizer(alpaca_prompt(example) + response)["input_ids"])
    else:
        turns = chat_messages(example) + [{"role": "assistant", "content": example.response}]
        ids = list(tokenizer.apply_chat_template(turns, tokenize=True, return_dict=True)["input_ids"])
    n_prompt = 0
    for a, b in zip(prompt, ids, strict=False):
        if a != b:
            break
        n_prompt += 1
    return ids, n_prompt
