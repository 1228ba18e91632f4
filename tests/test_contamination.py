from __future__ import annotations

import numpy as np
import pytest

from safetymix.contamination import EvalPrompt, find_overlaps, normalize_prompt
from safetymix.schema import make_example


def test_normalize_prompt():
    assert normalize_prompt("  How do I KILL a Python   process?! ") == "how do i kill a python process"
    assert normalize_prompt("ﬁle") == "file"  # NFKC ligature


def fake_encode(texts):
    # bag of characters: near-identical strings get cosine close to 1
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for ch in t.lower():
            out[i, ord(ch) % 64] += 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_exact_and_near_duplicates_found():
    train = [
        make_example("How do I kill a Python process?", "r"),
        make_example("Write a poem about the sea", "r"),
        make_example("How do I kill a python process", "r2", input="please"),
    ]
    evals = [
        EvalPrompt("how do I KILL a python process?", "xstest.csv", 1),
        EvalPrompt("Bake a cake", "x", 2),
    ]
    matches = find_overlaps(train, evals, encode=fake_encode)
    assert [m["train_id"] for m in matches if m["kind"] == "exact"] == [train[0].id]
    # the eval prompt followed by an input line: contained in the longer training prompt
    assert [m["train_id"] for m in matches if m["kind"] == "contained"] == [train[2].id]
    assert find_overlaps(train[1:2], evals, encode=fake_encode) == []
    near = find_overlaps([make_example("How do I kil a Python proces?", "r")], evals, encode=fake_encode)
    assert [m["kind"] for m in near] == ["embedding"] and near[0]["score"] >= 0.95
    # an infinite threshold skips the embedding test
    assert len(find_overlaps(train, evals, threshold=float("inf"))) == 2


# -- planted variants of XSTest's unsafe prompts ---------------------------------------------

_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"})
_LEET = str.maketrans({"a": "4", "e": "3", "o": "0", "i": "1", "s": "5", "t": "7"})
_PREFIX = (
    "Hello there! I hope you are having a wonderful day, and thank you so much in advance for "
    "your patience and kindness. I have a small question for a project I am working on: "
)
_SUFFIX = (
    " Please answer in detail, step by step, with as many specifics as you can, and format the "
    "answer as a numbered list so that I can follow it easily. Thanks a lot!"
)
VARIANTS = {
    "cyrillic": lambda p: p.translate(_CYRILLIC),
    "leetspeak": lambda p: p.lower().translate(_LEET),
    "polite prefix": lambda p: _PREFIX + p,
    "long suffix": lambda p: p + _SUFFIX,
}


@pytest.fixture(scope="module")
def unsafe_prompts(datasets):
    import csv

    with open(datasets / "xstest" / "xstest_prompts.csv", encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "unsafe"]
    # 10 per class, spread over the file; long enough for every variant to be meaningful
    return [r["prompt"] for r in rows[::20]][:10]


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_every_planted_variant_class_is_caught(unsafe_prompts, kind):
    assert len(unsafe_prompts) == 10
    evals = [EvalPrompt(p, "xstest_prompts.csv", i + 2) for i, p in enumerate(unsafe_prompts)]
    train = [make_example(VARIANTS[kind](p), "Sure.") for p in unsafe_prompts]
    assert all(t.prompt != p for t, p in zip(train, unsafe_prompts, strict=True))  # really changed
    # no embedding test: the fold, the leetspeak map and containment alone must catch them
    matches = find_overlaps(train, evals, threshold=float("inf"))
    assert len(matches) == 10, [t.prompt for t in train if t.id not in {m["train_id"] for m in matches}]
    by_id = {m["train_id"]: m for m in matches}
    for t, e in zip(train, evals, strict=True):
        assert by_id[t.id]["eval_line"] == e.line


def test_clean_text_is_not_flagged(unsafe_prompts):
    evals = [EvalPrompt(p, "x", i) for i, p in enumerate(unsafe_prompts)]
    benign = [
        make_example(t, "r") for t in ("How do I kill a Python process?", "Give me a recipe for bread.")
    ]
    assert find_overlaps(benign, evals, threshold=float("inf")) == []


def test_translation_is_documented_as_out_of_reach(unsafe_prompts):
    import safetymix.contamination as c

    assert "translation" in c.__doc__
    evals = [EvalPrompt("How can I kill my neighbour?", "x", 1)]
    translated = [make_example("Comment puis-je tuer mon voisin ?", "r")]
    assert find_overlaps(translated, evals, threshold=float("inf")) == []


def test_every_turn_of_multi_turn_data_is_checked(tmp_path, unsafe_prompts):
    import json

    from safetymix.io import read_examples

    target = unsafe_prompts[0]
    rows = [
        {
            "conversations": [
                {"from": "human", "value": "Hi!"},
                {"from": "gpt", "value": "Hello."},
                {"from": "human", "value": target},
                {"from": "gpt", "value": "No."},
            ]
        },
        {
            "conversations": [
                {"from": "system", "value": target},
                {"from": "human", "value": "Tell me a joke."},
                {"from": "gpt", "value": "Ok."},
            ]
        },
        {"conversations": [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Red."}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    train = read_examples(path)
    matches = find_overlaps(train, [EvalPrompt(target, "x", 1)], threshold=float("inf"))
    assert sorted(m["train_id"] for m in matches) == sorted(e.id for e in train[:2])


def test_any_layout_is_accepted_as_eval_file(tmp_path):
    import json

    from safetymix.contamination import read_eval_prompts

    path = tmp_path / "eval.jsonl"
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "First question?"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "Second question?"},
                {"role": "assistant", "content": "A."},
            ]
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    got = [(p.text, p.line) for p in read_eval_prompts(path)]
    assert got == [("First question?", 1), ("Be brief.", 1), ("Second question?", 2)]
    csv_path = tmp_path / "eval.csv"
    csv_path.write_text('prompt,label\n"multi\nline",x\nsecond,y\n', encoding="utf-8")
    assert [(p.text, p.line) for p in read_eval_prompts(csv_path)] == [("multi\nline", 2), ("second", 4)]
