"""Beyond the paper: diversity inside each category quota.

The quota rule is the paper's (see :mod:`safetymix.select.quota`); what changes is how the
``q`` picks inside a category are chosen - spread out over the category rather than
uniform. The fill at the end stays uniform, as in SSS.

- ``kmeans-medoids``: k-means with ``q`` clusters on the category, the member nearest each
  centroid.
- ``facility-location``: greedy maximisation of sum over the category of the best cosine
  to a pick (the submodular objective apricot maximises), against a ground set of at most
  ``n_ground`` members so memory stays linear (``m x n_ground``, computed in blocks).
- ``k-center``: greedy k-center: start nearest the centroid, then always the member
  farthest from everything picked so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.select.base import Pool
from safetymix.select.quota import Choice, QuotaStrategy

_BLOCK = 8192  # rows per block of a candidates x ground similarity product


class _SpreadQuotaStrategy(QuotaStrategy):
    """Shared by the diversity strategies: a category with no more members than picks
    gives them all, in id order; otherwise :meth:`_spread` chooses ``n`` spread-out ones."""

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        if n >= len(rows):
            order = np.argsort(pool.ids[rows].astype(str), kind="stable")
            return [(int(rows[i]), None) for i in order]
        return self._spread(pool, rows, n, rng)

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        raise NotImplementedError


class KMeansMedoidsStrategy(_SpreadQuotaStrategy):
    """Inside each quota: k-means (``q`` clusters) and the member nearest each centroid.

    Uses scikit-learn's KMeans (MiniBatchKMeans above ``minibatch_above`` members),
    seeded from the strategy's generator. Picks are ordered by cluster size, largest first;
    the score is the member's cosine to its centroid.
    """

    name = "kmeans-medoids"

    def __init__(self, *, minibatch_above: int = 20000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minibatch_above = minibatch_above

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        x = pool.embeddings[rows]
        seed = int(rng.integers(2**31 - 1))
        if len(rows) > self.minibatch_above:
            km = MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=4096).fit(x)
        else:
            km = KMeans(n_clusters=n, random_state=seed, n_init=3).fit(x)
        centres = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
        sizes = np.bincount(km.labels_, minlength=n)
        picked: Choice = []
        used = np.zeros(len(rows), dtype=bool)
        for cluster in np.argsort(-sizes, kind="stable"):
            sim = x @ centres[cluster]
            sim[used] = -np.inf  # two centroids can share a nearest member
            best = int(np.argmax(sim))
            used[best] = True
            picked.append((int(rows[best]), float(sim[best])))
        return picked


class FacilityLocationStrategy(_SpreadQuotaStrategy):
    """Inside each quota: greedy facility location on cosine similarity.

    Parameters
    ----------
    n_ground : int
        Largest ground set (members the objective sums over); a bigger category uses a
        seeded sample of this size, so memory is ``m x n_ground`` at most (default 2048).
    """

    name = "facility-location"

    def __init__(self, *, n_ground: int = 2048, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_ground = n_ground

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        return facility_location_greedy(pool.embeddings, rows, n, rng, self.n_ground, pool.ids)


def facility_location_greedy(
    emb: np.ndarray, rows: np.ndarray, n: int, rng: np.random.Generator, n_ground: int, ids: np.ndarray
) -> Choice:
    """Greedy maximisation of ``sum_g max(0, max_s cos(g, s))`` over ground ``g``.

    Returns (row, marginal gain) in pick order. Ties go to the smaller id.
    """
    ground = rows
    if len(rows) > n_ground:
        ground = np.sort(rng.choice(rows, size=n_ground, replace=False))
    g = emb[ground]
    best = np.zeros(len(ground), dtype=np.float32)  # current max similarity of each ground point
    chosen: Choice = []
    alive = np.ones(len(rows), dtype=bool)
    id_order = np.argsort(ids[rows].astype(str), kind="stable")
    rank_of = np.empty(len(rows), dtype=np.int64)
    rank_of[id_order] = np.arange(len(rows))
    for _ in range(n):
        gains = np.empty(len(rows), dtype=np.float64)
        for start in range(0, len(rows), _BLOCK):
            sim = emb[rows[start : start + _BLOCK]] @ g.T
            gains[start : start + _BLOCK] = np.maximum(sim - best, 0.0).sum(axis=1)
        gains[~alive] = -np.inf
        top = gains.max()
        tied = np.flatnonzero(gains == top)
        pick = int(tied[np.argmin(rank_of[tied])])
        alive[pick] = False
        best = np.maximum(best, g @ emb[rows[pick]])
        chosen.append((int(rows[pick]), float(top)))
    return chosen


class KCenterStrategy(_SpreadQuotaStrategy):
    """Inside each quota: greedy k-center (max-min cosine distance), first pick nearest the
    category centroid. The score is the pick's cosine distance to the nearest earlier pick."""

    name = "k-center"

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        x = pool.embeddings[rows]
        centre = x.mean(axis=0)
        first = int(np.argmax(x @ centre))
        chosen: Choice = [(int(rows[first]), None)]
        nearest = x @ x[first]  # similarity of each member to its nearest pick
        nearest[first] = np.inf
        for _ in range(n - 1):
            pick = int(np.argmin(nearest))
            chosen.append((int(rows[pick]), float(1.0 - nearest[pick])))
            nearest = np.maximum(nearest, x @ x[pick])
            nearest[pick] = np.inf
        return chosen
