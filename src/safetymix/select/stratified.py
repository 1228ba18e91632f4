"""``sss`` (stratified: uniform inside each quota) and ``pss`` (prototype: nearest the
category's mean embedding), with their ``-b`` forms."""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.select.base import Pool, Selection
from safetymix.select.quota import Choice, QuotaStrategy, top_rows, uniform_rows
from safetymix.select.search import dot_rows, mean_rows


class StratifiedStrategy(QuotaStrategy):
    """SSS: inside each category ``q`` uniform picks; the rest uniform from the unpicked pool.

    The paper's best strategy as ``sss-b``.
    """

    name = "sss"

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        return uniform_rows(rows, n, rng)


class PrototypeStrategy(QuotaStrategy):
    """PSS: inside each category the ``q`` examples whose prompt embedding is most
    cosine-similar to the category prototype (the mean embedding of the category's
    eligible members); the rest filled uniformly."""

    name = "pss"
    requires = frozenset({"embeddings"})

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator, out: Selection) -> Any:
        eligible = np.zeros(len(pool), dtype=bool)
        eligible[candidates] = True
        return pool.embeddings, eligible

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        if n == 0:
            return []
        emb, eligible = ctx
        # The prototype uses every eligible member, picked by an earlier category or not.
        members = pool.members[category]
        prototype = mean_rows(emb, members[eligible[members]])
        prototype /= np.linalg.norm(prototype) or 1.0
        return top_rows(rows, dot_rows(emb, rows, prototype), n, pool.ids)
