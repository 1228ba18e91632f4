"""Labellers by name: one literal dict per kind and one lookup function each.

Behaviour labellers give each pair the flags harmful_request / refusal / harmful_response;
category labellers give it a list of harm categories. Names are what ``--behaviour-labeller``
and ``--category-labeller`` accept.
"""

from __future__ import annotations

from typing import Any

from safetymix.errors import ConfigError
from safetymix.label.behaviour import EmbeddingLabeller, RulesLabeller
from safetymix.label.category import EmbeddingCategoryLabeller
from safetymix.label.guard import GuardLabeller, OpenAIGuardLabeller
from safetymix.label.judge_category import JudgeCategoryLabeller

BEHAVIOUR_LABELLERS: dict[str, type] = {
    "rules": RulesLabeller,
    "embedding": EmbeddingLabeller,
    "guard": GuardLabeller,
    "openai-guard": OpenAIGuardLabeller,
}

CATEGORY_LABELLERS: dict[str, type] = {
    "embedding": EmbeddingCategoryLabeller,
    "judge": JudgeCategoryLabeller,
}

#: Offline defaults used when a pool arrives without labels (see README for their accuracy).
DEFAULT_BEHAVIOUR_LABELLER = "embedding"
DEFAULT_CATEGORY_LABELLER = "embedding"


def _get(kind: str, table: dict[str, type], name: str, params: dict[str, Any]):
    if name not in table:
        raise ConfigError(f"unknown {kind} labeller {name!r}; valid: {', '.join(table)}")
    try:
        return table[name](**params)
    except TypeError as exc:
        raise ConfigError(f"{kind} labeller {name!r}: {exc}") from exc


def get_behaviour_labeller(name: str = DEFAULT_BEHAVIOUR_LABELLER, **params: Any):
    """Build the behaviour labeller called ``name``; unknown names list every valid one."""
    return _get("behaviour", BEHAVIOUR_LABELLERS, name, params)


def get_category_labeller(name: str = DEFAULT_CATEGORY_LABELLER, **params: Any):
    """Build the category labeller called ``name``; unknown names list every valid one."""
    return _get("category", CATEGORY_LABELLERS, name, params)


def available_labellers() -> dict[str, list[str]]:
    return {"behaviour": list(BEHAVIOUR_LABELLERS), "category": list(CATEGORY_LABELLERS)}
