"""Engines: where embedding and labelling run (this process, or a Ray cluster).

``ENGINES`` maps each ``--engine`` name to its class; :func:`get_engine` builds one by
name. Every engine gives the same outputs and fills the same embedding cache; only the
place where models run changes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from safetymix.engine.base import Engine
from safetymix.engine.local import LocalEngine
from safetymix.engine.ray_engine import RayEngine
from safetymix.errors import build_by_name
from safetymix.stage_config import StageConfig

ENGINES: dict[str, type[Engine]] = {"local": LocalEngine, "ray": RayEngine}


def get_engine(name: str = "local", **params: Any) -> Engine:
    """Build the engine called ``name``; unknown names list every valid one.

    Examples
    --------
    >>> get_engine("local")
    LocalEngine()
    """
    return build_by_name("engine", ENGINES, name, params)


class EngineOptions(StageConfig):
    """The options of the chunked commands (``label``, ``embed``): engine, chunks, line cap."""

    chunk_size: int | None = Field(
        None,
        ge=1,
        description="records per chunk, the unit of memory, cache writes and resumption "
        "(default: 4096; ray: 32768)",
    )
    engine: Literal["local", "ray"] = Field("local", description="where models run")
    ray_address: str | None = Field(
        None,
        description="Ray cluster for --engine ray, e.g. ray://head:10001 (default: $RAY_ADDRESS or local)",
    )
    ray_gpus: float | None = Field(None, ge=0, description="GPUs per Ray actor, e.g. 1 for a guard model")
    max_line_bytes: int | None = Field(
        None, ge=1, description="longest accepted input line (default: 64 MiB)"
    )

    @model_validator(mode="after")
    def _ray_only(self) -> EngineOptions:
        if (self.ray_address is not None or self.ray_gpus is not None) and self.engine != "ray":
            raise ValueError(
                "--ray-address and --ray-gpus need --engine ray (YAML: ray_address, ray_gpus, engine)"
            )
        return self

    def build_engine(self) -> Engine:
        """The engine these options name."""
        params = {"address": self.ray_address, "num_gpus_per_actor": self.ray_gpus}
        return get_engine(self.engine, **{k: v for k, v in params.items() if v is not None})


def available_engines() -> list[str]:
    """Names :func:`get_engine` accepts."""
    return list(ENGINES)


__all__ = [
    "ENGINES",
    "Engine",
    "EngineOptions",
    "LocalEngine",
    "RayEngine",
    "available_engines",
    "get_engine",
]
