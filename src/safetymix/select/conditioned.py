"""Beyond the paper: selection conditioned on the user's own benign fine-tuning set.

Each pool example is scored by its highest cosine similarity to any example of the benign
set (``--train FILE``), computed in blocks so memory stays linear in both sets.

- ``train-near``: inside each quota, the examples nearest the benign data (safety
  examples that look like what the model will be tuned on); fill by the same score.
- ``train-far``: the farthest ones (safety examples covering what the benign data does not).

The exact search costs ``n_pool x n_train`` dot products: 1M x 100k is about 25 minutes
on two CPU cores. Above ``exact_pairs`` products the default ``search="auto"`` switches
to an inverted-file search (:func:`safetymix.select.search.approx_max_similarity`) and
says so in the selection's notes; ``search="exact"`` forces the exact scores.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from safetymix.errors import ConfigError
from safetymix.select.base import Pool, Selection
from safetymix.select.quota import Choice, QuotaStrategy, top_rows
from safetymix.select.search import approx_max_similarity, max_similarity

#: Above this many query x key products, ``search="auto"`` uses the approximate search
#: (2**28 products: about 5 s of float32 BLAS on two cores).
EXACT_PAIRS = 1 << 28


class _TrainConditioned(QuotaStrategy):
    """Shared by ``train-near`` and ``train-far``.

    Parameters
    ----------
    search : {"auto", "exact", "approx"}
        How the max cosine to the benign set is found: ``"exact"`` blocked products,
        ``"approx"`` an IVF search, ``"auto"`` (default) exact up to ``exact_pairs``
        pool x benign products and approximate above.
    exact_pairs : int
        The ``"auto"`` limit (default 2**28, e.g. 2,700 pool x 100k benign examples).
    n_probe : int
        Clusters of benign embeddings searched per pool example by the approximate
        search (default 8; more is slower and closer to exact).
    """

    largest: bool = True

    def __init__(
        self,
        *,
        search: Literal["auto", "exact", "approx"] = "auto",
        exact_pairs: int = EXACT_PAIRS,
        n_probe: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.search = search
        self.exact_pairs = exact_pairs
        self.n_probe = n_probe

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator, out: Selection) -> Any:
        if pool.train_embeddings is None:
            raise ConfigError(
                f"{self.name} needs the benign set: give --train FILE (Pool(train_embeddings=...))"
            )
        if self.search not in ("auto", "exact", "approx"):
            raise ConfigError(f"search must be 'auto', 'exact' or 'approx', got {self.search!r}")
        train = pool.train_embeddings
        pairs = len(candidates) * len(train)
        scores = np.zeros(len(pool), dtype=np.float32)
        if self.search == "approx" or (self.search == "auto" and pairs > self.exact_pairs):
            seed = int(rng.integers(2**31 - 1))
            scores[candidates] = approx_max_similarity(
                pool.embeddings, train, rows=candidates, n_probe=self.n_probe, seed=seed
            )
            out.notes.append(
                f"{self.name}: approximate max cosine (IVF search, n_probe={self.n_probe}) for "
                f"{len(candidates)} x {len(train)} pairs; search='exact' gives exact scores"
            )
        else:
            scores[candidates] = max_similarity(pool.embeddings, train, rows=candidates)
        return scores

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        return top_rows(rows, ctx[rows], n, pool.ids, largest=self.largest)

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any) -> Choice:
        return top_rows(rows, ctx[rows], n, pool.ids, largest=self.largest)


class TrainNearStrategy(_TrainConditioned):
    """Inside each quota, the examples most similar to the user's benign set."""

    name = "train-near"
    largest = True


class TrainFarStrategy(_TrainConditioned):
    """Inside each quota, the examples least similar to the user's benign set."""

    name = "train-far"
    largest = False
