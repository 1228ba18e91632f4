"""``prepare_pool``: read -> label what is missing -> embed -> :class:`Pool`, with its report.

The one path every command takes to a selectable pool (``select``, ``sweep``, ``demo`` and
the Python API). It builds one :class:`~safetymix.embed.Encoder` and reads the taxonomy
once, shares both with the labellers, and computes only what the strategies to be run
declare in their ``requires`` (``embeddings``, ``reference``, ``train_embeddings``).
The options live in :class:`PoolConfig`, which ``SelectConfig`` and the sweep's ``pool``
section extend, so every labeller parameter reaches its labeller from every command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from safetymix.embed import DEFAULT_MODEL
from safetymix.errors import ConfigError
from safetymix.schema import Example
from safetymix.stage_config import StageConfig


class PoolConfig(StageConfig):
    """How a pool is labelled and embedded (shared by select, sweep and label)."""

    taxonomy: str = Field("beavertails", description="taxonomy name or JSON file")
    behaviour_labeller: str = Field(
        "embedding",
        description="labeller for records without behaviour: rules | embedding | guard | openai-guard",
    )
    category_labeller: str = Field(
        "embedding", description="labeller for records without categories: embedding | judge | none"
    )
    labeller_model: str | None = Field(
        None, description="guard model name/path, or the endpoint's model (openai-guard, judge)"
    )
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (openai-guard, judge)")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="environment variable holding the endpoint's API key"
    )
    heads: str | None = Field(
        None, description="folder of head .npz files for the embedding behaviour labeller"
    )
    embedding_model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path")
    reference: str | None = Field(None, description="labelled file of Cossim reference examples")

    def labeller_specs(self, taxonomy: Any = None) -> tuple[Any, Any]:
        """``(behaviour LabellerSpec, category LabellerSpec or None)`` with this config's options."""
        from safetymix.label.registry import labeller_spec

        options = self.model_dump() | {"taxonomy": taxonomy if taxonomy is not None else self.taxonomy}
        beh = labeller_spec("behaviour", self.behaviour_labeller, options)
        cat = None
        if self.category_labeller != "none":
            cat = labeller_spec("category", self.category_labeller, options)
        return beh, cat


def prepare_pool(
    pool: str | Path | Sequence[Example],
    config: PoolConfig | None = None,
    *,
    strategies: Iterable[str] = (),
    train: Sequence[Example] | None = None,
    show_progress: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """The labelled, embedded :class:`~safetymix.select.Pool` and the labelling report.

    Parameters
    ----------
    pool : str, Path or sequence of Example
        A file :func:`safetymix.io.read_examples` reads, or examples already read.
    config : PoolConfig, optional
        Labellers, taxonomy, embedding model and reference file (default: the defaults).
    strategies : iterable of str
        The strategies that will select from the pool: their ``requires`` decide what is
        computed (Cossim reference sets, embeddings of ``train``).
    train : sequence of Example, optional
        The user's benign set, embedded when a strategy requires ``train_embeddings``.

    Returns
    -------
    pool : Pool
    report : dict
        :func:`~safetymix.label.label_pool`'s report.

    Examples
    --------
    >>> pool, report = prepare_pool("pool.jsonl", strategies=["sss-b"])  # doctest: +SKIP
    """
    from safetymix.embed import Encoder
    from safetymix.io import read_examples
    from safetymix.label import label_pool
    from safetymix.label.pool import needs_labels, resolve_labeller
    from safetymix.label.taxonomy import load_taxonomy
    from safetymix.select.base import Pool
    from safetymix.select.registry import strategy_requires

    config = config or PoolConfig()
    needs = strategy_requires(strategies)
    if "train_embeddings" in needs and train is None:
        raise ConfigError("the train-near/train-far strategies need the benign set: --train FILE")
    taxonomy = load_taxonomy(config.taxonomy)
    encoder = Encoder(config.embedding_model, show_progress=show_progress)
    beh_spec, cat_spec = config.labeller_specs(taxonomy)
    examples = read_examples(pool) if isinstance(pool, (str, Path)) else list(pool)
    need_b, need_c = needs_labels(examples, behaviour=True, category=cat_spec is not None)
    # Labellers are built only when something needs them (a guard without its model is
    # fine for a pool that arrives labelled).
    beh = resolve_labeller(beh_spec, "behaviour") if need_b else None
    want_refs = "reference" in needs and not config.reference
    cat = resolve_labeller(cat_spec, "category") if cat_spec is not None and (need_c or want_refs) else None
    for labeller in (beh, cat):
        if hasattr(labeller, "use_encoder") and getattr(labeller, "model", None) == encoder.model:
            labeller.use_encoder(encoder)
    examples, report = label_pool(
        examples, behaviour_labeller=beh, category_labeller=cat, show_progress=show_progress
    )
    reference = None
    if "reference" in needs:
        if config.reference:
            reference = reference_from_file(config.reference, tuple(taxonomy.names), encoder.encode)
        elif hasattr(cat, "reference_embeddings"):
            reference = cat.reference_embeddings()
        else:
            raise ConfigError(
                "cossim needs reference sets: --reference FILE or --category-labeller embedding"
            )
    train_embeddings = None
    if "train_embeddings" in needs:
        train_embeddings = encoder.encode([e.prompt for e in train or ()])
    out = Pool(
        examples,
        categories=taxonomy.names,
        encode=encoder.encode,
        reference=reference,
        train_embeddings=train_embeddings,
    )
    return out, report


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
