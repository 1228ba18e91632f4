"""Strategies by name: one literal dict and one lookup function.

Every base name also exists with the paper's ``-b`` suffix ("behaviour-aware": only the
pool's T1 part, or the types given by ``behaviours``).
"""

from __future__ import annotations

from typing import Any

from safetymix.errors import check_name
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
    cls, aware = _strategy_class(name)
    given = {k: v for k, v in params.items() if k not in ("seed", "behaviours", "rules")}
    check_param_names(name, cls, given)
    strategy = cls(behaviour_aware=aware, **params)
    validate_params(strategy)
    return strategy


def strategy_params(name: str, params: dict[str, Any], *, allow_behaviours: bool = False) -> dict[str, Any]:
    """Check user-given parameters of strategy ``name``: names against the class's constraint
    table (never ``seed``, nor ``behaviours`` and ``rules`` unless ``allow_behaviours``: a
    sweep's strategy entries set them, select has options for them), then values."""
    cls, aware = _strategy_class(name)
    reserved = ("seed", "behaviour_aware") if allow_behaviours else RESERVED
    check_param_names(name, cls, params, reserved)
    validate_params(cls(behaviour_aware=aware, **params))
    return params


def _strategy_class(name: str) -> tuple[type[Strategy], bool]:
    """The class of strategy ``name`` and whether it is behaviour-aware (the ``-b`` form)."""
    check_name("strategy", dict.fromkeys(available_strategies()), name)
    return STRATEGIES[name.removesuffix("-b")], name.endswith("-b")


def strategy_requires(names: Any) -> frozenset[str]:
    """What the Pool must provide for every strategy in ``names``."""
    out: frozenset[str] = frozenset()
    for n in names:
        out |= STRATEGIES[n.removesuffix("-b")].requires
    return out
