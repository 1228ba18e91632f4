"""The grid of a sweep: one :class:`Cell` per (model, seed, strategy, budget), content-addressed.

A cell's id is the first 12 hex digits of the sha256 of its canonical JSON: the cell's own
parameters, every option that changes its result (train and eval sections, upsampling,
the contamination check, the pool's labellers and taxonomy) and the sha256 of every input
(benign set, pool, reference file, taxonomy file, evaluation suites). Labels and the
safetymix version are not part of it: renaming a strategy or upgrading the package does
not throw finished cells away. Baseline cells never read the pool, so the pool and its
options are left out of their ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from safetymix.schema import Example
from safetymix.sweep.config import BASELINE, SweepConfig

#: Hex digits of a cell id (48 bits: a collision needs ~16 million cells).
ID_LENGTH = 12


@dataclass(frozen=True)
class Cell:
    """One unit of a sweep: select -> mix -> train -> eval for these parameters.

    Parameters
    ----------
    cell_id : str
        Content address (see the module docstring).
    model : str
        Base model name or folder, as configured.
    strategy : str
        Registry name, or ``"none"`` for the baseline.
    label : str
        The strategy's label in reports (``"none"`` for the baseline).
    strategy_params : dict
        Extra strategy parameters (``{}`` for most).
    budget : int
        Resolved number of safety examples (0 for the baseline).
    seed : int
        Seed of the selection, the mix's shuffle and training.
    """

    cell_id: str
    model: str
    strategy: str
    label: str
    budget: int
    seed: int
    strategy_params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        return self.strategy == BASELINE

    def params(self) -> dict[str, Any]:
        """The ``params`` block of the cell's result file."""
        return {
            "model": self.model,
            "strategy": self.strategy,
            "label": self.label,
            "strategy_params": dict(self.strategy_params),
            "budget": self.budget,
            "seed": self.seed,
        }


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same data always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def examples_sha256(examples: Sequence[Example]) -> str:
    """sha256 of in-memory examples: their canonical JSON (every field, ``extra`` included)."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(canonical_json(e.to_dict()).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def content_address(payload: dict[str, Any]) -> str:
    """First :data:`ID_LENGTH` hex digits of the sha256 of ``payload``'s canonical JSON."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:ID_LENGTH]


def shared_settings(config: SweepConfig, hashes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every cell's result depends on besides its own parameters.

    Returns
    -------
    common : dict
        Settings and input hashes of every cell (train, eval, benign set, suites).
    pool : dict
        What only cells that select depend on (pool, labellers, taxonomy, reference, upsampling).
    """
    common = {
        "train": config.train.cell_fields(),
        "eval": config.eval.cell_fields(),
        "check_contamination": config.check_contamination,
        "benign_sha256": hashes["benign"],
        "suites_sha256": hashes["suites"],
    }
    pool = {
        "pool_sha256": hashes["pool"],
        "reference_sha256": hashes.get("reference"),
        "taxonomy_sha256": hashes.get("taxonomy"),
        "labelling": config.pool.model_dump(
            mode="json", exclude={"path", "format", "reference", "api_key_env"}, exclude_none=True
        ),
        "upsample": config.upsample,
    }
    return common, pool


def expand_cells(config: SweepConfig, hashes: dict[str, Any], n_benign: int) -> list[Cell]:
    """Every cell of the grid, in run order: per model and seed, the baseline, then each
    strategy at each budget (so early results cover every strategy at one seed).

    Parameters
    ----------
    config : SweepConfig
    hashes : dict
        sha256 of the inputs: ``benign``, ``pool``, ``suites`` (name -> sha256) and
        optionally ``reference`` and ``taxonomy``.
    n_benign : int
        Size of the benign set (for budgets given as shares).

    Raises
    ------
    BudgetError
        A share that rounds to 0, or two budgets that resolve to the same count.
    """
    from safetymix.errors import BudgetError
    from safetymix.select.budget import resolve_budget

    budgets = [resolve_budget(b, n_benign) for b in config.budgets]
    if len(set(budgets)) < len(budgets):
        raise BudgetError(f"budgets {config.budgets} resolve to repeated counts {budgets}")
    common, pool = shared_settings(config, hashes)
    cells = []
    for model in config.models:
        for seed in config.seeds:
            if config.baseline:
                payload = {"model": model, "strategy": BASELINE, "budget": 0, "seed": seed, **common}
                cells.append(Cell(content_address(payload), model, BASELINE, BASELINE, 0, seed))
            for spec in config.strategies:
                for k in budgets:
                    payload = {
                        "model": model,
                        "strategy": spec.name,
                        "strategy_params": spec.params,
                        "budget": k,
                        "seed": seed,
                        **common,
                        **pool,
                    }
                    cells.append(
                        Cell(
                            content_address(payload), model, spec.name, str(spec.label), k, seed, spec.params
                        )
                    )
    return cells
