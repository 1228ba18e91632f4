"""Blocked similarity products: memory linear in the pool, whatever its size or dtype.

Every strategy reads prompt embeddings through these helpers. They take the pool's
embedding array as it is - float32 or float16, in memory or an ``np.memmap`` - gather
at most one block of rows at a time, convert that block to float32 and multiply. No
helper ever holds an n x n matrix or a float64 copy of the pool: the largest temporary
is one ``rows x keys`` tile of at most :data:`TILE_ELEMENTS` floats.

Because float16 -> float32 is exact and the blocks are the same, a float16 memmap and
its float32 copy in memory give bit-identical results.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Most float32 elements of one similarity tile (64 MiB).
TILE_ELEMENTS = 1 << 24
#: Rows gathered per block when a product has only a few columns (24 MiB of float32 at d=384).
ROW_BLOCK = 16384
#: Keys per block of an exact max-similarity search.
KEY_BLOCK = 4096


def row_blocks(rows: np.ndarray | int, block: int = ROW_BLOCK) -> Iterator[tuple[slice, np.ndarray | slice]]:
    """Yield ``(out, src)`` pairs: ``out`` slices the result, ``src`` indexes the embeddings.

    ``rows`` is either an index array or a row count (then the blocks are contiguous
    slices, which a memmap reads without a fancy-index copy).
    """
    n = rows if isinstance(rows, (int, np.integer)) else len(rows)
    for start in range(0, int(n), block):
        out = slice(start, min(start + block, int(n)))
        yield out, out if isinstance(rows, (int, np.integer)) else rows[out]


def gather_float32(emb: np.ndarray, src: np.ndarray | slice) -> np.ndarray:
    """Rows ``src`` of ``emb`` as a float32 ndarray (a copy of those rows only)."""
    return np.asarray(emb[src]).astype(np.float32, copy=False)


def dot_rows(emb: np.ndarray, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``emb[rows] @ vectors.T`` in float32, computed block by block.

    Parameters
    ----------
    emb : ndarray (n, d)
        Embeddings (float32/float16, in memory or memmap).
    rows : ndarray of int
        The rows to score.
    vectors : ndarray (k, d) or (d,)
        Few vectors (prototypes, centroids); ``k`` should be small.

    Returns
    -------
    ndarray (len(rows), k) or (len(rows),), float32
    """
    v = np.asarray(vectors, dtype=np.float32)
    out = np.empty((len(rows),) + v.shape[:-1], dtype=np.float32)
    block = max(1, min(ROW_BLOCK, TILE_ELEMENTS // max(1, v.size // v.shape[-1])))
    for o, src in row_blocks(rows, block):
        out[o] = gather_float32(emb, src) @ v.T
    return out


def mean_rows(emb: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of ``emb[rows]``, accumulated in float64 block by block; returns float32 ``(d,)``."""
    total = np.zeros(emb.shape[1], dtype=np.float64)
    for _, src in row_blocks(rows):
        total += gather_float32(emb, src).sum(axis=0, dtype=np.float64)
    return (total / max(1, len(rows))).astype(np.float32)


def max_similarity(
    queries: np.ndarray,
    keys: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    key_block: int = KEY_BLOCK,
    return_index: bool = False,
    show_progress: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact highest dot product of each query row with any key row, blocked on both sides.

    Parameters
    ----------
    queries : ndarray (n, d)
        Query embeddings (any float dtype, memmap or not).
    keys : ndarray (m, d)
        Key embeddings.
    rows : ndarray of int, optional
        Score only these query rows (default all), in this order.
    key_block : int
        Keys per block (default 4096); query blocks are sized so a tile stays under
        :data:`TILE_ELEMENTS` floats.
    return_index : bool
        Also return, per query, the index of its best key (the first one on ties).
    show_progress : bool
        Show a rich progress bar over query blocks.

    Returns
    -------
    ndarray (len(rows),), float32
        ``-inf`` for every query when there are no keys.
    ndarray (len(rows),), int64
        Only with ``return_index``: the best key of each query (0 when there are no keys).
    """
    index: np.ndarray | int = len(queries) if rows is None else rows
    n = index if isinstance(index, int) else len(index)
    out = np.full(n, -np.inf, dtype=np.float32)
    arg = np.zeros(n, dtype=np.int64)
    key_block = max(1, min(key_block, len(keys)))
    q_block = max(1, TILE_ELEMENTS // key_block)
    blocks = list(row_blocks(index, q_block))
    for o, src in _progress(blocks, show_progress, "max similarity"):
        q = gather_float32(queries, src)
        for start in range(0, len(keys), key_block):
            sims = q @ gather_float32(keys, slice(start, start + key_block)).T
            if return_index:
                block_arg = sims.argmax(axis=1)
                block_best = sims[np.arange(len(sims)), block_arg]
                better = block_best > out[o]
                out[o][better] = block_best[better]
                arg[o][better] = block_arg[better] + start
            else:
                np.maximum(out[o], sims.max(axis=1), out=out[o])
    return (out, arg) if return_index else out


def default_n_lists(n_queries: int, n_keys: int, n_probe: int) -> int:
    """Number of IVF lists with the fewest dot products overall.

    Products: ``n_queries * L`` (probing) + ``n_keys * L`` (assigning keys) +
    ``n_queries * n_probe * n_keys / L`` (scanning); the sum is smallest at
    ``L = sqrt(n_queries * n_probe * n_keys / (n_queries + n_keys))``, clipped to [1, 4096].
    """
    total = max(1, n_queries + n_keys)
    return int(np.clip(round(np.sqrt(n_queries * max(1, n_probe) * n_keys / total)), 1, 4096))


@dataclass(frozen=True)
class IVFIndex:
    """Inverted-file index over key embeddings, for approximate max-similarity search.

    Build it with :meth:`build`; :meth:`search` compares each query exactly with the keys
    of its ``n_probe`` nearest clusters only, one BLAS product per cluster (which on CPU
    beat faiss IndexIVFFlat's per-query list scan about 4x for the same probes on our
    benchmark machine). A search never exceeds the exact value: a missed neighbour only
    lowers a score. The index keeps ``keys`` (not a copy), the centroids and one int64 per
    key.
    """

    keys: np.ndarray
    centres: np.ndarray
    key_order: np.ndarray
    key_bounds: np.ndarray

    @classmethod
    def build(cls, keys: np.ndarray, *, n_lists: int, seed: int = 0) -> IVFIndex:
        """Cluster ``keys`` into ``n_lists`` lists (scikit-learn KMeans on a seeded sample of at
        most ``32 * n_lists`` keys, 10 iterations) and assign every key to its nearest list."""
        from sklearn.cluster import KMeans

        n_keys = len(keys)
        n_lists = max(1, min(n_lists, n_keys))
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n_keys, size=min(n_keys, 32 * n_lists), replace=False))
        # init="random": k-means++ costs more than the whole search in 384 dimensions.
        km = KMeans(n_clusters=n_lists, init="random", n_init=1, max_iter=10, random_state=seed)
        with serial_openmp():
            centres = km.fit(gather_float32(keys, sample)).cluster_centers_.astype(np.float32)
        key_list = np.empty(n_keys, dtype=np.int64)
        for o, src in row_blocks(n_keys):
            key_list[o] = np.argmax(gather_float32(keys, src) @ centres.T, axis=1)
        key_order = np.argsort(key_list, kind="stable")
        key_bounds = np.searchsorted(key_list[key_order], np.arange(n_lists + 1))
        return cls(keys, centres, key_order, key_bounds)

    @property
    def n_lists(self) -> int:
        return len(self.centres)

    def search(
        self,
        queries: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        n_probe: int = 8,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Approximate highest dot product of each query row (or of ``rows``) with any key.

        ``n_probe >= n_lists`` gives the exact value. Returns float32 ``(len(rows),)``.
        """
        index: np.ndarray | int = len(queries) if rows is None else rows
        n = index if isinstance(index, int) else len(index)
        n_lists = self.n_lists
        n_probe = max(1, min(n_probe, n_lists))
        probes = np.empty((n, n_probe), dtype=np.int32)
        for o, src in row_blocks(index, max(1, TILE_ELEMENTS // n_lists)):
            sim = gather_float32(queries, src) @ self.centres.T
            for j in range(n_probe):  # n_probe argmax passes beat argpartition on short rows
                best = np.argmax(sim, axis=1)
                probes[o, j] = best
                sim[np.arange(len(best)), best] = -np.inf
        flat = probes.ravel()
        query_order = np.argsort(flat, kind="stable")
        query_of = (query_order // n_probe).astype(np.int64)
        query_bounds = np.searchsorted(flat[query_order], np.arange(n_lists + 1))
        del probes, flat, query_order

        out = np.full(n, -np.inf, dtype=np.float32)
        src_rows = np.arange(n) if isinstance(index, int) else index
        for j in _progress(range(n_lists), show_progress, "approximate max similarity"):
            members = query_of[query_bounds[j] : query_bounds[j + 1]]
            lo, hi = self.key_bounds[j], self.key_bounds[j + 1]
            if len(members) == 0 or hi == lo:
                continue
            k = gather_float32(self.keys, np.sort(self.key_order[lo:hi]))
            step = max(1, TILE_ELEMENTS // len(k))
            for start in range(0, len(members), step):
                mine = members[start : start + step]
                best = (gather_float32(queries, src_rows[mine]) @ k.T).max(axis=1)
                out[mine] = np.maximum(out[mine], best)  # a query occurs once per list
        return out


def approx_max_similarity(
    queries: np.ndarray,
    keys: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    n_lists: int | None = None,
    n_probe: int = 8,
    seed: int = 0,
    show_progress: bool = False,
) -> np.ndarray:
    """Approximate :func:`max_similarity` with an inverted-file search (:class:`IVFIndex`).

    Parameters
    ----------
    queries, keys, rows
        As in :func:`max_similarity`.
    n_lists : int, optional
        Number of key clusters; default :func:`default_n_lists` (the fewest products).
    n_probe : int
        Clusters searched per query (default 8). ``n_probe >= n_lists`` is exact.
    seed : int
        Seed of the key sample and of KMeans.
    show_progress : bool
        Show a rich progress bar over clusters.

    Returns
    -------
    ndarray (len(rows),), float32
    """
    n = len(queries) if rows is None else len(rows)
    if n_lists is None:
        n_lists = default_n_lists(n, len(keys), n_probe)
    index = IVFIndex.build(keys, n_lists=n_lists, seed=seed)
    return index.search(queries, rows=rows, n_probe=n_probe, show_progress=show_progress)


def serial_openmp():
    """Context manager: scikit-learn's OpenMP loops on one thread.

    Our k-means fits are capped (at most 20k rows), where threads gain little; on a
    loaded machine OpenMP's spinning threads made KMeans 6-10x slower than one thread
    (measured on the 2-core benchmark machine). BLAS threads are left alone.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _progress(items, show: bool, label: str):
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label)
