"""Strategy parameters checked against a per-class constraint table (scikit-learn's
``_parameter_constraints``): each class lists the keyword arguments it takes and what is
valid for each; :func:`validate_params` runs at the start of every ``select`` and names the
parameter, the value and what would have been valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from safetymix.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (int or float) in ``[low, high]`` (None: unbounded); never a bool."""

    kind: type
    low: float | None = None
    high: float | None = None

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        kinds = (int, np.integer) if self.kind is int else (int, float, np.integer, np.floating)
        if not isinstance(value, kinds):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        name = "an int" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            return f"{name} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{name} >= {self.low}"
        return f"{name} <= {self.high}" if self.high is not None else name


@dataclass(frozen=True)
class Options:
    """One of the listed values (compared by type and value: True is not 1)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


class Behaviours:
    """A non-empty list of behaviour names (T1..T4, unknown)."""

    def accepts(self, value: Any) -> bool:
        from safetymix.schema import BEHAVIOURS

        return (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(isinstance(b, str) and b in BEHAVIOURS for b in value)
        )

    def __str__(self) -> str:
        return "a non-empty list of T1, T2, T3, T4, unknown"


BOOL = Options((True, False))
#: Set by the registry name, the --seed and --behaviour options; never through --param.
RESERVED = ("seed", "behaviours", "behaviour_aware")


def constraints_of(cls: type) -> dict[str, Any]:
    """The merged ``_parameter_constraints`` of ``cls`` and its bases (subclasses win)."""
    table: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        table.update(vars(klass).get("_parameter_constraints", {}))
    return table


def check_param_names(
    name: str, cls: type, params: Mapping[str, Any], reserved_names: tuple[str, ...] = RESERVED
) -> None:
    """Refuse reserved names and names ``cls`` does not take, listing the ones it does."""
    reserved = sorted(set(params) & set(reserved_names))
    if reserved:
        raise ConfigError(
            f"strategy {name!r}: {reserved} cannot be given as a strategy parameter "
            "(use the seed and behaviour options)"
        )
    accepted = sorted(set(constraints_of(cls)) - set(reserved_names) - {"behaviour_aware"})
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise ConfigError(f"strategy {name!r} does not take {unknown}; it takes: {takes}")


def validate_params(strategy: Any) -> None:
    """Check every constrained attribute of ``strategy``; the first bad one raises."""
    name = getattr(strategy, "registry_name", type(strategy).__name__)
    for param, constraint in constraints_of(type(strategy)).items():
        value = getattr(strategy, param)
        if not constraint.accepts(value):
            raise ConfigError(
                f"the {param!r} parameter of strategy {name!r} must be {constraint}; got {value!r}"
            )
