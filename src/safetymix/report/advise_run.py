"""Advise by running only the cells needed: budgets from the smallest up, stop when met.

:func:`advise_by_running` takes a sweep config instead of a finished run. It runs the
benign-only cells and every strategy x seed at the smallest budget, advises on what is in
the run folder, and moves on to the next budget only while no tested budget meets the
targets. Cells are the sweep's own (content-addressed), so they are reused by a later
``safetymix sweep`` of the same config into the same folder, and a rerun resumes.

With ``basis="raw"`` (the default) the answer equals what the full grid would give: a
budget meets the targets on its own seeds only, so larger budgets cannot change the
smallest one that meets them. With ``basis="fit"`` the isotonic fit uses the budgets
tested so far, so stopping early can differ from fitting the full grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError
from safetymix.report.advise import Advice, AdviseConfig, advise
from safetymix.report.aggregate import aggregate
from safetymix.report.cells import read_run


@dataclass
class AdaptiveAdvice:
    """The advice after the last round, and which budgets were run and which were not."""

    advice: Advice
    tested: list[int | str]
    skipped: list[int | str]
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.advice.as_dict(), "tested_budgets": self.tested, "skipped_budgets": self.skipped}


def _budgets_in_order(config: Any, run_dir: Path) -> list[int | str]:
    """The config's budgets sorted by the count they resolve to (shares need the benign size)."""
    from safetymix.select.budget import resolve_budget
    from safetymix.sweep import plan_sweep

    n_benign = len(plan_sweep(config, run_dir).inputs.benign)
    return sorted(config.budgets, key=lambda b: resolve_budget(b, n_benign))


def advise_by_running(
    config: Any,
    run_dir: str | Path,
    advise_config: AdviseConfig,
    *,
    workers: int = 1,
    threads_per_worker: int | None = 1,
    show_progress: bool = False,
    console: Any = None,
) -> AdaptiveAdvice:
    """Run the sweep ``config`` one budget at a time, smallest first, until the targets are met.

    Parameters
    ----------
    config : SweepConfig
        The grid to draw from. ``baseline`` must be true (the over-refusal increase is
        measured against the benign-only cells). When ``advise_config.strategies`` is set,
        only those strategy labels are run.
    run_dir : str or Path
        Run folder (as for ``safetymix sweep``); finished cells in it are reused.
    advise_config : AdviseConfig
        Targets and rules.
    workers, threads_per_worker, show_progress, console
        As in :func:`safetymix.sweep.run_sweep`.

    Returns
    -------
    AdaptiveAdvice
        The advice on the budgets tested, the budgets run and the budgets never run.

    Raises
    ------
    ConfigError
        ``baseline`` is false, or ``advise_config.strategies`` names a label the config lacks.
    """
    from safetymix.sweep import run_sweep

    if not config.baseline:
        raise ConfigError("advise needs the benign-only cells: set baseline: true in the sweep config")
    if advise_config.strategies:
        labels = {str(s.label) for s in config.strategies}
        unknown = sorted(set(advise_config.strategies) - labels)
        if unknown:
            raise ConfigError(f"unknown strategy label(s) {unknown}; the sweep config has {sorted(labels)}")
        kept = [s for s in config.strategies if str(s.label) in advise_config.strategies]
        config = config.model_copy(update={"strategies": kept})
    run_dir = Path(run_dir)
    budgets = _budgets_in_order(config, run_dir)
    rounds: list[dict[str, Any]] = []
    advice = None
    for i, budget in enumerate(budgets):
        step = config.model_copy(update={"budgets": budgets[: i + 1]})
        summary = run_sweep(
            step,
            run_dir,
            workers=workers,
            threads_per_worker=threads_per_worker,
            show_progress=show_progress,
            console=console,
        )
        advice = advise(aggregate(read_run(run_dir), confidence=advise_config.confidence), advise_config)
        rounds.append({"budget": budget, "n_ok": summary["n_ok"], "n_failed": summary["n_failed"]})
        if advice.found:
            return AdaptiveAdvice(advice, budgets[: i + 1], budgets[i + 1 :], rounds)
    assert advice is not None  # a sweep config has at least one budget
    return AdaptiveAdvice(advice, budgets, [], rounds)
