"""The local engine: everything in this process (the default)."""

from __future__ import annotations

from typing import ClassVar

from safetymix.engine.base import Engine
from safetymix.label.registry import LabellerSpec
from safetymix.label.stream import ChunkLabeller, local_chunk_labeller


class LocalEngine(Engine):
    """Encode and label in this process, with the in-process models.

    Examples
    --------
    >>> enc = LocalEngine().encoder(batch_size=32)
    >>> enc.backend is None
    True
    """

    name: ClassVar[str] = "local"

    def chunk_labeller(
        self,
        behaviour: LabellerSpec | None,
        category: LabellerSpec | None,
        *,
        overwrite: bool = False,
    ) -> ChunkLabeller:
        return local_chunk_labeller(behaviour, category, overwrite=overwrite)
