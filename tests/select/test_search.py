"""Blocked similarity helpers against dense products on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from safetymix.select import search
from safetymix.select.search import (
    approx_max_similarity,
    dot_rows,
    max_similarity,
    mean_rows,
    row_blocks,
)


def unit_rows(n: int, d: int, seed: int, n_clusters: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if n_clusters:
        centres = np.random.default_rng(99).normal(size=(n_clusters, d))
        x = centres[rng.integers(n_clusters, size=n)] + 0.3 * x
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def small_tiles(monkeypatch):
    """Force many blocks on small inputs, so the blocking itself is exercised."""
    monkeypatch.setattr(search, "TILE_ELEMENTS", 64)
    monkeypatch.setattr(search, "ROW_BLOCK", 7)


def test_row_blocks_cover_rows_once():
    rows = np.arange(10, 33)
    seen = [(o, src) for o, src in row_blocks(rows, 5)]
    assert [o.start for o, _ in seen] == [0, 5, 10, 15, 20]
    assert np.concatenate([src for _, src in seen]).tolist() == rows.tolist()
    assert [src for _, src in row_blocks(12, 5)] == [slice(0, 5), slice(5, 10), slice(10, 12)]


def test_dot_rows_and_mean_rows_match_dense(small_tiles):
    x = unit_rows(50, 8, 0)
    rows = np.array([3, 7, 7, 49, 0, 12, 30, 31, 2])
    v = unit_rows(3, 8, 1)
    np.testing.assert_allclose(dot_rows(x, rows, v), x[rows] @ v.T, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dot_rows(x, rows, v[0]), x[rows] @ v[0], rtol=1e-6, atol=1e-6)
    assert dot_rows(x, rows, v).shape == (9, 3) and dot_rows(x, rows, v[0]).shape == (9,)
    np.testing.assert_allclose(mean_rows(x, rows), x[rows].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_max_similarity_matches_dense(small_tiles):
    q, k = unit_rows(40, 8, 2), unit_rows(23, 8, 3)
    dense = q @ k.T
    np.testing.assert_allclose(max_similarity(q, k, key_block=5), dense.max(axis=1), rtol=1e-6, atol=1e-6)
    rows = np.array([39, 0, 5, 5, 17])
    best, arg = max_similarity(q, k, rows=rows, key_block=4, return_index=True)
    np.testing.assert_allclose(best, dense[rows].max(axis=1), rtol=1e-6, atol=1e-6)
    assert arg.tolist() == dense[rows].argmax(axis=1).tolist()


def test_max_similarity_reads_float16_memmaps_without_upcasting_the_whole_array(tmp_path, small_tiles):
    q = unit_rows(30, 8, 4).astype(np.float16)
    np.save(tmp_path / "q.npy", q)
    mm = np.load(tmp_path / "q.npy", mmap_mode="r")
    k = unit_rows(9, 8, 5)
    got = max_similarity(mm, k, key_block=4)
    assert got.dtype == np.float32
    assert np.array_equal(got, max_similarity(q.astype(np.float32), k, key_block=4))


def test_approx_max_similarity_is_a_lower_bound_and_exact_with_every_list_probed():
    q, k = unit_rows(600, 16, 6, n_clusters=12), unit_rows(900, 16, 7, n_clusters=12)
    exact = (q @ k.T).max(axis=1)
    full = approx_max_similarity(q, k, n_lists=10, n_probe=10, seed=0)
    np.testing.assert_allclose(full, exact, rtol=1e-5, atol=1e-6)
    one = approx_max_similarity(q, k, n_lists=30, n_probe=1, seed=0)
    assert np.all(one <= exact + 1e-5)
    assert np.mean(np.isclose(one, exact, atol=1e-5)) > 0.5  # clustered data: the first probe finds most
    more = approx_max_similarity(q, k, n_lists=30, n_probe=4, seed=0)
    assert np.mean(np.isclose(more, exact, atol=1e-5)) >= np.mean(np.isclose(one, exact, atol=1e-5))
    rows = np.array([5, 1, 599])
    np.testing.assert_allclose(
        approx_max_similarity(q, k, rows=rows, n_lists=10, n_probe=10, seed=0), exact[rows], rtol=1e-5
    )
    assert np.array_equal(one, approx_max_similarity(q, k, n_lists=30, n_probe=1, seed=0))
