"""Strategies at scale: memmap/float16 pools, bounded memory, lazy greedy = plain greedy."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from safetymix.errors import ConfigError
from safetymix.schema import Example
from safetymix.select import Pool, available_strategies, get_strategy, select
from safetymix.select.diversity import facility_location_greedy
from safetymix.select.quota import top_rows


def clustered_pool(
    n: int, dim: int, categories: tuple[str, ...], seed: int = 0, embeddings: np.ndarray | None = None, **kw
) -> Pool:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4 * len(categories), dim))
    lab = rng.integers(len(centres), size=n)
    if embeddings is None:
        x = centres[lab] + 0.5 * rng.normal(size=(n, dim))
        embeddings = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    beh = rng.choice(["T1", "T2", "T3", "T4"], size=n, p=[0.6, 0.08, 0.09, 0.23])
    examples = [
        Example(
            id=f"x{i:06d}",
            instruction=f"p{i}",
            behaviour=str(beh[i]),
            harmful_response=False,
            categories=[categories[lab[i] % len(categories)]],
        )
        for i in range(n)
    ]
    return Pool(examples, categories=categories, embeddings=embeddings, **kw)


@pytest.fixture(scope="module")
def float16_pools(tmp_path_factory):
    """The same pool twice: float16 memmaps on disk, and their exact float32 copies in memory."""
    folder = tmp_path_factory.mktemp("memmap")
    rng = np.random.default_rng(1)
    cats = ("a", "b", "c", "d")
    base = clustered_pool(1500, 24, cats)
    emb16 = np.asarray(base.embeddings, dtype=np.float16)
    train = rng.normal(size=(300, 24))
    train16 = (train / np.linalg.norm(train, axis=1, keepdims=True)).astype(np.float16)
    np.save(folder / "pool.npy", emb16)
    np.save(folder / "train.npy", train16)
    reference = {c: emb16[i * 10 : i * 10 + 5].astype(np.float32) for i, c in enumerate(cats)}
    on_disk = clustered_pool(
        1500,
        24,
        cats,
        embeddings=np.load(folder / "pool.npy", mmap_mode="r"),
        train_embeddings=np.load(folder / "train.npy", mmap_mode="r"),
        reference=reference,
    )
    in_memory = clustered_pool(
        1500,
        24,
        cats,
        embeddings=emb16.astype(np.float32),
        train_embeddings=train16.astype(np.float32),
        reference=reference,
    )
    return on_disk, in_memory


@pytest.mark.parametrize("name", available_strategies())
def test_float16_memmap_pool_picks_like_its_float32_copy(float16_pools, name):
    on_disk, in_memory = float16_pools
    assert isinstance(on_disk.embeddings, np.memmap) and on_disk.embeddings.dtype == np.float16
    a, b = select(on_disk, name, 40, seed=2), select(in_memory, name, 40, seed=2)
    assert a.ids == b.ids and len(a.ids) == 40
    assert [p.score for p in a.picks] == [p.score for p in b.picks]
    assert on_disk.embeddings.dtype == np.float16  # the pool was not converted in place


def test_pool_rejects_non_float_embeddings():
    with pytest.raises(ConfigError, match="2-D float array"):
        clustered_pool(10, 4, ("a",), embeddings=np.ones((10, 4), dtype=np.int64))
    with pytest.raises(ConfigError, match="train_embeddings must be a 2-D float array"):
        clustered_pool(10, 4, ("a",), train_embeddings=np.ones(4, dtype=np.float32))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("facility-location", {}),
        ("k-center", {}),
        ("kmeans-medoids", {}),
        ("train-near", {"search": "exact"}),
        ("pss", {}),
        ("cossim", {}),
    ],
)
def test_memory_stays_far_below_an_n_by_n_matrix(name, params):
    """20k rows in one category: an n x n float32 matrix would take 1.6 GB."""
    n, dim = 20_000, 32
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pool = clustered_pool(
        n, dim, ("a",), embeddings=emb, train_embeddings=emb[:3000], reference={"a": emb[:10]}
    )
    strategy = get_strategy(name, seed=0, **params)
    tracemalloc.start()
    try:
        sel = strategy.select(pool, 8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(sel.ids) == 8
    assert peak < n * n * 4 / 8, f"{name}: peak {peak / 2**20:.0f} MiB"


def naive_facility_location(x: np.ndarray, n: int) -> list[int]:
    """Plain greedy on the dense matrix, ties to the lower index (ids are in index order)."""
    sims = x @ x.T
    best = np.zeros(len(x))
    picks: list[int] = []
    for _ in range(n):
        gains = np.maximum(sims - best, 0).sum(axis=1)
        gains[picks] = -np.inf
        pick = int(np.argmax(gains))
        picks.append(pick)
        best = np.maximum(best, sims[pick])
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lazy_facility_location_equals_plain_greedy(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 8)) + 2 * rng.normal(size=(6, 8))[rng.integers(6, size=300)]
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    ids = np.array([f"{i:04d}" for i in range(300)], dtype=object)
    got = facility_location_greedy(x, np.arange(300), 25, np.random.default_rng(0), 4096, ids)
    assert [r for r, _ in got] == naive_facility_location(x.astype(np.float64), 25)
    gains = [g for _, g in got]
    assert all(a >= b - 1e-4 for a, b in zip(gains, gains[1:], strict=False))  # submodular: gains fall


def test_facility_location_samples_candidates_and_ground_with_the_seed():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.array([f"{i:05d}" for i in range(5000)], dtype=object)

    def run(seed):
        return facility_location_greedy(
            x, np.arange(5000), 6, np.random.default_rng(seed), 300, ids, n_candidates=700
        )

    assert run(0) == run(0)
    assert run(0) != run(1)


@pytest.mark.parametrize("largest", [True, False])
def test_top_rows_shortlist_equals_a_full_sort(largest):
    rng = np.random.default_rng(0)
    rows = rng.permutation(5000)[:4000]
    scores = np.round(rng.normal(size=4000), 1).astype(np.float32)  # many ties
    ids = np.array([f"id{i:05d}" for i in rng.permutation(5000)], dtype=object)
    key = -scores if largest else scores
    full = np.lexsort((ids[rows].astype(str), key))[:37]
    assert [r for r, _ in top_rows(rows, scores, 37, ids, largest=largest)] == rows[full].tolist()


def test_train_conditioned_search_modes():
    pool = clustered_pool(3000, 16, ("a", "b"), seed=4)
    other = clustered_pool(1000, 16, ("a", "b"), seed=5)  # its own noise, same seeded centres
    pool.train_embeddings = np.asarray(other.embeddings)
    exact = select(pool, "train-near", 20, seed=0, search="exact")
    assert not any("approximate" in n for n in exact.notes)
    # 3000 x 1000 pairs is above a limit of 10**6: "auto" goes approximate and says so
    auto = select(pool, "train-near", 20, seed=0, exact_pairs=10**6)
    assert any("approximate max cosine" in n for n in auto.notes)
    assert auto.ids == select(pool, "train-near", 20, seed=0, search="approx").ids
    row = {e.id: i for i, e in enumerate(pool.examples)}
    truth = (pool.embeddings @ pool.train_embeddings.T).max(axis=1)
    # near: the shortlist is rescored, so pick scores are exact; most picks agree
    assert all(p.score == pytest.approx(truth[row[p.id]], abs=1e-5) for p in auto.picks)
    assert len(set(auto.ids) & set(exact.ids)) >= 10
    # far: certified, the same picks as the exact search, with n_probe=1 too
    far_exact = select(pool, "train-far", 20, seed=0, search="exact")
    for n_probe in (1, 8):
        far = select(pool, "train-far", 20, seed=0, search="approx", n_probe=n_probe)
        assert far.ids == far_exact.ids
        assert [p.score for p in far.picks] == pytest.approx([p.score for p in far_exact.picks], abs=1e-5)
    with pytest.raises(ConfigError, match="the .search. parameter of strategy .train-near. must be one of"):
        select(pool, "train-near", 5, search="fast")
