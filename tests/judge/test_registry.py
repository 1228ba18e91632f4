"""Judge registry: one dict, one lookup; unknown names and parameters list the valid ones."""

from __future__ import annotations

import pytest

from safetymix.errors import ConfigError
from safetymix.judge import JUDGES, available_judges, get_judge
from safetymix.judge.base import Judge


def test_registry_names_match_classes():
    names = ["refusal-match", "refusal-classifier", "harmful-response", "reward-model", "guard", "openai"]
    assert available_judges() == names
    for name, cls in JUDGES.items():
        assert issubclass(cls, Judge) and cls.name == name and cls.gives


def test_get_judge_builds_and_validates():
    judge = get_judge("refusal-match", mode="xstest")
    assert judge.mode == "xstest" and judge.describe()["name"] == "refusal-match"
    with pytest.raises(ConfigError, match="unknown judge 'gpt'; valid: refusal-match, refusal-classifier"):
        get_judge("gpt")
    with pytest.raises(ConfigError, match=r"judge 'refusal-match' does not take \['model'\]; it takes"):
        get_judge("refusal-match", model="x")
    with pytest.raises(ConfigError, match=r"judge 'openai' needs \['base_url', 'model'\]"):
        get_judge("openai")
