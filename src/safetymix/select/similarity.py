"""``cossim`` / ``cossim-b`` (after Safe-Embed): score each example by its mean cosine
similarity to a category's reference set, take the top ``q`` inside each category and
fill by each example's best score."""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.errors import ConfigError
from safetymix.select.base import Pool, Selection
from safetymix.select.params import BOOL, Interval
from safetymix.select.quota import Choice, QuotaStrategy, top_rows
from safetymix.select.search import dot_rows


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all distinct pairs of L2-normalised rows, in O(m d) memory.

    ``sum_{i != j} x_i . x_j = |sum x|^2 - sum |x_i|^2``, so no m x m matrix is needed.
    """
    m = len(vectors)
    if m < 2:
        raise ConfigError("mean pairwise cosine needs at least two vectors")
    total = vectors.sum(axis=0, dtype=np.float64)
    self_sim = float((vectors.astype(np.float64) ** 2).sum())
    return float((total @ total - self_sim) / (m * (m - 1)))


class CossimStrategy(QuotaStrategy):
    """Cossim: mean cosine to each category's reference set.

    Because prompt embeddings are L2-normalised, the mean cosine of ``x`` to a reference
    set ``R`` equals ``x . mean(R)``: one (n, C) product, linear in the pool.

    Parameters
    ----------
    normalize : bool
        Divide every score by the mean pairwise cosine of a mixed sample of all reference
        sets (up to ``n_mixed`` vectors drawn with the seed), as in Safe-Embed. It rescales
        all scores by one constant, so the picks do not change; it makes scores comparable
        across reference sets and runs. Default False.
    n_mixed : int
        Size of that mixed sample (default 2000).
    """

    name = "cossim"
    requires = frozenset({"embeddings", "reference"})
    _parameter_constraints = {"normalize": BOOL, "n_mixed": Interval(int, 1)}

    def __init__(self, *, normalize: bool = False, n_mixed: int = 2000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.normalize = normalize
        self.n_mixed = n_mixed

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator, out: Selection) -> Any:
        reference = pool.reference
        if reference is None:
            raise ConfigError("cossim needs reference sets: give Pool(reference=...) or --reference FILE")
        absent = [c for c in pool.categories if c not in reference or len(reference[c]) == 0]
        if absent:
            raise ConfigError(f"cossim: no reference examples for categories {absent}")
        centres = np.stack([np.asarray(reference[c], dtype=np.float32).mean(axis=0) for c in pool.categories])
        scores = np.zeros((len(pool), len(pool.categories)), dtype=np.float32)
        scores[candidates] = dot_rows(pool.embeddings, candidates, centres)
        if self.normalize:
            mixed = np.concatenate([np.asarray(reference[c], dtype=np.float32) for c in pool.categories])
            if len(mixed) > self.n_mixed:
                mixed = mixed[np.sort(rng.choice(len(mixed), self.n_mixed, replace=False))]
            scores /= mean_pairwise_cosine(mixed)
        return {c: i for i, c in enumerate(pool.categories)}, scores

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        column, scores = ctx
        return top_rows(rows, scores[rows, column[category]], n, pool.ids)

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any) -> Choice:
        _, scores = ctx
        return top_rows(rows, scores[rows].max(axis=1), n, pool.ids)
