"""Typed options of ``safetymix select`` and the functions that run a whole selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from safetymix.errors import BudgetError, check_name, redact_json
from safetymix.io.readers import DEFAULT_DUPLICATES, DUPLICATES_HELP
from safetymix.schema import BEHAVIOURS, Example
from safetymix.select.base import DEFAULT_BEHAVIOURS, Selection
from safetymix.select.budget import resolve_budget
from safetymix.select.prepare import PoolConfig, prepare_pool, reference_from_file
from safetymix.select.registry import available_strategies, get_strategy, strategy_params

__all__ = ["SelectConfig", "reference_from_file", "run_select", "select_to_file"]


class SelectConfig(PoolConfig):
    """Options of ``safetymix select``; a YAML file sets them, CLI flags override."""

    strategy: str = Field("sss-b", description=f"one of: {', '.join(available_strategies())}")
    budget: str = Field(..., description="count ('100') or share of --train ('0.5%'); at least 1 pick")
    seed: int = Field(0, ge=0, description="seed of every random choice")
    behaviour: list[str] = Field(
        list(DEFAULT_BEHAVIOURS), description="types a -b strategy keeps (repeatable)"
    )
    train: str | None = Field(
        None, description="your benign fine-tuning set (budget shares, train-* strategies)"
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="extra strategy parameter key=value (repeatable)",
        json_schema_extra={"flags": ["--param"]},
    )
    rules: Literal["ours", "paper"] = Field(
        "ours", description="quota rules: ours, or those of the paper's sampling/ scripts (README)"
    )
    include_unsure: bool = Field(
        False,
        description="also pick pairs whose harmful-response flag is unsure (null); reported in the notes",
    )
    duplicates: Literal["error", "drop", "keep"] = Field(DEFAULT_DUPLICATES, description=DUPLICATES_HELP)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        check_name("strategy", dict.fromkeys(available_strategies()), v)
        return v

    @field_validator("behaviour")
    @classmethod
    def _known_behaviours(cls, v: list[str]) -> list[str]:
        bad = [b for b in v if b not in BEHAVIOURS]
        if bad or not v:
            raise ValueError(f"behaviour must be a non-empty subset of {list(BEHAVIOURS)}, got {v}")
        return v

    @field_validator("budget", mode="before")
    @classmethod
    def _budget_text(cls, v: Any) -> str:
        if isinstance(v, bool):
            raise ValueError(f"a budget is a count or a share like '0.5%', got {v}")
        return str(v)

    @model_validator(mode="after")
    def _check_params(self) -> SelectConfig:
        strategy_params(self.strategy, self.params)
        return self


def run_select(
    pool_path: str | Path, config: SelectConfig, *, show_progress: bool = False
) -> tuple[list[Example], Selection, dict]:
    """Read a pool, label what lacks labels, select; nothing is written.

    Returns
    -------
    picks : list of Example
        The picks in order, each with ``extra["reason"]``.
    selection : Selection
    report : dict
        JSON-ready record of the run: resolved config, labelling report, summary.

    Raises
    ------
    BudgetError
        The budget resolves to 0 picks.
    """
    from safetymix.io import read_examples
    from safetymix.select import picked_examples

    strategy = get_strategy(
        config.strategy, seed=config.seed, behaviours=config.behaviour, rules=config.rules, **config.params
    )
    train = read_examples(config.train, duplicates="keep") if config.train else None
    k = resolve_budget(config.budget, len(train) if train is not None else None)
    if k < 1:
        raise BudgetError(f"budget {config.budget!r} gives {k} picks; select at least 1")
    pool_examples = read_examples(pool_path, duplicates=config.duplicates)
    pool, label_report = prepare_pool(
        pool_examples,
        config,
        strategies=[config.strategy],
        train=train,
        include_unsure=config.include_unsure,
        rules=config.rules,
        show_progress=show_progress,
    )
    selection = strategy.select(pool, k)
    report = {
        "config": redact_json(config.model_dump(mode="json")),
        "labelling": label_report,
        "selection": selection.summary(),
    }
    return picked_examples(pool, selection), selection, report


def select_to_file(
    pool_path: str | Path, out: str | Path, config: SelectConfig, *, show_progress: bool = False
) -> tuple[list[Example], Selection, dict]:
    """:func:`run_select`, then the picks (canonical JSONL) and ``OUT.selection.json``, together.

    Returns the picks, the selection and the run record written beside ``out``.
    """
    from safetymix.io import RunRecord, write_examples

    out = Path(out)
    inputs = {"pool": pool_path, "train": config.train, "reference": config.reference}
    with RunRecord("select", out, out.with_name(out.name + ".selection.json"), inputs) as run:
        picks, selection, report = run_select(pool_path, config, show_progress=show_progress)
        write_examples(run.staged, picks, format="jsonl")
        return picks, selection, run.commit(report)
