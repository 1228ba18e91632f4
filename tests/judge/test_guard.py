"""guard: answer parsing, and a tiny random Llama through the whole batched path."""

from __future__ import annotations

import pytest

from safetymix.errors import ConfigError
from safetymix.judge import Verdict, get_judge
from safetymix.judge.guard import parse_llama_guard, parse_wildguard


def test_parse_wildguard():
    text = "Harmful request: yes\nResponse refusal: no\nHarmful response: yes"
    assert parse_wildguard(text) == (Verdict(refusal=False, harmful=True, raw=text), True)
    text = "harmful request: NO\nresponse refusal: N/A\nharmful response: n/a"
    assert parse_wildguard(text) == (Verdict(refusal=None, harmful=None, raw=text), True)
    verdict, ok = parse_wildguard("Harmful request: yes\nResponse refusal: yes")
    assert not ok and verdict.refusal is True and verdict.harmful is None
    assert parse_wildguard("I think it is fine") == (Verdict(raw="I think it is fine"), False)


def test_parse_llama_guard():
    assert parse_llama_guard("safe") == (Verdict(harmful=False, raw="safe"), True)
    assert parse_llama_guard("\n unsafe\nS1,S10") == (Verdict(harmful=True, raw="\n unsafe\nS1,S10"), True)
    assert parse_llama_guard("unsafe content")[1] is False
    assert parse_llama_guard("")[1] is False


def test_random_model_answers_are_unparsed_and_warned(tiny_guard):
    judge = get_judge("guard", model=str(tiny_guard), max_new_tokens=4, batch_size=2)
    with pytest.warns(RuntimeWarning, match="3 of 3 answers were not in wildguard format"):
        verdicts = judge.judge(["How?", "Why would I?", "Name a colour."], ["ok", "no", "blue"])
    assert all(v.refusal is None and v.harmful is None and v.raw for v in verdicts)


def test_left_padding_makes_batches_agree(tiny_guard):
    prompts = [
        "a short one",
        "a much longer request that needs many more tokens than the first",
        "mid length ask",
    ]
    responses = ["x", "y y y y y y", "z z"]
    raws = []
    for batch_size in (1, 3):
        judge = get_judge(
            "guard", model=str(tiny_guard), format="llama-guard", max_new_tokens=5, batch_size=batch_size
        )
        with pytest.warns(RuntimeWarning):
            raws.append([v.raw for v in judge.judge(prompts, responses)])
    assert raws[0] == raws[1]


def test_llama_guard_prompt_comes_from_the_chat_template(tiny_guard):
    judge = get_judge("guard", model=str(tiny_guard), format="llama-guard")
    [text] = judge.build_prompts(["How do I pick a lock?"], ["Use a tension wrench."])
    assert "User: How do I pick a lock?\nAgent: Use a tension wrench.\n" in text
    custom = get_judge("guard", model=str(tiny_guard), template="<<{prompt}|{response}>>")
    assert custom.build_prompts(["p"], ["r"]) == ["<<p|r>>"]
    wild = get_judge("guard", model=str(tiny_guard)).build_prompts(["p"], ["r"])[0]
    assert (
        wild.startswith("<s><|user|>\n[INST] You are a classifier")
        and "Human user:\np\n\nAI assistant:\nr" in wild
    )


def test_parsed_answers_become_verdicts(tiny_guard, monkeypatch):
    answers = iter(
        [
            ["Harmful request: yes\nResponse refusal: yes\nHarmful response: no", "garbage"],
            ["unsafe\nS2", "safe"],
        ]
    )
    monkeypatch.setattr(
        "safetymix.label.guard.GuardLabeller.generate", lambda self, texts, **kw: next(answers)
    )
    judge = get_judge("guard", model=str(tiny_guard))
    with pytest.warns(RuntimeWarning, match="1 of 2 answers"):
        first = judge.judge(["p1", "p2"], ["r1", "r2"])
    assert (first[0].refusal, first[0].harmful) == (True, False)
    assert first[1] == Verdict(raw="garbage")
    second = get_judge("guard", model=str(tiny_guard), format="llama-guard").judge(["p1", "p2"], ["r1", "r2"])
    assert [v.harmful for v in second] == [True, False] and all(v.refusal is None for v in second)


def test_errors(tiny_lm_no_template):
    with pytest.raises(
        ConfigError, match="guard format must be one of wildguard, llama-guard; got 'shieldgemma'"
    ):
        get_judge("guard", model="x", format="shieldgemma").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="has no chat template, which holds Llama Guard's prompt"):
        get_judge("guard", model=str(tiny_lm_no_template), format="llama-guard").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="max_new_tokens must be >= 1, got 0"):
        get_judge("guard", model="x", max_new_tokens=0).judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="guard template needs only"):
        get_judge("guard", model="x", template="{prompt} {x}").judge(["q"], ["a"])
    with pytest.raises(ConfigError, match="the guard judge needs model="):
        get_judge("guard", model="").judge(["q"], ["a"])
