"""Engines: where embedding and labelling run (this process, or a Ray cluster).

``ENGINES`` maps each ``--engine`` name to its class; :func:`get_engine` builds one by
name. Every engine gives the same outputs and fills the same embedding cache; only the
place where models run changes.
"""

from __future__ import annotations

from typing import Any

from safetymix.engine.base import Engine
from safetymix.engine.local import LocalEngine
from safetymix.engine.ray_engine import RayEngine
from safetymix.errors import ConfigError

ENGINES: dict[str, type[Engine]] = {"local": LocalEngine, "ray": RayEngine}


def get_engine(name: str = "local", **params: Any) -> Engine:
    """Build the engine called ``name``; unknown names list every valid one.

    Examples
    --------
    >>> get_engine("local")
    LocalEngine()
    """
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")
    try:
        return ENGINES[name](**params)
    except TypeError as exc:
        raise ConfigError(f"engine {name!r}: {exc}") from exc


def available_engines() -> list[str]:
    """Names :func:`get_engine` accepts."""
    return list(ENGINES)


__all__ = ["ENGINES", "Engine", "LocalEngine", "RayEngine", "available_engines", "get_engine"]
