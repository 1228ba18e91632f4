"""Selection: pick k safety examples from a labelled pool with a named strategy."""

from __future__ import annotations

import dataclasses
from typing import Any

from safetymix.schema import Example
from safetymix.select.base import DEFAULT_BEHAVIOURS, Pick, Pool, Selection, Strategy
from safetymix.select.budget import resolve_budget
from safetymix.select.prepare import PoolConfig, prepare_pool
from safetymix.select.registry import PAPER_STRATEGIES, STRATEGIES, available_strategies, get_strategy


def select(pool: Pool, strategy: str, k: int, *, seed: int = 0, **params: Any) -> Selection:
    """Select ``k`` examples of ``pool`` with the strategy called ``strategy``.

    Examples
    --------
    >>> selection = select(pool, "sss-b", 100, seed=0)  # doctest: +SKIP
    """
    return get_strategy(strategy, seed=seed, **params).select(pool, k)


def picked_examples(pool: Pool, selection: Selection) -> list[Example]:
    """The picked examples in pick order, each with its reason under ``extra["reason"]``."""
    by_id = {e.id: e for e in pool.examples}
    out = []
    for pick in selection.picks:
        e = by_id[pick.id]
        out.append(
            dataclasses.replace(
                e,
                categories=list(e.categories) if e.categories is not None else None,
                extra={**e.extra, "reason": pick.reason()},
            )
        )
    return out


__all__ = [
    "DEFAULT_BEHAVIOURS",
    "PAPER_STRATEGIES",
    "STRATEGIES",
    "Pick",
    "Pool",
    "PoolConfig",
    "Selection",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "picked_examples",
    "prepare_pool",
    "resolve_budget",
    "select",
]
