"""Sentence embeddings with an on-disk cache (no torch import when the cache is warm).

:class:`Encoder` embeds texts in memory; :func:`embed_file` streams a whole file into a
memory-mapped ``.npy`` array that :func:`open_embeddings` opens read-only.
"""

from __future__ import annotations

from safetymix.embed.cache import EmbeddingCache
from safetymix.embed.encoder import DEFAULT_MODEL, Encoder, EncodeStats, embed
from safetymix.embed.storage import embed_file, open_embeddings

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "EncodeStats",
    "Encoder",
    "embed",
    "embed_file",
    "open_embeddings",
]
