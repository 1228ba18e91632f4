"""Output formats: how an :class:`Example` becomes one record of each trainer's format.

Every chat format keeps what the reader kept: the system prompt (``extra["system"]``), the
whole conversation of a multi-turn record (``extra["conversations"]`` or
``extra["messages"]``, as :mod:`safetymix.io.records` stores them), an alpaca ``history``
(``extra["history"]``, LLaMA-Factory's list of earlier ``[prompt, response]`` pairs) and
``tools``. :func:`conversation` puts these together; each encoder writes them in its own
format, or raises :class:`Unrepresentable` when the format cannot hold them (an alpaca
record holds only alternating user/assistant turns; a prompt-completion record needs a
conversation that ends with the assistant). The writer then falls back to the first
exchange and counts the example (:class:`safetymix.io.writers.RecordEncoder`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from safetymix.io.formats import TURN_KEYS
from safetymix.schema import Example

#: How ShareGPT turns name their speakers: LLaMA-Factory's and FastChat's ``human``/``gpt``,
#: or the ``user``/``assistant`` of chat templates (TRL renders any other role verbatim,
#: as ``<|human|>``).
SHAREGPT_ROLE_NAMES: dict[str, dict[str, str]] = {
    "human/gpt": {"system": "system", "user": "human", "assistant": "gpt"},
    "user/assistant": {"system": "system", "user": "user", "assistant": "assistant"},
}


class Unrepresentable(Exception):
    """The format cannot hold this example; ``reason`` says what would be lost."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Conversation:
    """The turns of one example, with speakers named ``system``/``user``/``assistant``.

    Parameters
    ----------
    system : str or None
        The system prompt (a leading system turn, or ``extra["system"]``).
    turns : tuple of (role, content)
        Every turn after the system prompt.
    tools : Any
        ``extra["tools"]`` (LLaMA-Factory's and TRL's tool descriptions), or None.
    from_turns : bool
        The turns come from a stored conversation (not from instruction/input/response).
    """

    system: str | None
    turns: tuple[tuple[str, str], ...]
    tools: Any = None
    from_turns: bool = False

    @property
    def multi_turn(self) -> bool:
        return len(self.turns) > 2


def conversation(ex: Example) -> Conversation:
    """Everything an example says, in order: system prompt, earlier turns, the last exchange."""
    extra = ex.extra
    system = extra.get("system") if isinstance(extra.get("system"), str) and extra["system"] else None
    tools = extra.get("tools")
    for key, (role_key, content_key, roles) in TURN_KEYS.items():
        turns = _stored_turns(extra.get(key), role_key, content_key, roles)
        if turns:
            if turns[0][0] == "system":
                system = system or turns[0][1]
                turns = turns[1:]
            return Conversation(system, tuple(turns), tools, from_turns=True)
    history = _history_pairs(extra.get("history"))
    earlier = [turn for q, a in history for turn in (("user", q), ("assistant", a))]
    return Conversation(system, (*earlier, ("user", ex.prompt), ("assistant", ex.response)), tools)


def first_exchange(ex: Example, conv: Conversation) -> Conversation:
    """What every format can hold: the system prompt and the example's first exchange."""
    return Conversation(conv.system, (("user", ex.prompt), ("assistant", ex.response)), conv.tools)


def _stored_turns(value: Any, role_key: str, content_key: str, roles: dict[str, str]) -> list | None:
    if not isinstance(value, list):
        return None
    out = []
    for turn in value:
        if (
            not isinstance(turn, dict)
            or turn.get(role_key) not in roles
            or not isinstance(turn.get(content_key), str)
        ):
            return None
        out.append((roles[turn[role_key]], turn[content_key]))
    return out


def _history_pairs(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    ok = all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in value
    )
    return [(p[0], p[1]) for p in value] if ok else []


def _pairs(turns: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Alternating user/assistant turns as pairs, or :class:`Unrepresentable`."""
    roles = [role for role, _ in turns]
    if len(turns) % 2 or roles != ["user", "assistant"] * (len(turns) // 2):
        raise Unrepresentable("turns that do not alternate user/assistant")
    return [(turns[i][1], turns[i + 1][1]) for i in range(0, len(turns), 2)]


def _with_tools(rec: dict[str, Any], conv: Conversation) -> dict[str, Any]:
    if conv.tools is not None:
        rec["tools"] = conv.tools
    return rec


# -- encoders: (example, its conversation, sharegpt role names) -> record -------------------------


def to_canonical(ex: Example, conv: Conversation, roles: str) -> dict[str, Any]:
    """The canonical record: :meth:`Example.to_dict` (canonical fields, then ``extra``)."""
    return ex.to_dict()


def to_alpaca(ex: Example, conv: Conversation, roles: str) -> dict[str, Any]:
    """``{"instruction", "input", "output"}``, plus ``system`` and ``history`` when there are any.

    ``history`` holds the earlier ``[prompt, response]`` pairs, as LLaMA-Factory's
    ``AlpacaDatasetConverter`` reads them; the last exchange fills instruction/output.
    """
    if conv.from_turns:
        pairs = _pairs(conv.turns)
        rec: dict[str, Any] = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
        history = [list(p) for p in pairs[:-1]]
    else:
        rec = {"instruction": ex.instruction, "input": ex.input, "output": ex.response}
        history = [list(p) for p in _pairs(conv.turns[:-2])] if len(conv.turns) > 2 else []
    if conv.system is not None:
        rec["system"] = conv.system
    if history:
        rec["history"] = history
    return _with_tools(rec, conv)


def to_sharegpt(ex: Example, conv: Conversation, roles: str) -> dict[str, Any]:
    """``{"conversations": [{"from", "value"}, ...]}``; the system prompt is the first turn.

    The input follows the instruction after a single ``"\\n"`` (:attr:`Example.prompt`), as
    LLaMA-Factory's ``AlpacaDatasetConverter`` joins ``prompt`` and ``query``, so training on
    the alpaca and the sharegpt file of the same examples sees the same text.
    """
    names = SHAREGPT_ROLE_NAMES[roles]
    turns = [("system", conv.system)] if conv.system is not None else []
    turns += conv.turns
    return _with_tools({"conversations": [{"from": names[r], "value": c} for r, c in turns]}, conv)


def to_messages(ex: Example, conv: Conversation, roles: str) -> dict[str, Any]:
    """``{"messages": [{"role", "content"}, ...]}`` (OpenAI chat layout), system message first."""
    return _with_tools({"messages": _messages(conv, conv.turns)}, conv)


def to_prompt_completion(ex: Example, conv: Conversation, roles: str) -> dict[str, Any]:
    """TRL's conversational prompt-completion record: ``{"prompt": [...], "completion": [...]}``.

    The prompt holds the system message and every turn before the last; the completion is
    the last assistant turn (the only tokens TRL trains on by default).
    """
    if conv.turns[-1][0] != "assistant":
        raise Unrepresentable("a conversation that does not end with an assistant turn")
    rec = {"prompt": _messages(conv, conv.turns[:-1]), "completion": _messages(None, conv.turns[-1:])}
    return _with_tools(rec, conv)


def _messages(conv: Conversation | None, turns: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    out = [{"role": "system", "content": conv.system}] if conv is not None and conv.system is not None else []
    return out + [{"role": r, "content": c} for r, c in turns]


@dataclass(frozen=True)
class WriteFormat:
    """An output format: the record encoder, the default container and the LLaMA-Factory entry.

    Parameters
    ----------
    encode : callable
        ``(Example, Conversation, sharegpt_roles) -> dict``; raises :class:`Unrepresentable`.
    array : bool
        Default container: one indented JSON array (``True``) or JSON Lines (``False``). A
        ``.json`` file name always gets an array and a ``.jsonl`` name JSON Lines.
    llamafactory : dict or None
        The ``dataset_info.json`` entry, less ``file_name`` and the optional columns; None
        when LLaMA-Factory cannot read the format.
    """

    encode: Callable[[Example, Conversation, str], dict[str, Any]]
    array: bool
    llamafactory: dict[str, Any] | None


_ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
_SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "system_tag": "system"}
_MESSAGES_TAGS = {"role_tag": "role", "content_tag": "content", "system_tag": "system"}

#: Output formats of :func:`safetymix.io.write_examples`.
WRITE_FORMATS: dict[str, WriteFormat] = {
    "jsonl": WriteFormat(
        to_canonical,
        False,
        {"formatting": "alpaca", "columns": {**_ALPACA_COLUMNS, "response": "response"}},
    ),
    "alpaca": WriteFormat(to_alpaca, True, {"formatting": "alpaca", "columns": _ALPACA_COLUMNS}),
    "alpaca-jsonl": WriteFormat(to_alpaca, False, {"formatting": "alpaca", "columns": _ALPACA_COLUMNS}),
    "sharegpt": WriteFormat(
        to_sharegpt, False, {"formatting": "sharegpt", "columns": {"messages": "conversations"}}
    ),
    "messages": WriteFormat(
        to_messages,
        False,
        {
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {**_MESSAGES_TAGS, "user_tag": "user", "assistant_tag": "assistant"},
        },
    ),
    "prompt-completion": WriteFormat(to_prompt_completion, False, None),
}


def llamafactory_entry(format: str, columns: set[str] | frozenset[str], sharegpt_roles: str) -> dict | None:
    """The ``dataset_info.json`` entry (less ``file_name``) of a file; None if LLaMA-Factory cannot read it.

    ``columns`` names the optional columns present in the file (``system``, ``history``,
    ``tools``); each is mapped so that LLaMA-Factory reads it.
    """
    base = WRITE_FORMATS[format].llamafactory
    if base is None:
        return None
    entry = copy.deepcopy(base)
    if format == "sharegpt":
        names = SHAREGPT_ROLE_NAMES[sharegpt_roles]
        entry["tags"] = {**_SHAREGPT_TAGS, "user_tag": names["user"], "assistant_tag": names["assistant"]}
    turn_based = base["formatting"] == "sharegpt"
    for col in ("system", "history", "tools"):
        if col in columns and not (turn_based and col in ("system", "history")):
            entry["columns"][col] = col
    return entry
