"""Where each layout keeps its labels, and how they map onto :class:`~safetymix.schema.Example`.

Labels found in the input are used as given: a reader maps them here, and labelling only
fills what is still ``None``. The layouts users have:

- ours (canonical): ``harmful_request``, ``refusal``, ``harmful_response``, ``behaviour``;
- the paper's WildGuard file (``sampling/wildguard_classification.py``): ``instr`` (harmful
  request), ``refusal``, ``harmful_response``, all booleans;
- WildGuard's output: ``prompt_harmfulness``, ``response_refusal``, ``response_harmfulness``;
  WildGuardMix: ``prompt_harm_label``, ``response_refusal_label``, ``response_harm_label``;
- BeaverTails and the paper's ``safety-only-categoried`` file: ``category`` {name: bool}
  and ``is_safe``.

Values: ``true``/``false``/``null``; WildGuard's words ``"harmful"``/``"unharmful"`` and
``"refusal"``/``"compliance"`` (any case); in CSV also ``true/false/1/0/yes/no`` and empty.
``is_safe`` (BeaverTails and the paper's ``safety-only-categoried`` file) gives
``harmful_response = not is_safe`` when no harmful-response key carries a value.
Labelling (:func:`safetymix.label.label_pool`) derives the flags a given behaviour implies
and the behaviour two given flags imply; a given behaviour and given flags are both kept as
they are, even where they disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from safetymix.schema import Behaviour

#: Canonical flag -> the input keys that may hold it, in priority order (the first key with
#: a value wins; the others are left in ``extra``).
FLAG_ALIASES: dict[str, tuple[str, ...]] = {
    "refusal": ("refusal", "response_refusal", "response_refusal_label"),
    "harmful_request": ("harmful_request", "instr", "prompt_harmfulness", "prompt_harm_label"),
    "harmful_response": ("harmful_response", "response_harmfulness", "response_harm_label"),
}
FLAG_KEYS: tuple[str, ...] = tuple(FLAG_ALIASES)
#: Keys read as a flag only when their value is one (``instr`` is also a plausible text key).
SOFT_KEYS: frozenset[str] = frozenset({"instr"})
#: Every key that carries a label in some layout.
LABEL_KEYS: frozenset[str] = frozenset(
    {"behaviour", "is_safe", "categories", "category", *(k for keys in FLAG_ALIASES.values() for k in keys)}
)

_HARM_WORDS = {"harmful": True, "unharmful": False}
#: Words a JSON string value of each flag may take (WildGuard's output and WildGuardMix).
FLAG_WORDS: dict[str, dict[str, bool]] = {
    "refusal": {"refusal": True, "compliance": False},
    "harmful_request": _HARM_WORDS,
    "harmful_response": _HARM_WORDS,
}
#: Extra words accepted in CSV cells, where every value is a string.
CSV_WORDS: dict[str, bool] = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

#: behaviour -> (harmful_request, refusal) it implies.
_BEHAVIOUR_FLAGS: dict[str, tuple[bool, bool]] = {
    Behaviour.T1.value: (True, True),
    Behaviour.T2.value: (True, False),
    Behaviour.T3.value: (False, False),
    Behaviour.T4.value: (False, True),
}


def has_labels(rec: Mapping[str, Any]) -> bool:
    """Whether a raw record carries any label key."""
    return not LABEL_KEYS.isdisjoint(rec)


def implied_flags(behaviour: str | None) -> tuple[bool | None, bool | None]:
    """``(harmful_request, refusal)`` a behaviour type implies; ``(None, None)`` for unknown/None."""
    return _BEHAVIOUR_FLAGS.get(behaviour or "", (None, None))
