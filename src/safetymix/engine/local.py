"""The local engine: everything in this process (the default)."""

from __future__ import annotations

from typing import ClassVar

from safetymix.engine.base import Engine


class LocalEngine(Engine):
    """Encode and label in this process, with the in-process models.

    Examples
    --------
    >>> enc = LocalEngine().encoder(batch_size=32)
    >>> enc.backend is None
    True
    """

    name: ClassVar[str] = "local"
