"""What an engine does: embed texts that the cache lacks, and label chunks of examples.

An engine only decides *where* the work runs. Reading, caching, checkpointing and writing
stay on the driver, in :func:`safetymix.embed.embed_file` and
:func:`safetymix.label.label_file`, so every engine gives the same files and fills the same
cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder
from safetymix.label.registry import LabellerSpec
from safetymix.label.stream import ChunkLabeller, local_chunk_labeller


class Engine:
    """Base class; the constructor only stores parameters (nothing starts until used)."""

    name: ClassVar[str] = ""
    #: Records per chunk when the caller does not choose (the unit of resumption).
    default_chunk_size: ClassVar[int] = 4096
    #: Records per chunk this engine was built with (None: ``default_chunk_size``).
    chunk_size: int | None = None

    def encoder(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        chunk_size: int | None = None,
        show_progress: bool = False,
    ) -> Encoder:
        """An :class:`~safetymix.embed.Encoder` (cache on the driver) that encodes on this engine."""
        return Encoder(
            model,
            batch_size=batch_size,
            chunk_size=chunk_size or self.chunk_size or self.default_chunk_size,
            show_progress=show_progress,
            backend=self.encode_backend(model, batch_size),
        )

    def encode_backend(self, model: str = DEFAULT_MODEL, batch_size: int = 64) -> Callable | None:
        """What encodes the texts the cache lacks; None: the encoder's own model, in this process."""
        return None

    def chunk_labeller(
        self,
        behaviour: LabellerSpec | None,
        category: LabellerSpec | None,
        *,
        overwrite: bool = False,
    ) -> ChunkLabeller:
        """``label_chunk(examples) -> (labelled, report)`` for :func:`safetymix.label.label_file`;
        by default the labellers run in this process."""
        return local_chunk_labeller(behaviour, category, overwrite=overwrite)

    def close(self) -> None:
        """Release what the engine started (a local Ray instance, ...)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"
