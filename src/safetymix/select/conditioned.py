"""Beyond the paper: selection conditioned on the user's own benign fine-tuning set.

Each pool example is scored by its highest cosine similarity to any example of the benign
set (``--train FILE``), computed in blocks so memory stays linear in both sets.

- ``train-near``: inside each quota, the examples nearest the benign data (safety
  examples that look like what the model will be tuned on); fill by the same score.
- ``train-far``: the farthest ones (safety examples covering what the benign data does not).

The exact search costs ``n_pool x n_train`` dot products: 1M x 100k is about 25 minutes
on two CPU cores. Above ``exact_pairs`` products the default ``search="auto"`` switches
to an inverted-file search (:func:`safetymix.select.search.approx_max_similarity`) and
says so in the selection's notes; ``search="exact"`` forces the exact scores. After the
approximate search, ``train-far`` scores exactly every example that could still rank
among its picks, so its picks are the exact ones; ``train-near`` rescores a shortlist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from safetymix.errors import ConfigError
from safetymix.select.base import Pool, Selection
from safetymix.select.params import Interval, Options
from safetymix.select.quota import Choice, QuotaStrategy, top_rows
from safetymix.select.search import approx_max_similarity, max_similarity

#: Above this many query x key products, ``search="auto"`` uses the approximate search
#: (2**28 products: about 5 s of float32 BLAS on two cores).
EXACT_PAIRS = 1 << 28


#: train-near rescores this many times its picks exactly after an approximate search.
_RESCORE = 4


@dataclass(slots=True)
class _Scores:
    """Max cosine to the benign set per pool row; ``known`` marks the exact ones."""

    scores: np.ndarray
    known: np.ndarray


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
    requires = frozenset({"embeddings", "train_embeddings"})
    _parameter_constraints = {
        "search": Options(("auto", "exact", "approx")),
        "exact_pairs": Interval(int, 1),
        "n_probe": Interval(int, 1),
    }

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
        train = pool.train_embeddings
        pairs = len(candidates) * len(train)
        ctx = _Scores(np.zeros(len(pool), dtype=np.float32), np.zeros(len(pool), dtype=bool))
        if self.search == "approx" or (self.search == "auto" and pairs > self.exact_pairs):
            seed = int(rng.integers(2**31 - 1))
            ctx.scores[candidates] = approx_max_similarity(
                pool.embeddings, train, rows=candidates, n_probe=self.n_probe, seed=seed
            )
            how = (
                "picks certified exact (every example that could rank lower was scored exactly)"
                if not self.largest
                else f"the best {_RESCORE}x candidates rescored exactly"
            )
            out.notes.append(
                f"{self.name}: approximate max cosine (IVF search, n_probe={self.n_probe}) for "
                f"{len(candidates)} x {len(train)} pairs, {how}; search='exact' scores every pair"
            )
        else:
            ctx.scores[candidates] = max_similarity(pool.embeddings, train, rows=candidates)
            ctx.known[candidates] = True
        return ctx

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        return self._fill(pool, rows, n, rng, ctx)

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: _Scores) -> Choice:
        """The ``n`` best rows by exact score (in a quota and in the fill alike), scoring
        exactly only the rows that matter.

        Approximate scores never exceed exact ones. ``train-far`` keeps scoring the
        lowest-approximate rows exactly until every unscored row's approximate score is above
        the n-th lowest exact one, so its picks equal the exact search's. ``train-near`` has
        no such bound: it rescores its ``_RESCORE * n`` best approximate rows exactly and
        ranks those.
        """
        if n <= 0 or len(rows) == 0 or ctx.known[rows].all():
            return top_rows(rows, ctx.scores[rows], n, pool.ids, largest=self.largest)
        if self.largest:
            short = np.array([r for r, _ in top_rows(rows, ctx.scores[rows], _RESCORE * n, pool.ids)])
            self._score_exactly(pool, short, ctx)
            return top_rows(short, ctx.scores[short], n, pool.ids)
        batch = _RESCORE * n
        while True:
            known, unknown = rows[ctx.known[rows]], rows[~ctx.known[rows]]
            if len(known) >= n:
                threshold = np.partition(ctx.scores[known], n - 1)[n - 1]
                unknown = unknown[ctx.scores[unknown] <= threshold]
                if len(unknown) == 0:
                    return top_rows(known, ctx.scores[known], n, pool.ids, largest=False)
            lowest = unknown[np.argsort(ctx.scores[unknown], kind="stable")[:batch]]
            self._score_exactly(pool, lowest, ctx)
            batch *= 2

    @staticmethod
    def _score_exactly(pool: Pool, rows: np.ndarray, ctx: _Scores) -> None:
        rows = np.sort(rows[~ctx.known[rows]])
        if len(rows):
            ctx.scores[rows] = max_similarity(pool.embeddings, pool.train_embeddings, rows=rows)
            ctx.known[rows] = True


class TrainNearStrategy(_TrainConditioned):
    """Inside each quota, the examples most similar to the user's benign set."""

    name = "train-near"
    largest = True


class TrainFarStrategy(_TrainConditioned):
    """Inside each quota, the examples least similar to the user's benign set."""

    name = "train-far"
    largest = False
