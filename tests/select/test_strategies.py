"""Strategies on planted pools: quotas, coverage, determinism, behaviour filter."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safetymix.errors import ConfigError
from safetymix.schema import BEAVERTAILS_CATEGORIES, make_example
from safetymix.select import Pool, available_strategies, get_strategy, picked_examples, select
from safetymix.select.similarity import mean_pairwise_cosine

CATS = ("a", "b", "c", "d")


def planted_pool(n: int = 400, seed: int = 0, categories=BEAVERTAILS_CATEGORIES, dim: int = 16) -> Pool:
    """Pool whose embeddings cluster by first category; behaviour mix 70% T1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(categories), dim))
    examples, vecs = [], []
    for i in range(n):
        cats = list(rng.choice(categories, size=int(rng.integers(1, 3)), replace=False))
        beh = str(rng.choice(["T1", "T2", "T3", "T4"], p=[0.7, 0.1, 0.1, 0.1]))
        examples.append(
            make_example(
                f"prompt {i}", f"response {i}", behaviour=beh, categories=cats, harmful_response=False
            )
        )
        vecs.append(centres[categories.index(cats[0])] + 0.3 * rng.normal(size=dim))
    emb = np.asarray(vecs, dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    reference = {}
    for j, c in enumerate(categories):
        r = centres[j] + 0.3 * rng.normal(size=(5, dim))
        reference[c] = (r / np.linalg.norm(r, axis=1, keepdims=True)).astype(np.float32)
    return Pool(
        examples, categories=categories, embeddings=emb, reference=reference, train_embeddings=emb[:40]
    )


@pytest.fixture(scope="module")
def pool() -> Pool:
    return planted_pool()


@pytest.mark.parametrize("name", available_strategies())
def test_every_strategy_is_deterministic_and_distinct(pool, name):
    a = select(pool, name, 50, seed=3)
    b = select(pool, name, 50, seed=3)
    assert a.ids == b.ids
    assert len(a.ids) == 50 == len(set(a.ids))
    assert [p.rank for p in a.picks] == list(range(50))


@pytest.mark.parametrize("name", [n for n in available_strategies() if n.endswith("-b")])
def test_b_strategies_keep_only_t1(pool, name):
    by_id = {e.id: e for e in pool.examples}
    sel = select(pool, name, 60, seed=0)
    assert {by_id[i].behaviour for i in sel.ids} == {"T1"}


def test_random_non_b_takes_other_types(pool):
    by_id = {e.id: e for e in pool.examples}
    kinds = Counter(by_id[i].behaviour for i in select(pool, "random", 200, seed=0).ids)
    assert set(kinds) == {"T1", "T2", "T3", "T4"}


def test_behaviours_option_changes_the_filter(pool):
    by_id = {e.id: e for e in pool.examples}
    sel = get_strategy("sss-b", seed=0, behaviours=["T2", "T3"]).select(pool, 40)
    assert {by_id[i].behaviour for i in sel.ids} <= {"T2", "T3"}
    with pytest.raises(ConfigError, match="the 'behaviours' parameter of strategy 'sss-b' must be"):
        get_strategy("sss-b", behaviours=["T9"]).select(pool, 5)


@pytest.mark.parametrize("name", ["sss-b", "pss-b", "cossim-b", "k-center-b", "facility-location-b"])
def test_quota_covers_every_category(pool, name):
    sel = select(pool, name, 56, seed=0)  # q = 56 // 14 = 4
    assert sel.quota == 4
    quota = Counter(p.category for p in sel.picks if p.slot == "quota")
    assert quota == Counter({c: 4 for c in BEAVERTAILS_CATEGORIES})


def test_seeds_differ(pool):
    assert select(pool, "sss-b", 30, seed=0).ids != select(pool, "sss-b", 30, seed=1).ids


def test_pss_picks_nearest_the_prototype(pool):
    sel = select(pool, "pss-b", 14, seed=0)  # one per category
    emb = pool.embeddings
    eligible = set(pool.candidates(("T1",)).tolist())
    row = {e.id: i for i, e in enumerate(pool.examples)}
    first = sel.picks[0]
    members = [r for r in pool.members[first.category] if r in eligible]
    proto = emb[members].mean(0)
    proto /= np.linalg.norm(proto)
    assert row[first.id] == members[int(np.argmax(emb[members] @ proto))]
    assert first.score == pytest.approx(float(np.max(emb[members] @ proto)), abs=1e-5)


def test_cossim_score_is_mean_cosine_to_reference(pool):
    sel = select(pool, "cossim-b", 14, seed=0)
    row = {e.id: i for i, e in enumerate(pool.examples)}
    p = sel.picks[0]
    expected = float((pool.reference[p.category] @ pool.embeddings[row[p.id]]).mean())
    assert p.score == pytest.approx(expected, abs=1e-5)
    # normalising rescales scores but does not change the picks
    normed = select(pool, "cossim-b", 14, seed=0, normalize=True)
    assert normed.ids == sel.ids


def test_mean_pairwise_cosine_matches_matrix():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims = x @ x.T
    assert mean_pairwise_cosine(x) == pytest.approx((sims.sum() - 30) / (30 * 29))


def test_small_category_shortfall_is_filled_and_reported():
    examples = [make_example(f"p{i}", "r", behaviour="T1", categories=["a"]) for i in range(2)]
    examples += [make_example(f"q{i}", "r", behaviour="T1", categories=["b"]) for i in range(30)]
    pool = Pool(examples, categories=("a", "b"), embeddings=np.eye(32, 4, dtype=np.float32))
    sel = select(pool, "sss-b", 10, seed=0)  # q = 5; "a" has only 2
    assert len(sel.ids) == 10
    assert sel.shortfalls == {"a": 3}
    assert any("below their quota" in n for n in sel.notes)
    assert Counter(p.slot for p in sel.picks) == Counter({"quota": 7, "fill": 3})


def test_pool_too_small_is_reported():
    examples = [make_example(f"p{i}", "r", behaviour="T1", categories=["a"]) for i in range(3)]
    examples.append(make_example("harm", "r", behaviour="T2", categories=["a"], harmful_response=True))
    pool = Pool(examples, categories=("a",))
    sel = select(pool, "random", 10, seed=0)
    assert len(sel.ids) == 3 and "harm" not in [e.instruction for e in pool.examples if e.id in sel.ids]
    assert any("pool too small" in n for n in sel.notes)
    assert any("harmful response excluded" in n for n in sel.notes)


def test_unlabelled_pool_is_refused():
    with pytest.raises(ConfigError, match="not labelled"):
        Pool([make_example("p", "r")])


def test_registry_errors():
    with pytest.raises(ConfigError, match="valid: random, random-b"):
        get_strategy("nope")
    with pytest.raises(ConfigError, match="does not take"):
        get_strategy("sss-b", normalize=True)


def test_train_near_and_far_are_opposites(pool):
    near = select(pool, "train-near", 14, seed=0)
    far = select(pool, "train-far", 14, seed=0)
    assert not set(near.ids) & set(far.ids)
    assert min(p.score for p in near.picks) > max(p.score for p in far.picks) - 1.0
    # near picks include members of the benign set itself (cosine 1.0)
    assert max(p.score for p in near.picks) == pytest.approx(1.0, abs=1e-5)


def test_facility_location_beats_random_on_its_objective(pool):
    rows = pool.members[BEAVERTAILS_CATEGORIES[0]]
    emb = pool.embeddings

    def objective(ids):
        row = {e.id: i for i, e in enumerate(pool.examples)}
        chosen = emb[[row[i] for i in ids]]
        return np.maximum((emb[rows] @ chosen.T).max(1), 0).sum()

    fl = get_strategy("facility-location", seed=0).select(pool, 14 * 5)
    rnd = get_strategy("sss", seed=0).select(pool, 14 * 5)
    fl_cat = [p.id for p in fl.picks if p.category == BEAVERTAILS_CATEGORIES[0]]
    rnd_cat = [p.id for p in rnd.picks if p.category == BEAVERTAILS_CATEGORIES[0]]
    assert objective(fl_cat) >= objective(rnd_cat)


def test_picked_examples_carry_reasons(pool):
    sel = select(pool, "sss-b", 20, seed=0)
    out = picked_examples(pool, sel)
    assert [e.id for e in out] == sel.ids
    assert out[0].extra["reason"]["strategy"] == "sss-b"
    assert {e.extra["reason"]["slot"] for e in out} == {"quota", "fill"}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 12), min_size=len(CATS), max_size=len(CATS)),
    k=st.integers(0, 60),
    seed=st.integers(0, 2**16),
    name=st.sampled_from(["sss-b", "pss-b", "cossim-b", "k-center-b"]),
)
def test_quota_rules_property(sizes, k, seed, name):
    """Quota q = k // C per category, smallest first, no repeats, fill to min(k, eligible)."""
    examples = []
    rng = np.random.default_rng(seed)
    for c, size in zip(CATS, sizes, strict=True):
        for i in range(size):
            extra = [str(rng.choice(CATS))] if rng.random() < 0.3 else []
            cats = sorted({c, *extra})
            examples.append(make_example(f"{c}{i}", "r", behaviour="T1", categories=cats))
    examples.append(make_example("nocat", "r", behaviour="T1", categories=[]))
    examples.append(make_example("t3", "r", behaviour="T3", categories=["a"]))
    emb = rng.normal(size=(len(examples), 6)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    reference = {c: emb[:1] for c in CATS}
    pool = Pool(examples, categories=CATS, embeddings=emb, reference=reference)
    sel = select(pool, name, k, seed=seed)
    eligible = len(examples) - 1
    q = k // len(CATS)
    assert len(sel.ids) == min(k, eligible)
    assert len(set(sel.ids)) == len(sel.ids)
    assert "t3" not in [e.instruction for e in examples if e.id in set(sel.ids)]
    quota_picks = [p for p in sel.picks if p.slot == "quota"]
    per_cat = Counter(p.category for p in quota_picks)
    for c in CATS:
        assert per_cat[c] + sel.shortfalls.get(c, 0) == (q if q else 0)
        assert per_cat[c] <= q
    # quota picks come first, in smallest-category-first order
    assert sel.picks[: len(quota_picks)] == quota_picks
    by_id = {e.id: e for e in examples}
    for p in quota_picks:
        assert p.category in by_id[p.id].categories
    visit = [p.category for p in quota_picks]
    firsts = list(dict.fromkeys(visit))
    sizes_t1 = {c: sum(c in (e.categories or []) and e.behaviour == "T1" for e in examples) for c in CATS}
    assert [sizes_t1[c] for c in firsts] == sorted(sizes_t1[c] for c in firsts)
