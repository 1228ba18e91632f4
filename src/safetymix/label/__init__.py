"""Labelling: behaviour (T1-T4 from three flags) and harm categories.

Names are resolved lazily (PEP 562), so importing one labeller module does not import
every other one.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "label_pool": "safetymix.label.pool",
    "label_file": "safetymix.label.stream",
    "gold_refusal": "safetymix.label.stream",
    "LabellerSpec": "safetymix.label.registry",
    "BEHAVIOUR_LABELLERS": "safetymix.label.registry",
    "CATEGORY_LABELLERS": "safetymix.label.registry",
    "DEFAULT_BEHAVIOUR_LABELLER": "safetymix.label.registry",
    "DEFAULT_CATEGORY_LABELLER": "safetymix.label.registry",
    "available_labellers": "safetymix.label.registry",
    "get_behaviour_labeller": "safetymix.label.registry",
    "get_category_labeller": "safetymix.label.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'safetymix.label' has no attribute {name!r}")
