"""The local engine: everything in this process (the default)."""

from __future__ import annotations

from typing import Any, ClassVar

from safetymix.engine.base import Engine
from safetymix.label.pool import label_pool, resolve_labeller
from safetymix.label.registry import LabellerSpec
from safetymix.label.stream import ChunkLabeller
from safetymix.schema import Example


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
        # Build the labellers once: their models then load once for the whole file.
        beh = resolve_labeller(behaviour, "behaviour") if behaviour is not None else None
        cat = resolve_labeller(category, "category") if category is not None else None

        def label_chunk(examples: list[Example]) -> tuple[list[Example], dict[str, Any]]:
            return label_pool(examples, behaviour_labeller=beh, category_labeller=cat, overwrite=overwrite)

        return label_chunk
