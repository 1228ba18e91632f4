"""Beyond the paper: diversity inside each category quota.

The quota rule is the paper's (see :mod:`safetymix.select.quota`); what changes is how the
``q`` picks inside a category are chosen - spread out over the category rather than
uniform. The fill at the end stays uniform, as in SSS.

- ``kmeans-medoids``: k-means with ``q`` clusters on the category, the member nearest each
  centroid. Above ``minibatch_above`` (5000) members, scikit-learn's MiniBatchKMeans
  fitted on a seeded sample of at most ``n_fit`` (10000) members.
- ``facility-location``: greedy maximisation of sum over the category of the best cosine
  to a pick (the submodular objective apricot maximises), against a ground set of at most
  ``n_ground`` members and among at most ``n_candidates`` candidates (seeded samples),
  with lazy evaluation of the gains (Minoux's accelerated greedy, apricot's ``"lazy"``
  optimizer). The ``n_candidates x n_ground`` similarities are kept when they fit in 128
  MiB (64 MiB at the defaults), else recomputed block by block; either way the bound
  does not grow with the category.
- ``k-center``: greedy k-center: start nearest the centroid, then always the member
  farthest from everything picked so far.

Every strategy here holds at most one float32 copy of a category's embeddings, never a
members x members matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.select.base import Pool
from safetymix.select.params import Interval
from safetymix.select.quota import Choice, QuotaStrategy
from safetymix.select.search import TILE_ELEMENTS, dot_rows, gather_float32, row_blocks, serial_openmp

#: Stale candidates whose gains the lazy greedy recomputes first (doubling each round).
_LAZY_BATCH = 64
#: Largest candidates x ground similarity matrix facility location keeps (128 MiB float32).
_CACHE_ELEMENTS = 1 << 25


class _SpreadQuotaStrategy(QuotaStrategy):
    """Shared by the diversity strategies: a category with no more members than picks
    gives them all, in id order; otherwise :meth:`_spread` chooses ``n`` spread-out ones."""

    requires = frozenset({"embeddings"})

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

    Picks are ordered by cluster size, largest first; the score is the member's cosine to
    its centroid.

    Parameters
    ----------
    minibatch_above : int
        Categories with more members use scikit-learn's MiniBatchKMeans fitted on a
        seeded sample; smaller ones exact KMeans on every member (default 5000).
    n_fit : int
        Largest sample MiniBatchKMeans is fitted on (default 10000: 140 members per
        centroid even at q = 71; faiss samples at most 256 per centroid). Cluster sizes
        and medoids still use every member.
    """

    name = "kmeans-medoids"

    _parameter_constraints = {"minibatch_above": Interval(int, 1), "n_fit": Interval(int, 1)}

    def __init__(self, *, minibatch_above: int = 5000, n_fit: int = 10000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minibatch_above = minibatch_above
        self.n_fit = n_fit

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        x = gather_float32(pool.embeddings, rows)
        seed = int(rng.integers(2**31 - 1))
        with serial_openmp():
            if len(rows) > self.minibatch_above:
                fit = np.arange(len(rows))
                if len(rows) > max(self.n_fit, n):
                    fit = np.sort(rng.choice(len(rows), size=max(self.n_fit, n), replace=False))
                # float64: scikit-learn's k-means++ upcasts float32 in small chunks, 3-6x slower.
                km = MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=1024)
                km.fit(x[fit].astype(np.float64))
                raw = km.cluster_centers_.astype(np.float32)
                # Nearest centre in Euclidean distance: argmax of x.c - |c|^2 / 2, blocked.
                half = 0.5 * (raw * raw).sum(axis=1)
                labels = np.argmax(dot_rows(x, np.arange(len(rows)), raw) - half, axis=1)
            else:
                km = KMeans(n_clusters=n, random_state=seed, n_init=3).fit(x)
                labels = km.labels_
        centres = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
        centres = centres.astype(np.float32)
        sizes = np.bincount(labels, minlength=n)
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
        seeded sample of this size (default 2048).
    n_candidates : int
        Largest candidate set (members a pick may be); a bigger category picks from a
        seeded sample of this size, like apricot's ``"sample"`` optimizer (default 8192).
        Memory and the first pass are ``n_candidates x n_ground`` products, so a category
        of any size costs the same.
    """

    name = "facility-location"

    _parameter_constraints = {"n_ground": Interval(int, 1), "n_candidates": Interval(int, 1)}

    def __init__(self, *, n_ground: int = 2048, n_candidates: int = 8192, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_ground = n_ground
        self.n_candidates = n_candidates

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        return facility_location_greedy(
            pool.embeddings, rows, n, rng, self.n_ground, pool.ids, n_candidates=self.n_candidates
        )


def facility_location_greedy(
    emb: np.ndarray,
    rows: np.ndarray,
    n: int,
    rng: np.random.Generator,
    n_ground: int,
    ids: np.ndarray,
    *,
    n_candidates: int | None = None,
) -> Choice:
    """Greedy maximisation of ``sum_g max(0, max_s cos(g, s))`` over ground ``g``.

    Lazy greedy: a candidate's last computed gain bounds its current gain from above
    (the objective is submodular), so each step recomputes only the stale candidates with
    the highest bounds, in batches, until a freshly computed one is on top. The picks are
    those of the plain greedy algorithm (up to float rounding of near-ties).

    Parameters
    ----------
    emb : ndarray (N, d)
        Embeddings, any float dtype, memmap or not; read one block of rows at a time.
    rows : ndarray of int
        The members to choose among.
    n : int
        Number of picks.
    rng : numpy.random.Generator
        Draws the ground sample, then the candidate sample.
    n_ground : int
        Largest ground set.
    ids : ndarray of str
        Example ids; ties go to the smaller id.
    n_candidates : int, optional
        Largest candidate set (default: every member).

    Returns
    -------
    list of (row, gain)
        In pick order; the gain is the pick's marginal gain.
    """
    ground = rows
    if len(rows) > n_ground:
        ground = np.sort(rng.choice(rows, size=n_ground, replace=False))
    cand = rows
    if n_candidates is not None and len(rows) > max(n_candidates, n):
        cand = np.sort(rng.choice(rows, size=max(n_candidates, n), replace=False))
    g = gather_float32(emb, ground)
    best = np.zeros(len(ground), dtype=np.float32)  # current max similarity of each ground point
    id_order = np.argsort(ids[cand].astype(str), kind="stable")
    rank_of = np.empty(len(cand), dtype=np.int64)
    rank_of[id_order] = np.arange(len(cand))
    block = max(1, TILE_ELEMENTS // max(1, len(ground)))
    # Candidates x ground similarities, kept when they fit in _CACHE_ELEMENTS (both sets
    # are capped samples, so this bound does not grow with the category).
    cache = None
    if len(cand) * len(ground) <= _CACHE_ELEMENTS:
        cache = np.empty((len(cand), len(ground)), dtype=np.float32)
        for o, src in row_blocks(cand, block):
            cache[o] = gather_float32(emb, src) @ g.T

    def gains_of(positions: np.ndarray) -> np.ndarray:
        out = np.empty(len(positions), dtype=np.float64)
        for o, src in row_blocks(positions, block):
            sim = cache[src] if cache is not None else gather_float32(emb, cand[src]) @ g.T
            sim -= best  # in place on a copy: one tile is the only block-sized temporary
            np.maximum(sim, 0.0, out=sim)
            out[o] = sim.sum(axis=1)
        return out

    bound = gains_of(np.arange(len(cand)))
    fresh = np.ones(len(cand), dtype=bool)
    alive = np.ones(len(cand), dtype=bool)
    chosen: Choice = []
    for _ in range(min(n, len(cand))):
        batch = _LAZY_BATCH
        while True:
            masked = np.where(alive, bound, -np.inf)
            top = masked.max()
            tied = np.flatnonzero(masked == top)
            pick = int(tied[np.argmin(rank_of[tied])])
            if fresh[pick]:
                break
            stale = np.flatnonzero(alive & ~fresh)
            if len(stale) > batch:
                stale = np.sort(stale[np.argpartition(-bound[stale], batch - 1)[:batch]])
            bound[stale] = gains_of(stale)
            fresh[stale] = True
            batch *= 2  # when every gain fell (common early on), reach the plain greedy pass fast
        alive[pick] = False
        best = np.maximum(best, g @ gather_float32(emb, cand[pick : pick + 1])[0])
        fresh[:] = False
        chosen.append((int(cand[pick]), float(top)))
    return chosen


class KCenterStrategy(_SpreadQuotaStrategy):
    """Inside each quota: greedy k-center (max-min cosine distance), first pick nearest the
    category centroid. The score is the pick's cosine distance to the nearest earlier pick.
    Holds one float32 copy of the category's embeddings (``members x d``)."""

    name = "k-center"

    def _spread(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
        x = gather_float32(pool.embeddings, rows)
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
