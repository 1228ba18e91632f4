"""Strategies by name: one literal dict and one lookup function.

Every base name also exists with the paper's ``-b`` suffix ("behaviour-aware": only the
pool's T1 part, or the types given by ``behaviours``).
"""

from __future__ import annotations

import inspect
from typing import Any

from safetymix.errors import ConfigError
from safetymix.select.base import Strategy
from safetymix.select.conditioned import TrainFarStrategy, TrainNearStrategy
from safetymix.select.diversity import FacilityLocationStrategy, KCenterStrategy, KMeansMedoidsStrategy
from safetymix.select.random import RandomStrategy
from safetymix.select.similarity import CossimStrategy
from safetymix.select.stratified import PrototypeStrategy, StratifiedStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomStrategy,
    "sss": StratifiedStrategy,
    "pss": PrototypeStrategy,
    "cossim": CossimStrategy,
    "kmeans-medoids": KMeansMedoidsStrategy,
    "facility-location": FacilityLocationStrategy,
    "k-center": KCenterStrategy,
    "train-near": TrainNearStrategy,
    "train-far": TrainFarStrategy,
}

#: The strategies of the paper (Pham et al. 2025), as the demo and benchmarks list them.
PAPER_STRATEGIES: tuple[str, ...] = ("random", "random-b", "sss-b", "pss-b", "cossim-b")


def available_strategies() -> list[str]:
    """Every valid name: each base name and its ``-b`` form."""
    return [n for base in STRATEGIES for n in (base, f"{base}-b")]


def _accepted_params(cls: type[Strategy]) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= {p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kwargs")}
    return names - {"behaviour_aware"}


def get_strategy(name: str, **params: Any) -> Strategy:
    """Build the strategy called ``name`` (e.g. ``"sss-b"``) with ``params``.

    Raises
    ------
    ConfigError
        For an unknown name (listing every valid one) or a parameter the strategy does not take.
    """
    base, aware = (name[:-2], True) if name.endswith("-b") else (name, False)
    if base not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; valid: {', '.join(available_strategies())}")
    cls = STRATEGIES[base]
    accepted = _accepted_params(cls)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(f"strategy {name!r} does not take {unknown}; it takes {sorted(accepted)}")
    return cls(behaviour_aware=aware, **params)
