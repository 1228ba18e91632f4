"""On-disk embedding cache keyed by text hash + model + settings (numpy files, never pickle).

Layout::

    <root>/<settings-key>/meta.json              model name and settings, for humans
    <root>/<settings-key>/<shard>.keys.npy       (m,) S32: first 32 hex digits of sha256(text)
    <root>/<settings-key>/<shard>.vecs.npy       (m, d) float32, L2-normalised

Each :meth:`EmbeddingCache.put` writes one new shard through a temp file and a rename, so
a killed run keeps every shard it finished and a rerun only embeds what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def default_cache_root() -> Path:
    """``$SAFETYMIX_CACHE/embeddings`` if set, else ``~/.cache/safetymix/embeddings``."""
    base = os.environ.get("SAFETYMIX_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "safetymix"
    return root / "embeddings"


def text_key(text: str) -> bytes:
    """Cache key of one text: 32 ASCII hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32].encode("ascii")


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, path)


class EmbeddingCache:
    """Sharded cache of embeddings for one model + settings combination.

    Parameters
    ----------
    settings : dict
        Everything that changes the vectors (model name or path, revision, normalisation,
        max sequence length). Its canonical JSON is hashed into the folder name.
    root : Path, optional
        Cache root; default :func:`default_cache_root`.
    """

    def __init__(self, settings: dict, root: Path | None = None) -> None:
        self.settings = settings
        blob = json.dumps(settings, sort_keys=True).encode("utf-8")
        self.dir = (root or default_cache_root()) / hashlib.sha256(blob).hexdigest()[:16]
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._shards: list[np.ndarray] = []

    def _load_index(self) -> dict[bytes, tuple[int, int]]:
        if self._index is not None:
            return self._index
        index: dict[bytes, tuple[int, int]] = {}
        self._shards = []
        if self.dir.is_dir():
            for keys_path in sorted(self.dir.glob("*.keys.npy")):
                vecs_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".vecs.npy"))
                if not vecs_path.exists():  # shard killed between its two renames
                    continue
                keys = np.load(keys_path, allow_pickle=False)
                vecs = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
                if len(keys) != len(vecs):
                    continue
                shard_no = len(self._shards)
                self._shards.append(vecs)
                for row, key in enumerate(keys.tolist()):
                    index[key] = (shard_no, row)
        self._index = index
        return index

    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray | None, list[int]]:
        """Look keys up.

        Returns
        -------
        vectors : ndarray (len(keys), d) or None
            Cached rows filled in; rows of missing keys are zero. None when nothing is cached.
        missing : list of int
            Positions in ``keys`` that are not cached.
        """
        index = self._load_index()
        missing = [i for i, k in enumerate(keys) if k not in index]
        if len(missing) == len(keys):
            return None, missing
        dim = self._shards[0].shape[1]
        out = np.zeros((len(keys), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            hit = index.get(k)
            if hit is not None:
                out[i] = self._shards[hit[0]][hit[1]]
        return out, missing

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store one shard of new vectors (temp file + rename)."""
        if len(keys) == 0:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "meta.json"
        if not meta.exists():
            tmp = meta.with_name(f"meta.json.tmp{os.getpid()}")
            tmp.write_text(json.dumps(self.settings, indent=2, sort_keys=True))
            os.replace(tmp, meta)
        key_arr = np.array(list(keys), dtype="S32")
        shard = hashlib.sha256(key_arr.tobytes()).hexdigest()[:16]
        # vectors first: a shard only counts once its keys file exists.
        _save_npy_atomic(self.dir / f"{shard}.vecs.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        _save_npy_atomic(self.dir / f"{shard}.keys.npy", key_arr)
        self._index = None  # re-read on next lookup
