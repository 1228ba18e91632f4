"""Typed options of ``safetymix select`` and the function that runs a whole selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safetymix import __version__
from safetymix.embed import DEFAULT_MODEL
from safetymix.errors import ConfigError
from safetymix.io.readers import DEFAULT_DUPLICATES
from safetymix.schema import BEHAVIOURS, Example
from safetymix.select.base import DEFAULT_BEHAVIOURS, Pool, Selection
from safetymix.select.budget import resolve_budget
from safetymix.select.registry import available_strategies, get_strategy

_NEEDS_REFERENCE = ("cossim",)
_NEEDS_TRAIN = ("train-near", "train-far")


class SelectConfig(BaseModel):
    """Options of ``safetymix select``; a YAML file sets them, CLI flags override."""

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field("sss-b", description="strategy name (the paper's best: sss-b)")
    budget: str = Field(..., description="count ('100') or share of the benign set ('0.5%')")
    seed: int = Field(0, description="seed of every random choice")
    behaviour: list[str] = Field(list(DEFAULT_BEHAVIOURS), description="types a -b strategy keeps")
    taxonomy: str = Field("beavertails", description="taxonomy name or JSON file")
    reference: str | None = Field(None, description="labelled file of Cossim reference examples")
    train: str | None = Field(None, description="the user's benign set (budget shares, train-* strategies)")
    embedding_model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path")
    behaviour_labeller: str = Field("embedding", description="labeller for pools without behaviour labels")
    category_labeller: str = Field("embedding", description="labeller for pools without categories")
    params: dict[str, Any] = Field(default_factory=dict, description="extra strategy parameters")
    duplicates: Literal["error", "drop", "keep"] = Field(
        DEFAULT_DUPLICATES, description="repeated identical pool records: fail, drop or keep"
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in available_strategies():
            raise ValueError(f"unknown strategy {v!r}; valid: {', '.join(available_strategies())}")
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
        return str(v)


def reference_from_file(path: str | Path, categories: tuple[str, ...], encode) -> dict:
    """Cossim reference sets from a labelled file: per category, the records carrying
    exactly that one category (the paper: BeaverTails QA pairs with a single category)."""
    from safetymix.io import read_examples

    records = read_examples(path, allow_missing_response=True, duplicates="drop")
    by_cat: dict[str, list[str]] = {c: [] for c in categories}
    for r in records:
        if r.categories is not None and len(r.categories) == 1 and r.categories[0] in by_cat:
            by_cat[r.categories[0]].append(r.prompt)
    empty = [c for c, texts in by_cat.items() if not texts]
    if empty:
        raise ConfigError(f"{path}: no single-category reference examples for {empty}")
    return {c: encode(texts) for c, texts in by_cat.items()}


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
        JSON-ready record of the run: version, resolved config, labelling report, summary.
    """
    from safetymix.embed import Encoder
    from safetymix.io import read_examples, sha256_file
    from safetymix.label import label_pool
    from safetymix.label.category import EmbeddingCategoryLabeller
    from safetymix.label.registry import get_behaviour_labeller, get_category_labeller
    from safetymix.label.taxonomy import load_taxonomy
    from safetymix.select import picked_examples

    strategy = get_strategy(config.strategy, seed=config.seed, behaviours=config.behaviour, **config.params)
    encoder = Encoder(config.embedding_model, show_progress=show_progress)
    taxonomy = load_taxonomy(config.taxonomy)
    base = config.strategy.removesuffix("-b")
    train = None
    if config.train:
        train = read_examples(config.train, duplicates="keep")
    elif base in _NEEDS_TRAIN:
        raise ConfigError(f"strategy {config.strategy!r} needs the benign set: --train FILE")
    k = resolve_budget(config.budget, len(train) if train is not None else None)

    examples = read_examples(pool_path, duplicates=config.duplicates)
    if config.category_labeller == "embedding":
        cat_labeller = EmbeddingCategoryLabeller(taxonomy=config.taxonomy, model=config.embedding_model)
    else:
        cat_labeller = get_category_labeller(config.category_labeller, taxonomy=config.taxonomy)
    beh_labeller = get_behaviour_labeller(config.behaviour_labeller)
    examples, label_report = label_pool(
        examples, behaviour_labeller=beh_labeller, category_labeller=cat_labeller, show_progress=show_progress
    )
    reference = None
    if base in _NEEDS_REFERENCE:
        if config.reference:
            reference = reference_from_file(config.reference, tuple(taxonomy.names), encoder.encode)
        else:
            reference = cat_labeller.reference_embeddings()
    pool = Pool(
        examples,
        categories=taxonomy.names,
        encode=encoder.encode,
        reference=reference,
        train_embeddings=encoder.encode([e.prompt for e in train])
        if train is not None and base in _NEEDS_TRAIN
        else None,
    )
    selection = strategy.select(pool, k)
    report = {
        "safetymix_version": __version__,
        "command": "select",
        "inputs": {"pool": {"path": str(pool_path), "sha256": sha256_file(pool_path)}}
        | ({"train": {"path": config.train, "sha256": sha256_file(config.train)}} if config.train else {})
        | (
            {"reference": {"path": config.reference, "sha256": sha256_file(config.reference)}}
            if config.reference
            else {}
        ),
        "config": config.model_dump(),
        "labelling": label_report,
        "selection": selection.summary(),
    }
    return picked_examples(pool, selection), selection, report


def write_report(path: str | Path, report: dict) -> None:
    """Write a run report as JSON through a temp file and a rename."""
    from safetymix.io import atomic_write

    with atomic_write(path) as fh:
        fh.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
