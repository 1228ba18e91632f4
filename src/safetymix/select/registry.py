"""Strategies by name: one literal dict and one lookup function.

Every base name also exists with the paper's ``-b`` suffix ("behaviour-aware": only the
pool's T1 part, or the types given by ``behaviours``).
"""

from __future__ import annotations

from typing import Any

from safetymix.errors import ConfigError
from safetymix.select.base import Strategy
from safetymix.select.conditioned import TrainFarStrategy, TrainNearStrategy
from safetymix.select.diversity import FacilityLocationStrategy, KCenterStrategy, KMeansMedoidsStrategy
from safetymix.select.params import RESERVED, check_param_names, validate_params
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
    check_param_names(name, cls, {k: v for k, v in params.items() if k not in ("seed", "behaviours")})
    strategy = cls(behaviour_aware=aware, **params)
    validate_params(strategy)
    return strategy


def strategy_params(name: str, params: dict[str, Any], *, allow_behaviours: bool = False) -> dict[str, Any]:
    """Check user-given parameters of strategy ``name``: names against the class's constraint
    table (never ``seed``, nor ``behaviours`` unless ``allow_behaviours``), then values."""
    base = name.removesuffix("-b")
    if base not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; valid: {', '.join(available_strategies())}")
    reserved = ("seed", "behaviour_aware") if allow_behaviours else RESERVED
    check_param_names(name, STRATEGIES[base], params, reserved)
    validate_params(STRATEGIES[base](behaviour_aware=name.endswith("-b"), **params))
    return params


def strategy_requires(names: Any) -> frozenset[str]:
    """What the Pool must provide for every strategy in ``names``."""
    out: frozenset[str] = frozenset()
    for n in names:
        out |= STRATEGIES[n.removesuffix("-b")].requires
    return out
