"""Working inside other trainers: config fragments that read a mix, and a safety monitor.

:func:`~safetymix.integrations.configs.trainer_config` writes the LLaMA-Factory, Axolotl or
TRL config that reads a file of ``safetymix mix`` (``mix --emit-config``).
:class:`SafetyProbeCallback` is a ``transformers.TrainerCallback`` that measures harmful
refusal and over-refusal on a fixed probe set every N steps (transformers is imported only
when it is used).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SafetyProbeCallback", "trainer_config"]


def __getattr__(name: str) -> Any:
    if name == "SafetyProbeCallback":
        from safetymix.integrations.probe import SafetyProbeCallback

        return SafetyProbeCallback
    if name == "trainer_config":
        from safetymix.integrations.configs import trainer_config

        return trainer_config
    raise AttributeError(f"module 'safetymix.integrations' has no attribute {name!r}")
