"""Loading Hugging Face models for the model-based judges (torch imported lazily)."""

from __future__ import annotations

import logging
from typing import Any

from safetymix.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)


def import_torch_transformers(who: str) -> tuple[Any, Any]:
    """``(torch, transformers)``, or a MissingDependencyError with an install hint."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            f"{who} needs torch and transformers: pip install 'safetymix[train]'"
        ) from exc
    return torch, transformers


def resolve_device(torch: Any, device: str | None) -> str:
    """The given device, else cuda when available, else cpu."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(torch: Any, dtype: str | None) -> dict[str, Any]:
    """``from_pretrained`` keyword for a dtype name (``{}`` keeps the checkpoint's own)."""
    if dtype is None:
        return {}
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise ConfigError(f"unknown torch dtype {dtype!r}; e.g. float32, bfloat16, float16")
    return {"dtype": value}


def load_model(
    auto_class: str, model: str, device: str | None, dtype: str | None, who: str
) -> tuple[Any, Any, str]:
    """Load ``(tokenizer, model, device)`` with ``transformers.<auto_class>``, in eval mode.

    Raises
    ------
    ConfigError
        When ``model`` is empty or cannot be loaded (not found, no network, wrong kind).
    """
    if not model:
        raise ConfigError(f"{who} needs model= (a Hugging Face name or local path); there is no default")
    torch, transformers = import_torch_transformers(who)
    device = resolve_device(torch, device)
    kwargs = resolve_dtype(torch, dtype)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        lm = getattr(transformers, auto_class).from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{who}: cannot load {model!r} as {auto_class}: {exc}") from exc
    logger.info("%s: loaded %s on %s", who, model, device)
    return tokenizer, lm.to(device).eval(), device


def batches(items: list[Any], size: int) -> list[list[Any]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
