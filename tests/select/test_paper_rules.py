"""``rules="paper"``: each difference between our quota rules and the paper's sampling/ scripts,
on small pools built so that the two rule sets must disagree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safetymix.errors import ConfigError
from safetymix.schema import make_example
from safetymix.select import Pool, get_strategy
from safetymix.select.config import reference_from_file
from safetymix.select.similarity import alpaca_qa_text

CATS = ("a", "b", "c", "d")


def one_hot(texts: list[str]) -> np.ndarray:
    return np.eye(8, dtype=np.float32)[np.arange(len(texts)) % 8]


def pool_of(cat_lists, *, dim: int = 8, seed: int = 0, reference_order=CATS, encode=one_hot) -> Pool:
    rng = np.random.default_rng(seed)
    examples = [
        make_example(
            f"prompt {i}", f"response {i}", behaviour="T1", categories=list(cats), harmful_response=False
        )
        for i, cats in enumerate(cat_lists)
    ]
    emb = rng.normal(size=(len(examples), dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    reference = {}
    for c in reference_order:
        r = rng.normal(size=(3, dim)).astype(np.float32)
        reference[c] = r / np.linalg.norm(r, axis=1, keepdims=True)
    return Pool(examples, categories=CATS, embeddings=emb, reference=reference, encode=encode)


def quota_counts(selection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in selection.picks:
        if p.slot == "quota":
            counts[p.category] = counts.get(p.category, 0) + 1
    return counts


def test_quota_counts_only_categories_with_members() -> None:
    pool = pool_of([["a"]] * 10 + [["b"]] * 10)  # c and d have no members
    ours = get_strategy("sss", seed=0).select(pool, 8)
    paper = get_strategy("sss", seed=0, rules="paper").select(pool, 8)
    assert (ours.quota, quota_counts(ours), len(ours.picks)) == (2, {"a": 2, "b": 2}, 8)  # 8 // 4
    assert (paper.quota, quota_counts(paper), len(paper.picks)) == (4, {"a": 4, "b": 4}, 8)  # 8 // 2
    assert ours.visit_order == ["c", "d", "a", "b"] and paper.visit_order == ["a", "b"]
    assert ours.shortfalls == {"c": 2, "d": 2} and paper.shortfalls == {}
    assert ours.summary()["rules"] == "ours" and paper.summary()["rules"] == "paper"


def test_ties_keep_first_appearance_order() -> None:
    # every category has 3 members; "d" appears first, then "c" (row 1 lists c before b), "b", "a"
    rows = [["d"], ["c", "b"], ["a"], ["d"], ["d"], ["c"], ["c", "b"], ["b", "a"], ["a"]]
    pool = pool_of(rows)
    assert get_strategy("sss", rules="paper").select(pool, 8).visit_order == ["d", "c", "b", "a"]
    assert get_strategy("sss").select(pool, 8).visit_order == ["a", "b", "c", "d"]


def test_pss_repeats_collapse_into_the_fill() -> None:
    # a and b share the same four members: under the paper's rules b's top 2 are a's top 2
    shared = [["a", "b"]] * 4
    pool = pool_of(shared + [["c"]] * 4 + [["d"]] * 4 + [[]] * 6)
    ours = get_strategy("pss", rules="ours").select(pool, 8)
    paper = get_strategy("pss", rules="paper").select(pool, 8)
    assert quota_counts(ours) == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert paper.visit_order == ["a", "b", "c", "d"]  # equal sizes: first appearance (row 0 lists a, b)
    assert quota_counts(paper) == {"a": 2, "c": 2, "d": 2}  # b's top 2 were a's
    assert sum(p.slot == "fill" for p in paper.picks) == 2 and len(paper.picks) == 8
    assert any("2 quota pick(s) already taken" in n for n in paper.notes)
    assert not any("already taken" in n for n in ours.notes)


def test_cossim_paper_ranks_the_whole_pool_in_reference_order() -> None:
    seen: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    rows = [["a"]] * 6 + [["b"]] * 6 + [[]] * 6  # c and d have no members at all
    pool = pool_of(rows, reference_order=("d", "b", "a", "c"), encode=encode)
    ours = get_strategy("cossim").select(pool, 8)
    paper = get_strategy("cossim", rules="paper").select(pool, 8)
    assert ours.visit_order == ["c", "d", "a", "b"] and paper.visit_order == ["d", "b", "a", "c"]
    assert quota_counts(ours) == {"a": 2, "b": 2}  # c and d cannot fill their quota from members
    assert quota_counts(paper) == {"d": 2, "b": 2, "a": 2, "c": 2}  # any pool row serves any category
    by_id = {e.id: e for e in pool.examples}
    assert any(p.category not in (by_id[p.id].categories or []) for p in paper.picks if p.slot == "quota")
    # the paper embeds prompt + response in the Alpaca template; ours reuses the prompt embeddings
    (texts,) = seen
    assert texts[0] == alpaca_qa_text("prompt 0", "response 0")
    assert "### Instruction:\nprompt 0\n\n### Response:\nresponse 0" in texts[0]


def test_cossim_paper_gives_every_category_a_pick_even_past_k() -> None:
    pool = pool_of([["a"], ["b"], ["c"], ["d"]] * 3)
    paper = get_strategy("cossim", rules="paper").select(pool, 2)
    assert len(paper.picks) == 4 and paper.quota == 1  # max(1, 2 // 4) per category
    assert any("more than k=2" in n for n in paper.notes)
    assert len(get_strategy("cossim").select(pool, 2).picks) == 2


def test_cossim_paper_normalisation_keeps_the_picks() -> None:
    pool = pool_of(
        [["a"], ["b"], ["c"], ["d"], []] * 6,
        encode=lambda t: np.eye(8, dtype=np.float32)[np.arange(len(t)) % 8],
    )
    plain = get_strategy("cossim", rules="paper").select(pool, 8)
    norm = get_strategy("cossim", rules="paper", normalize=True).select(pool, 8)
    assert plain.ids == norm.ids
    assert [p.score for p in plain.picks] != [p.score for p in norm.picks]


def test_unknown_rules_fail() -> None:
    message = "the 'rules' parameter of strategy 'sss' must be one of 'ours', 'paper'; got 'theirs'"
    with pytest.raises(ConfigError, match=message):
        get_strategy("sss", rules="theirs")


def test_reference_file_in_the_papers_form(tmp_path) -> None:
    rows = [
        {"prompt": "q1", "response": "r1", "category": {"b": True, "a": False}},
        {"prompt": "q2", "response": "r2", "category": {"a": True, "b": True}},  # two: not a reference
        {"prompt": "q3", "response": "r3", "category": {"a": True}},
        {"prompt": "q4", "response": "r4", "category": {"b": True}},
    ]
    path = tmp_path / "ref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    texts: dict[str, list[str]] = {}

    def encode(batch: list[str]) -> np.ndarray:
        texts[f"call{len(texts)}"] = batch
        return one_hot(batch)

    ours = reference_from_file(path, ("a", "b"), encode)
    paper = reference_from_file(path, ("a", "b"), encode, paper=True)
    assert list(ours) == ["a", "b"] and list(paper) == ["b", "a"]  # first appearance in the file
    assert texts["call0"] == ["q3"] and texts["call2"] == [
        alpaca_qa_text("q1", "r1"),
        alpaca_qa_text("q4", "r4"),
    ]


def test_prepare_pool_builds_the_papers_reference_sets() -> None:
    from safetymix.demo import demo_file
    from safetymix.embed import DEFAULT_MODEL, Encoder
    from safetymix.label.category import EmbeddingCategoryLabeller
    from safetymix.select import prepare_pool

    ours, _ = prepare_pool(demo_file("pool.jsonl"), strategies=["cossim"])
    paper, _ = prepare_pool(demo_file("pool.jsonl"), strategies=["cossim"], rules="paper")
    texts = EmbeddingCategoryLabeller(taxonomy="beavertails", model=DEFAULT_MODEL).reference_texts()
    assert list(paper.reference) == list(texts) == list(ours.reference)
    category = next(iter(texts))
    # the bundled reference prompts in the Alpaca template with an empty response
    want = Encoder(DEFAULT_MODEL).encode([alpaca_qa_text(t, "") for t in texts[category]])
    np.testing.assert_allclose(paper.reference[category], want, atol=1e-5)
    assert ours.reference[category].shape == want.shape and not np.allclose(ours.reference[category], want)
