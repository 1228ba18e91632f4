"""Sweep: the experiment grid strategies x budgets x seeds (x models), one cell each.

Each cell selects k safety examples, mixes them into the benign set, fine-tunes, and
evaluates, with safetymix's own stages; a baseline cell per seed and model trains on the
benign set alone. Cells are content-addressed, so an interrupted sweep resumes where it
stopped, and a finished run folder holds one result file per cell
(``RUN_DIR/cells/<cell_id>.json``) that :func:`load_cells` reads back.

Examples
--------
>>> from safetymix.sweep import SweepConfig, load_cells, run_sweep
>>> config = SweepConfig(strategies=["random", "sss-b"], budgets=[10, 100], seeds=[0, 1],
...                      models=["meta-llama/Llama-2-7b-hf"], benign={"path": "alpaca.json"},
...                      pool={"path": "pool.json"})  # doctest: +SKIP
>>> run_sweep(config, "runs/sss-vs-random")  # doctest: +SKIP
>>> cells = load_cells("runs/sss-vs-random")  # doctest: +SKIP
"""

from __future__ import annotations

from safetymix.sweep.cells import Cell, expand_cells
from safetymix.sweep.config import BASELINE, StrategySpec, SweepConfig
from safetymix.sweep.plan import SweepPlan, plan_sweep
from safetymix.sweep.results import CellRecord, cell_metrics, load_cells, read_cell
from safetymix.sweep.runner import run_sweep

__all__ = [
    "BASELINE",
    "Cell",
    "CellRecord",
    "StrategySpec",
    "SweepConfig",
    "SweepPlan",
    "cell_metrics",
    "expand_cells",
    "load_cells",
    "plan_sweep",
    "read_cell",
    "run_sweep",
]
