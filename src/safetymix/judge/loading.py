"""Loading Hugging Face models for the model-based judges (torch imported lazily)."""

from __future__ import annotations

import logging
from typing import Any

from safetymix.errors import ConfigError
from safetymix.models import (
    import_torch_transformers,
    load_pretrained,
    load_tokenizer,
    model_ref,
    resolve_device,
)

logger = logging.getLogger(__name__)


def load_model(
    auto_class: str, model: str, device: str | None, dtype: str | None, who: str
) -> tuple[Any, Any, str]:
    """Load ``(tokenizer, model, device)`` with ``transformers.<auto_class>``, in eval mode.

    ``model`` is a Hugging Face name or folder, or a ``.gguf`` file
    (:func:`safetymix.models.load_pretrained`).

    Raises
    ------
    ConfigError
        When ``model`` is empty or cannot be loaded (not found, no network, wrong kind).
    """
    if not model:
        raise ConfigError(f"{who} needs model= (a Hugging Face name or local path); there is no default")

    import_torch_transformers(who)
    device = resolve_device(device)
    ref = model_ref(model)
    lm = load_pretrained(ref, auto_class=auto_class, dtype=dtype, who=who)
    tokenizer = load_tokenizer(ref, who=who)
    logger.info("%s: loaded %s on %s", who, model, device)
    return tokenizer, lm.to(device).eval(), device


def batches(items: list[Any], size: int) -> list[list[Any]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
