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
    from safetymix.embed import Encoder
    from safetymix.label import label_pool
    from safetymix.label.category import EmbeddingCategoryLabeller
    from safetymix.label.registry import get_behaviour_labeller, get_category_labeller
    from safetymix.label.taxonomy import load_taxonomy
    from safetymix.select import Pool
    from safetymix.select.config import reference_from_file

    cfg = config.pool
    encoder = Encoder(cfg.embedding_model, show_progress=show_progress)
    taxonomy = load_taxonomy(cfg.taxonomy)
    if cfg.category_labeller == "embedding":
        cat_labeller = EmbeddingCategoryLabeller(taxonomy=cfg.taxonomy, model=cfg.embedding_model)
    else:
        cat_labeller = get_category_labeller(cfg.category_labeller, taxonomy=cfg.taxonomy)
    needs_behaviour = any(e.behaviour is None for e in inputs.pool)
    examples, report = label_pool(
        inputs.pool,
        behaviour_labeller=get_behaviour_labeller(cfg.behaviour_labeller) if needs_behaviour else None,
        category_labeller=cat_labeller,
        show_progress=show_progress,
    )
    bases = {s.name.removesuffix("-b") for s in config.strategies}
    reference = None
    if "cossim" in bases:
        reference = (
            reference_from_file(cfg.reference, tuple(taxonomy.names), encoder.encode)
            if cfg.reference
            else cat_labeller.reference_embeddings()
        )
    train_embeddings = None
    if bases & {"train-near", "train-far"}:
        train_embeddings = encoder.encode([e.prompt for e in inputs.benign])
    pool = Pool(
        examples,
        categories=taxonomy.names,
        encode=encoder.encode,
        reference=reference,
        train_embeddings=train_embeddings,
    )
    return pool, report


def select_cell(cell: Cell, pool: Any, n_pool: int) -> tuple[dict[str, Any], list[Example]]:
    """The ``selection`` block of a cell and its picks (none for the baseline)."""
    from safetymix.select import get_strategy, picked_examples

    if cell.is_baseline:
        summary = {
            "strategy": cell.strategy,
            "k": 0,
            "seed": cell.seed,
            "n_picked": 0,
            "n_pool": n_pool,
            "n_candidates": 0,
            "behaviours": None,
            "quota_per_category": 0,
            "shortfalls": {},
            "notes": ["baseline: no safety examples"],
        }
        return {"summary": summary, "picks": []}, []
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
