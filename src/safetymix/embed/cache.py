"""On-disk embedding cache keyed by text hash + model + settings (numpy files, never pickle).

Layout::

    <root>/<settings-key>/meta.json              model name and settings, for humans
    <root>/<settings-key>/<shard>.keys.npy       (m,) S32: first 32 hex digits of sha256(text)
    <root>/<settings-key>/<shard>.vecs.npy       (m, d) float32, L2-normalised

Each :meth:`EmbeddingCache.put` writes one new shard through a temp file and a rename, so
a killed run keeps every shard it finished and a rerun only embeds what is missing.

Memory: vectors are never loaded; each shard's ``.vecs.npy`` is opened with
``np.load(mmap_mode="r")`` and rows are copied out on demand. The index holds the keys
alone, as one sorted ``S32`` array (32 bytes per cached text, 32 MB per million) plus two
int32 arrays locating each key, so a million-text cache costs about 40 MB of RAM and a
lookup is a binary search (:func:`numpy.searchsorted`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: dtype of a cache key: 32 ASCII hex digits.
KEY_DTYPE = "S32"


def default_cache_root() -> Path:
    """``$SAFETYMIX_CACHE/embeddings`` if set, else ``~/.cache/safetymix/embeddings``."""
    base = os.environ.get("SAFETYMIX_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "safetymix"
    return root / "embeddings"


def text_key(text: str) -> bytes:
    """Cache key of one text: 32 ASCII hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32].encode("ascii")


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """:func:`text_key` of every text, as an ``(n,)`` ``S32`` array."""
    return np.array([text_key(t) for t in texts], dtype=KEY_DTYPE).reshape(len(texts))


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    from safetymix.io.writers import atomic_write

    with atomic_write(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


class EmbeddingCache:
    """Sharded cache of embeddings for one model + settings combination.

    Parameters
    ----------
    settings : dict
        Everything that changes the vectors (model name or path, revision, normalisation,
        max sequence length). Its canonical JSON is hashed into the folder name.
    root : str or Path, optional
        Cache root; default :func:`default_cache_root`.

    Notes
    -----
    The index is read once and then kept up to date: :meth:`put` adds its own shard, and
    :meth:`refresh` (called by every lookup) loads only shard files it has not seen, such
    as those another process wrote meanwhile.
    """

    def __init__(self, settings: dict, root: str | Path | None = None) -> None:
        self.settings = settings
        blob = json.dumps(settings, sort_keys=True).encode("utf-8")
        base = Path(root) if root is not None else default_cache_root()
        self.dir = base / hashlib.sha256(blob).hexdigest()[:16]
        self._shards: list[np.ndarray] = []  # memory-mapped (m, d) float32 arrays
        self._names: set[str] = set()
        self._keys = np.zeros(0, dtype=KEY_DTYPE)  # sorted
        self._shard_of = np.zeros(0, dtype=np.int32)
        self._row_of = np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        """Number of cached keys (after :meth:`refresh`)."""
        self.refresh()
        return len(self._keys)

    @property
    def dim(self) -> int | None:
        """Vector width, or None while the cache is empty."""
        self.refresh()
        return int(self._shards[0].shape[1]) if self._shards else None

    def refresh(self) -> None:
        """Index the shard files written since the last call (by this or another process)."""
        if not self.dir.is_dir():
            return
        new_keys, new_shard, new_row = [], [], []
        for keys_path in sorted(self.dir.glob("*.keys.npy")):
            name = keys_path.name.removesuffix(".keys.npy")
            if name in self._names:
                continue
            vecs_path = self.dir / f"{name}.vecs.npy"
            if not vecs_path.exists():  # shard killed between its two renames
                continue
            keys = np.load(keys_path, allow_pickle=False)
            vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
            if len(keys) != len(vecs) or vecs.ndim != 2:
                continue
            self._names.add(name)
            new_keys.append(keys.astype(KEY_DTYPE, copy=False))
            new_shard.append(np.full(len(keys), len(self._shards), dtype=np.int32))
            new_row.append(np.arange(len(keys), dtype=np.int32))
            self._shards.append(vecs)
        if new_keys:
            self._merge(np.concatenate(new_keys), np.concatenate(new_shard), np.concatenate(new_row))

    def _merge(self, keys: np.ndarray, shard: np.ndarray, row: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys, shard, row = keys[order], shard[order], row[order]
        at = np.searchsorted(self._keys, keys)
        self._keys = np.insert(self._keys, at, keys)
        self._shard_of = np.insert(self._shard_of, at, shard)
        self._row_of = np.insert(self._row_of, at, row)

    def locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each key is cached.

        Parameters
        ----------
        keys : ndarray (n,) S32
            From :func:`text_keys`.

        Returns
        -------
        shard, row : ndarray (n,) int32
            Shard number and row of each key; ``shard == -1`` for keys not cached.
        """
        self.refresh()
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        shard = np.full(len(keys), -1, dtype=np.int32)
        row = np.zeros(len(keys), dtype=np.int32)
        if len(self._keys) and len(keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = self._keys[pos] == keys
            shard[hit] = self._shard_of[pos[hit]]
            row[hit] = self._row_of[pos[hit]]
        return shard, row

    def gather(self, shard: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
        """Copy cached rows into ``out`` (``out[i] = shard[i], row[i]``), one shard at a time."""
        for s in np.unique(shard):
            sel = np.flatnonzero(shard == s)
            rows = row[sel]
            order = np.argsort(rows, kind="stable")  # ascending rows read the memmap in order
            out[sel[order]] = self._shards[int(s)][rows[order]]

    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray | None, list[int]]:
        """Look keys up.

        Returns
        -------
        vectors : ndarray (len(keys), d) or None
            Cached rows filled in; rows of missing keys are zero. None when nothing is cached.
        missing : list of int
            Positions in ``keys`` that are not cached.
        """
        shard, row = self.locate(np.array(list(keys), dtype=KEY_DTYPE).reshape(len(keys)))
        missing = np.flatnonzero(shard < 0).tolist()
        if len(missing) == len(keys):
            return None, missing
        out = np.zeros((len(keys), self._shards[0].shape[1]), dtype=np.float32)
        hit = shard >= 0
        view = np.zeros((int(hit.sum()), out.shape[1]), dtype=np.float32)
        self.gather(shard[hit], row[hit], view)
        out[hit] = view
        return out, missing

    def put(self, keys: Sequence[bytes] | np.ndarray, vectors: np.ndarray) -> None:
        """Store one shard of new vectors (temp file + rename) and index it."""
        if len(keys) == 0:
            return
        self.refresh()
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "meta.json"
        if not meta.exists():
            from safetymix.io.writers import atomic_write

            with atomic_write(meta) as fh:
                fh.write(json.dumps(self.settings, indent=2, sort_keys=True))
        key_arr = np.asarray(list(keys) if not isinstance(keys, np.ndarray) else keys, dtype=KEY_DTYPE)
        name = hashlib.sha256(key_arr.tobytes()).hexdigest()[:16]
        vecs_path = self.dir / f"{name}.vecs.npy"
        # vectors first: a shard only counts once its keys file exists.
        _save_npy_atomic(vecs_path, np.ascontiguousarray(vectors, dtype=np.float32))
        _save_npy_atomic(self.dir / f"{name}.keys.npy", key_arr)
        if name in self._names:  # the same keys again: the files were just rewritten
            return
        self._names.add(name)
        self._shards.append(np.load(vecs_path, mmap_mode="r", allow_pickle=False))
        n = len(key_arr)
        self._merge(key_arr, np.full(n, len(self._shards) - 1, dtype=np.int32), np.arange(n, dtype=np.int32))
