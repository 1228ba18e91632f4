"""The parent side of a sweep: the labelled pool (built once) and each cell's picks."""

from __future__ import annotations

from typing import Any

from safetymix.schema import Example
from safetymix.sweep.cells import Cell
from safetymix.sweep.config import SweepConfig
from safetymix.sweep.plan import SweepInputs


def build_pool(config: SweepConfig, inputs: SweepInputs, *, show_progress: bool = False) -> tuple[Any, dict]:
    """The labelled :class:`~safetymix.select.Pool` every selecting cell reads, and the
    labelling report (records that arrive labelled keep their labels)."""
    from safetymix.select.prepare import prepare_pool

    names = [s.name for s in config.strategies]
    return prepare_pool(
        inputs.pool,
        config.pool,
        strategies=names,
        train=inputs.benign,
        rules=config.pool_rules(),
        show_progress=show_progress,
    )


def select_cell(cell: Cell, pool: Any, n_pool: int) -> tuple[dict[str, Any], list[Example]]:
    """The ``selection`` block of a cell and its picks (none for the baseline)."""
    from safetymix.select import Selection, get_strategy, picked_examples

    if cell.is_baseline:
        empty = Selection(cell.strategy, 0, cell.seed, [], n_pool, 0, None)
        empty.notes.append("baseline: no safety examples")
        return {"summary": empty.summary(), "picks": []}, []
    selection = get_strategy(cell.strategy, seed=cell.seed, **cell.strategy_params).select(pool, cell.budget)
    picks = picked_examples(pool, selection)
    rows = [
        {
            "id": e.id,
            "behaviour": e.behaviour,
            "categories": e.categories,
            "reason": e.extra.get("reason"),
            "prompt": e.prompt,
        }
        for e in picks
    ]
    return {"summary": selection.summary(), "picks": rows}, picks
