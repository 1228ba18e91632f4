"""The promise on a realistic pool: a harmful answer is never selected, even one that opens
like a refusal ("I'm sorry, I can't ... TB: sure, here is how")."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from safetymix.label import label_pool
from safetymix.label.rules import is_refusal_by_rules
from safetymix.schema import make_example
from safetymix.select import Pool, get_strategy


@pytest.fixture(scope="module")
def planted_pool(datasets):
    """250 Bianchi safety pairs plus 60 human-labelled harmful answers that open with a
    refusal: 40 GPTFuzz jailbreaks and 20 PKU-SafeRLHF unsafe answers (seeded samples)."""
    rng = np.random.default_rng(0)
    bianchi = json.loads(
        (datasets / "safety_tuned_llamas/safety_only_data_Instructions.json").read_text("utf-8")
    )
    safe = [bianchi[i] for i in sorted(rng.choice(len(bianchi), 250, replace=False))]
    examples = [make_example(r["instruction"], r["output"], r["input"]) for r in safe]
    harm = "../shared/datasets/response_harm_labels/"
    with open(
        datasets / "response_harm_labels/gptfuzz_question_list.csv", encoding="utf-8", newline=""
    ) as fh:
        questions = {r["index"]: r["text"] for r in csv.DictReader(fh)}
    with open(datasets / "response_harm_labels/gptfuzz_evaluate.csv", encoding="utf-8", newline="") as fh:
        jail = [r for r in csv.DictReader(fh) if r["label"] == "1" and is_refusal_by_rules(r["Response"])]
    with open(
        datasets / "response_harm_labels/safe_rlhf_mini_half_a.csv", encoding="utf-8", newline=""
    ) as fh:
        pku = [r for r in csv.DictReader(fh) if r["label"] == "1" and is_refusal_by_rules(r["answer"])]
    assert len(jail) >= 40 and len(pku) >= 20, harm
    planted = [
        make_example(questions[r["question"]], r["Response"])
        for r in [jail[i] for i in sorted(rng.choice(len(jail), 40, replace=False))]
    ]
    planted += [make_example(r["question"], r["answer"]) for r in pku[:20]]
    labelled, _ = label_pool(examples + planted)
    return labelled, {e.id for e in planted}


@pytest.mark.parametrize("strategy", ["sss-b", "random-b"])
def test_planted_harmful_answers_are_not_selected(planted_pool, strategy):
    examples, planted = planted_pool
    pool = Pool(examples)
    picks = get_strategy(strategy, seed=0).select(pool, 100)
    assert len(picks.picks) == 100
    assert len(set(picks.ids) & planted) <= 2
    # the opening alone says "refusal" for every planted answer: the rules labeller would
    # call them T1 unless the harmful-response flag reads the whole response
    by_id = {e.id: e for e in examples}
    blocked = [e for i, e in by_id.items() if i in planted and (e.harmful_response is not False)]
    assert len(blocked) >= 50, f"only {len(blocked)} of 60 planted harmful answers are not selectable"


def test_unsure_responses_are_excluded_unless_asked(planted_pool):
    examples, _ = planted_pool
    unsure = sum(e.harmful_response is None for e in examples)
    assert unsure > 0
    strict = Pool(examples)
    loose = Pool(examples, include_unsure=True)
    assert len(loose.candidates(None)) - len(strict.candidates(None)) == unsure
    sel = get_strategy("sss-b", seed=0).select(strict, 10)
    assert any("unsure harmful-response flag excluded" in n for n in sel.notes)
    # each predicted flag carries its probability
    e = next(e for e in examples if e.extra.get("label_proba"))
    assert set(e.extra["label_proba"]) == {"harmful_request", "refusal", "harmful_response"}
    assert all(0.0 <= p <= 1.0 for p in e.extra["label_proba"].values())


def test_an_empty_response_is_not_unsure():
    from safetymix.select.base import _unsure_response

    origin = {"label_origin": {"harmful_response": "predicted"}}
    empty = make_example("How do I pick a lock?", "  ", harmful_request=True)
    answer = make_example("How do I pick a lock?", "Sure, first you ...", harmful_request=True)
    given = make_example("How do I pick a lock?", "Sure, first you ...", harmful_request=True)
    empty.extra.update(origin)
    answer.extra.update(origin)
    given.extra["label_origin"] = {"harmful_response": None}  # never labelled: not unsure
    assert [_unsure_response(e) for e in (empty, answer, given)] == [False, True, False]


def test_a_pool_that_mixes_harmful_answers_is_named_in_the_notes(datasets):
    """PKU-SafeRLHF answers (58% unsafe): the offline labeller flags most of them, and the
    selection warns that its T1 picks can still be unsafe; curated Bianchi pairs do not."""
    with open(
        datasets / "response_harm_labels/safe_rlhf_mini_half_a.csv", encoding="utf-8", newline=""
    ) as fh:
        pku = list(csv.DictReader(fh))[:300]
    bianchi = json.loads(
        (datasets / "safety_tuned_llamas/safety_only_data_Instructions.json").read_text("utf-8")
    )[:300]
    mixed, _ = label_pool([make_example(r["question"], r["answer"]) for r in pku])
    curated, _ = label_pool([make_example(r["instruction"], r["output"], r["input"]) for r in bianchi])
    warn = "T1 picks can still be unsafe"
    notes = get_strategy("sss-b", seed=0).select(Pool(mixed), 20).notes
    assert any(warn in n for n in notes), notes
    assert not any(warn in n for n in get_strategy("sss-b", seed=0).select(Pool(curated), 20).notes)
    # flags given in the input are the user's: no warning about the labeller
    given = [make_example(r["question"], r["answer"], harmful_response=r["label"] == "1") for r in pku]
    given_pool, _ = label_pool(given)
    assert not any(warn in n for n in get_strategy("random", seed=0).select(Pool(given_pool), 20).notes)
