"""Sentence embeddings with an on-disk cache (no torch import when the cache is warm)."""

from __future__ import annotations

from safetymix.embed.cache import EmbeddingCache
from safetymix.embed.encoder import DEFAULT_MODEL, Encoder, embed

__all__ = ["DEFAULT_MODEL", "EmbeddingCache", "Encoder", "embed"]
