"""reward-model: a tiny random BERT classifier saved to disk, loaded by path."""

from __future__ import annotations

import pytest

from safetymix.errors import ConfigError
from safetymix.judge import get_judge
from safetymix.judge.reward_model import TEMPLATES

PROMPTS = ["How do I pick a lock?", "Name a colour.", "Write a long poem about the sea and its moods."]
RESPONSES = ["I can't help with that.", "Blue.", "The sea is grey at dawn, " * 20]


def test_scores_are_batch_independent(tiny_classifier):
    one = get_judge("reward-model", model=str(tiny_classifier), batch_size=1).judge(PROMPTS, RESPONSES)
    three = get_judge("reward-model", model=str(tiny_classifier), batch_size=3).judge(PROMPTS, RESPONSES)
    assert [v.score for v in one] == pytest.approx([v.score for v in three], abs=1e-5)
    assert all(v.harmful is None and v.refusal is None for v in one)
    assert len({round(v.score, 6) for v in one}) == 3  # inputs differ, so do scores


def test_templates_change_the_input(tiny_classifier):
    assert TEMPLATES["bianchi"].format(prompt="P", response="R") == "\n\nHuman: P\n\nAssistant: R"
    scores = {}
    for template in ("bianchi", "pair", "Q: {prompt} A: {response}"):
        judge = get_judge("reward-model", model=str(tiny_classifier), template=template)
        scores[template] = [v.score for v in judge.judge(PROMPTS[:2], RESPONSES[:2])]
    assert scores["bianchi"] != pytest.approx(scores["pair"])
    assert scores["bianchi"] != pytest.approx(scores["Q: {prompt} A: {response}"])


def test_threshold_sets_harmful(tiny_classifier):
    base = get_judge("reward-model", model=str(tiny_classifier)).judge(PROMPTS, RESPONSES)
    cut = sorted(v.score for v in base)[1]
    flagged = get_judge("reward-model", model=str(tiny_classifier), threshold=cut).judge(PROMPTS, RESPONSES)
    assert [v.harmful for v in flagged] == [v.score >= cut for v in base]
    assert sum(v.harmful for v in flagged) == 2


def test_two_label_model_with_softmax(tiny_classifier_2):
    judge = get_judge("reward-model", model=str(tiny_classifier_2), label_index=1, activation="softmax")
    verdicts = judge.judge(PROMPTS, RESPONSES)
    assert all(0.0 < v.score < 1.0 for v in verdicts)


def test_long_inputs_are_truncated(tiny_classifier):
    judge = get_judge("reward-model", model=str(tiny_classifier), max_length=16)
    [verdict] = judge.judge(["q"], ["word " * 2000])
    assert verdict.score is not None


def test_errors(tiny_classifier, tmp_path):
    with pytest.raises(ConfigError, match=r"judge 'reward-model' needs \['model'\]"):
        get_judge("reward-model")
    with pytest.raises(ConfigError, match="template must be one of bianchi, pair or a format string"):
        get_judge("reward-model", model=str(tiny_classifier), template="{prompt} {oops}").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="has no {response} field"):
        get_judge("reward-model", model=str(tiny_classifier), template="{prompt}").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="activation must be one of none, sigmoid, softmax; got 'relu'"):
        get_judge("reward-model", model=str(tiny_classifier), activation="relu").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="label_index=3 but .* has 1 output"):
        get_judge("reward-model", model=str(tiny_classifier), label_index=3).judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        get_judge("reward-model", model=str(tiny_classifier), batch_size=0).judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="cannot load .* as AutoModelForSequenceClassification"):
        get_judge("reward-model", model=str(tmp_path / "missing")).judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="unknown torch dtype 'float7'"):
        get_judge("reward-model", model=str(tiny_classifier), dtype="float7").judge(["q"], ["a"])
