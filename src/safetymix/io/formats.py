"""Record layouts: how one record of each supported format maps to :class:`~safetymix.schema.Example`.

This module knows nothing about files. :mod:`safetymix.io.readers` finds the records in a
file (with their line numbers), picks a :class:`Layout` with :func:`detect_layout` and hands
each record to :class:`safetymix.io.records.RecordParser`. Writing the other way is
:mod:`safetymix.io.encoders`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from safetymix.schema import CANONICAL_FIELDS

#: Names accepted by ``read_examples(format=...)``. Container names pick how the file is
#: parsed and detect the record layout from its keys; layout names fix the layout and take
#: the container from the file extension (or a directory: a ``datasets.save_to_disk`` folder).
READ_FORMATS: dict[str, str] = {
    "alpaca": "records with instruction, optional input, and output (or response); JSON or JSONL",
    "beavertails": "records with prompt, response, category {name: bool}, is_safe",
    "sharegpt": 'records with conversations [{"from": "human"|"gpt"|"system", "value": ...}]',
    "messages": 'records with messages [{"role": "user"|"assistant"|"system", "content": ...}]',
    "csv": "comma-separated (.tsv: tab-separated) table with a header row; layout from the columns",
    "parquet": "Apache Parquet table; layout from the columns",
    "hf": "a datasets.save_to_disk folder, or an owner/name data set on the Hugging Face Hub",
    "canonical": "safetymix's own JSONL: id, instruction, input, response, labels, source",
    "prompts": "evaluation prompt sets: responses are ignored and may be absent",
}

#: Formats that fix the record layout (the others are containers).
LAYOUT_FORMATS: tuple[str, ...] = ("alpaca", "beavertails", "sharegpt", "messages", "canonical", "prompts")

#: Keys that may hold the instruction / response / input of a flat record, in priority order.
INSTRUCTION_KEYS: tuple[str, ...] = ("instruction", "prompt", "Behavior", "question", "goal")
RESPONSE_KEYS: tuple[str, ...] = ("output", "response", "completion", "Safe_Response", "chosen")
# Dolly calls the input "context"; HarmBench's contextual behaviours carry "ContextString".
INPUT_KEYS: tuple[str, ...] = ("input", "context", "ContextString")


#: Conversation roles per turn-based layout: role value -> "system" | "user" | "assistant".
SHAREGPT_ROLES: dict[str, str] = {"system": "system", "human": "user", "user": "user"}
SHAREGPT_ROLES.update({"gpt": "assistant", "assistant": "assistant"})
MESSAGES_ROLES: dict[str, str] = {"system": "system", "user": "user", "assistant": "assistant"}
#: Keys that hold a whole conversation: key -> (role key, content key, roles).
TURN_KEYS: dict[str, tuple[str, str, dict[str, str]]] = {
    "conversations": ("from", "value", SHAREGPT_ROLES),
    "messages": ("role", "content", MESSAGES_ROLES),
}

_EXPECTED_LAYOUTS = (
    "alpaca (instruction + output or response), "
    "beavertails (prompt + response, optional category/is_safe), "
    "sharegpt (conversations), messages (messages), "
    "canonical (id, instruction, input, response, behaviour, ...), "
    "prompts (one of instruction/prompt/Behavior/question/goal, no response needed)"
)


@dataclass(frozen=True)
class Layout:
    """Where the texts of one record live.

    Parameters
    ----------
    name : str
        Layout name, for messages.
    instruction, response, input : str or None
        Keys of a flat record; ``response=None`` means the records carry no response.
    turns : str or None
        ``"conversations"`` (ShareGPT) or ``"messages"`` (OpenAI) for turn-based layouts.
    prompts_only : bool
        The file is a bare prompt list (.txt, headerless CSV, parallel-list JSON).
    """

    name: str
    instruction: str | None = None
    response: str | None = None
    input: str | None = None
    turns: str | None = None
    prompts_only: bool = False


#: Layout of the synthetic ``{"instruction": ..., "input": ...}`` records that the readers
#: build from bare prompt lists.
PROMPT_LIST_LAYOUT = Layout("prompt list", instruction="instruction", input="input", prompts_only=True)


def _first(candidates: tuple[str, ...], keys: Collection[str]) -> str | None:
    return next((k for k in candidates if k in keys), None)


def detect_layout(keys: Collection[str], format: str | None = None) -> Layout | None:
    """Pick the layout of a record from its keys; ``None`` when nothing fits.

    Parameters
    ----------
    keys : collection of str
        Keys (columns) of the first record.
    format : str, optional
        A layout name from :data:`LAYOUT_FORMATS` that restricts the choice; ``None`` or a
        container name detects freely.

    Returns
    -------
    Layout or None
    """
    fmt = format if format in LAYOUT_FORMATS else None
    if fmt in (None, "sharegpt") and "conversations" in keys:
        return Layout("sharegpt", turns="conversations")
    if fmt in (None, "messages") and "messages" in keys:
        return Layout("messages", turns="messages")
    if fmt in ("sharegpt", "messages"):
        return None
    # Canonical files are read by exact key: an ``extra`` key such as "output" must not win.
    if fmt == "canonical" or (fmt in (None, "prompts") and all(k in keys for k in CANONICAL_FIELDS)):
        if "instruction" not in keys:
            return None
        return Layout("canonical", "instruction", "response" if "response" in keys else None, "input")
    instruction_keys, response_keys = INSTRUCTION_KEYS, RESPONSE_KEYS
    if fmt == "alpaca":
        instruction_keys, response_keys = ("instruction",), ("output", "response")
    elif fmt == "beavertails":
        instruction_keys, response_keys = ("prompt",), ("response",)
    instruction = _first(instruction_keys, keys)
    if instruction is None:
        return None
    name = fmt or {"instruction": "alpaca", "prompt": "beavertails"}.get(instruction, "table")
    return Layout(name, instruction, _first(response_keys, keys), _first(INPUT_KEYS, keys))


def layout_error(keys: Collection[str], format: str | None) -> str:
    """Message for a record whose keys fit no layout: the keys found and those expected."""
    found = ", ".join(repr(k) for k in keys) or "none"
    if format in LAYOUT_FORMATS:
        expected = f"format {format!r}: {READ_FORMATS[format]}"
    else:
        expected = f"one of: {_EXPECTED_LAYOUTS}"
    hint = ""
    if len(keys) == 1:
        hint = " (a one-column file without a header is a prompt list: use read_prompts())"
    return f"unrecognised record layout; found keys [{found}], expected {expected}{hint}"
