"""Judges by name: one literal dict and one lookup function."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from pydantic import AfterValidator

from safetymix.errors import ConfigError, check_name
from safetymix.judge.base import Judge
from safetymix.judge.guard import GuardJudge
from safetymix.judge.harmful_response import HarmfulResponseJudge
from safetymix.judge.openai_compat import OpenAIJudge
from safetymix.judge.refusal_classifier import RefusalClassifierJudge
from safetymix.judge.refusal_match import RefusalMatchJudge
from safetymix.judge.reward_model import RewardModelJudge

JUDGES: dict[str, type[Judge]] = {
    "refusal-match": RefusalMatchJudge,
    "refusal-classifier": RefusalClassifierJudge,
    "harmful-response": HarmfulResponseJudge,
    "reward-model": RewardModelJudge,
    "guard": GuardJudge,
    "openai": OpenAIJudge,
}

#: The judge used when none is named: offline, instant, XSTest's method.
DEFAULT_JUDGE = "refusal-match"


def known_judge(name: str) -> str:
    """``name`` when it is a judge; else ConfigError (a ValueError, so pydantic reports it too)."""
    check_name("judge", JUDGES, name)
    return name


#: A config field holding a judge name.
JudgeName = Annotated[str, AfterValidator(known_judge)]


def available_judges() -> list[str]:
    """Every valid judge name."""
    return list(JUDGES)


def judge_params(name: str) -> dict[str, inspect.Parameter]:
    """The constructor parameters of judge ``name`` (for help texts and checks)."""
    cls = JUDGES[name]
    return {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}


def get_judge(name: str = DEFAULT_JUDGE, **params: Any) -> Judge:
    """Build the judge called ``name`` with ``params``.

    Raises
    ------
    ConfigError
        For an unknown name (listing every valid one), an unknown parameter (listing the
        accepted ones), or a missing required parameter such as ``model``.

    Examples
    --------
    >>> get_judge("refusal-match").name
    'refusal-match'
    """
    accepted = judge_params(known_judge(name))
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(f"judge {name!r} does not take {unknown}; it takes {sorted(accepted)}")
    missing = sorted(
        k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in params
    )
    if missing:
        raise ConfigError(f"judge {name!r} needs {missing} (e.g. --param {missing[0]}=...)")
    return JUDGES[name](**params)
