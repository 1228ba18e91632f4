"""What every strategy shares: the pool it reads, the picks it returns, the base class.

A strategy is a small object (sklearn style): the constructor stores keyword arguments,
:meth:`Strategy.select` does the work with a fresh generator made from ``self.seed``, so
calling it twice gives the same picks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from safetymix.errors import ConfigError
from safetymix.schema import BEAVERTAILS_CATEGORIES, Behaviour, Example
from safetymix.select.params import BOOL, Behaviours, Interval, Options, validate_params

#: Behaviour types a "-B" strategy keeps unless told otherwise (the paper's choice).
DEFAULT_BEHAVIOURS: tuple[str, ...] = (Behaviour.T1.value,)
#: Rule sets of the quota strategies: ``"ours"`` (the default, the rules DESIGN.md states)
#: or ``"paper"`` (what the paper's sampling/ scripts do; see README "Our rules and the
#: paper's code").
RULES: tuple[str, ...] = ("ours", "paper")


@dataclass(frozen=True, slots=True)
class Pick:
    """One selected example and why it was chosen.

    ``slot`` is ``"quota"`` (picked for ``category``'s quota), ``"fill"`` (picked to fill
    what the quotas left of the budget) or ``"uniform"`` (a strategy without quotas).
    ``score`` is the strategy's score for that choice (cosine, gain, ...) or None.
    """

    id: str
    rank: int
    strategy: str
    slot: str
    category: str | None = None
    score: float | None = None

    def reason(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "rank": self.rank,
            "slot": self.slot,
            "category": self.category,
            "score": None if self.score is None else round(float(self.score), 6),
        }


@dataclass(slots=True)
class Selection:
    """The outcome of one selection: picks in order plus everything a report needs."""

    strategy: str
    k: int
    seed: int
    picks: list[Pick]
    n_pool: int
    n_candidates: int
    behaviours: tuple[str, ...] | None
    rules: str = "ours"
    quota: int = 0
    visit_order: list[str] = field(default_factory=list)
    shortfalls: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.picks]

    def summary(self) -> dict[str, Any]:
        """Counts and shortfalls, JSON-ready (written into manifests and printed by the CLI)."""
        return {
            "strategy": self.strategy,
            "k": self.k,
            "seed": self.seed,
            "n_picked": len(self.picks),
            "n_pool": self.n_pool,
            "n_candidates": self.n_candidates,
            "behaviours": list(self.behaviours) if self.behaviours is not None else None,
            "rules": self.rules,
            "quota_per_category": self.quota,
            "visit_order": list(self.visit_order),
            "shortfalls": dict(self.shortfalls),
            "notes": list(self.notes),
        }


class Pool:
    """A labelled safety pool plus lazily computed embeddings.

    Parameters
    ----------
    examples : sequence of Example
        Every record must carry ``behaviour`` and ``categories`` (label the pool first).
    categories : sequence of str
        The taxonomy; quotas are ``k // len(categories)``. Default: BeaverTails' 14.
    embeddings : ndarray (n, d), optional
        L2-normalised prompt embeddings in pool order: float32 or float16, in memory or an
        ``np.memmap`` (used as given, never copied whole; strategies read float32 blocks).
        Computed with ``encode`` on first use when not given.
    encode : callable, optional
        ``encode(texts) -> ndarray``; default :func:`safetymix.embed.embed`.
    reference : dict of str to ndarray, optional
        Cossim reference sets, category -> (m, d) normalised embeddings.
    train_embeddings : ndarray (m, d), optional
        Embeddings of the user's benign set, for the data-conditioned strategies (same
        dtypes as ``embeddings``).
    include_unsure : bool
        Let strategies pick pairs whose response has an unsure harmful-response flag (a
        labeller ran and could not tell: ``harmful_response`` is None with ``label_origin``
        "predicted"). Default False. A harmful response is never selectable.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        *,
        categories: Sequence[str] = BEAVERTAILS_CATEGORIES,
        embeddings: np.ndarray | None = None,
        encode: Callable[[list[str]], np.ndarray] | None = None,
        reference: dict[str, np.ndarray] | None = None,
        train_embeddings: np.ndarray | None = None,
        include_unsure: bool = False,
    ) -> None:
        self.examples = list(examples)
        self.include_unsure = bool(include_unsure)
        self.categories = tuple(categories)
        if not self.categories:
            raise ConfigError("the taxonomy has no categories")
        missing = [e.id for e in self.examples if e.behaviour is None or e.categories is None]
        if missing:
            raise ConfigError(
                f"{len(missing)} pool example(s) are not labelled (first: {missing[0]!r}); "
                "run safetymix label first or use safetymix.label.label_pool"
            )
        if embeddings is not None and not isinstance(embeddings, np.ndarray):
            embeddings = np.asarray(embeddings, dtype=np.float32)
        if train_embeddings is not None and not isinstance(train_embeddings, np.ndarray):
            train_embeddings = np.asarray(train_embeddings, dtype=np.float32)
        for name, array in (("embeddings", embeddings), ("train_embeddings", train_embeddings)):
            if array is not None and (array.ndim != 2 or array.dtype.kind != "f"):
                raise ConfigError(
                    f"{name} must be a 2-D float array (float32, float16, memmap or not); "
                    f"got shape {array.shape} and dtype {array.dtype}"
                )
        if embeddings is not None and len(embeddings) != len(self.examples):
            raise ConfigError(f"{len(embeddings)} embeddings for {len(self.examples)} examples")
        self._embeddings = embeddings
        self._encode = encode
        self.reference = reference
        self.train_embeddings = train_embeddings
        self.ids = np.array([e.id for e in self.examples], dtype=object)
        self.behaviour = np.array([e.behaviour for e in self.examples], dtype=object)
        self.harmful_response = np.array([e.harmful_response is True for e in self.examples], dtype=bool)
        self.unsure_response = np.array([_unsure_response(e) for e in self.examples], dtype=bool)
        cat_index = {c: i for i, c in enumerate(self.categories)}
        members: list[list[int]] = [[] for _ in self.categories]
        self.unknown_categories: Counter[str] = Counter()
        for row, e in enumerate(self.examples):
            for c in e.categories or ():
                if c in cat_index:
                    members[cat_index[c]].append(row)
                else:
                    self.unknown_categories[c] += 1
        self.members = {c: np.array(m, dtype=np.int64) for c, m in zip(self.categories, members, strict=True)}

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def embeddings(self) -> np.ndarray:
        if self._embeddings is None:
            self._embeddings = self.encode([e.prompt for e in self.examples])
        return self._embeddings

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 embeddings of ``texts`` with the pool's encoder (other texts than the prompts)."""
        encode = self._encode
        if encode is None:
            from safetymix.embed import embed as encode
        return np.asarray(encode(texts), dtype=np.float32)

    def candidates(self, behaviours: Sequence[str] | None) -> np.ndarray:
        """Row indices a strategy may pick: never a harmful response, nor an unsure one unless
        ``include_unsure``; only ``behaviours`` if given."""
        ok = ~self.harmful_response
        if not self.include_unsure:
            ok &= ~self.unsure_response
        if behaviours is not None:
            ok &= np.isin(self.behaviour, list(behaviours))
        return np.flatnonzero(ok)


def _predicted_response(example: Example) -> bool:
    """A labeller, not the input, set the harmful-response flag of a non-empty response."""
    origin = example.extra.get("label_origin")
    return (
        bool(example.response.strip())  # no response: nothing to judge
        and isinstance(origin, dict)
        and origin.get("harmful_response") == "predicted"
    )


def _unsure_response(example: Example) -> bool:
    """A labeller looked at the response and could not tell whether it is harmful."""
    return example.harmful_response is None and _predicted_response(example)


#: Share of labeller-flagged (harmful or unsure) responses above which a pool counts as
#: mixing harmful answers, where the offline labeller's T1 picks are known to hold some.
MIXED_POOL_SHARE = 0.2


class Strategy:
    """Base class. Subclasses set ``name`` and implement :meth:`_select`.

    Parameters
    ----------
    seed : int
        Seed of the generator made afresh by each :meth:`select` call (default 0).
    behaviour_aware : bool
        Keep only ``behaviours`` (the paper's "-B" suffix). Set by the registry name.
    behaviours : sequence of str
        Types a behaviour-aware strategy keeps; default T1 (harmful request + refusal).
    rules : {"ours", "paper"}
        ``"paper"`` makes the quota strategies follow the paper's sampling/ scripts (quota
        over the categories that have members, ties in first-appearance order, PSS repeats
        collapse into the fill, Cossim ranks the whole pool); default ``"ours"``.
    """

    name: ClassVar[str] = "base"
    #: What the Pool must provide: any of "embeddings", "reference", "train_embeddings".
    requires: ClassVar[frozenset[str]] = frozenset()
    #: Keyword arguments this class takes and what is valid (:mod:`safetymix.select.params`).
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "seed": Interval(int, 0),
        "behaviour_aware": BOOL,
        "behaviours": Behaviours(),
        "rules": Options(RULES),
    }

    def __init__(
        self,
        *,
        seed: int = 0,
        behaviour_aware: bool = False,
        behaviours: Sequence[str] = DEFAULT_BEHAVIOURS,
        rules: str = "ours",
    ) -> None:
        self.seed = seed
        self.behaviour_aware = behaviour_aware
        self.behaviours = behaviours
        self.rules = rules

    @property
    def registry_name(self) -> str:
        return f"{self.name}-b" if self.behaviour_aware else self.name

    def select(self, pool: Pool, k: int) -> Selection:
        """Pick ``k`` examples of ``pool``; deterministic for (pool, k, seed)."""
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
            raise ConfigError(f"k must be a non-negative int, got {k!r}")
        validate_params(self)
        # validated by the constraint table above; repeats dropped
        behaviours = tuple(dict.fromkeys(self.behaviours)) if self.behaviour_aware else None
        candidates = pool.candidates(behaviours)
        rng = np.random.default_rng(int(self.seed))
        selection = Selection(
            strategy=self.registry_name,
            k=int(k),
            seed=int(self.seed),
            picks=[],
            n_pool=len(pool),
            n_candidates=len(candidates),
            behaviours=behaviours,
            rules=self.rules,
        )
        n_harmful = int(pool.harmful_response.sum())
        if n_harmful:
            selection.notes.append(f"{n_harmful} example(s) with a harmful response excluded")
        n_unsure = int(pool.unsure_response.sum())
        if n_unsure:
            what = "included" if pool.include_unsure else "excluded (include_unsure keeps them)"
            selection.notes.append(f"{n_unsure} example(s) with an unsure harmful-response flag {what}")
        risky = sum(_predicted_response(e) and e.harmful_response is not False for e in pool.examples)
        if len(pool) and risky >= MIXED_POOL_SHARE * len(pool):
            selection.notes.append(
                f"{risky} of {len(pool)} responses labelled harmful or unsure: in a pool that mixes "
                "harmful answers, T1 picks can still be unsafe (with the offline labeller about 1 in 5 "
                "on PKU-SafeRLHF; README, 'The promise'); label with a guard model or read the picks"
            )
        n_unknown = int((pool.behaviour == Behaviour.UNKNOWN.value).sum())
        if n_unknown:
            kept = "kept" if behaviours is None or Behaviour.UNKNOWN.value in behaviours else "excluded"
            selection.notes.append(f"{n_unknown} example(s) of unknown behaviour {kept}")
        if pool.unknown_categories:
            selection.notes.append(
                f"categories outside the taxonomy ignored: {dict(sorted(pool.unknown_categories.items()))}"
            )
        self._select(pool, candidates, int(k), rng, selection)
        if len(selection.picks) < k:
            selection.notes.append(
                f"pool too small: asked for {k}, only {len(candidates)} eligible, "
                f"picked {len(selection.picks)}"
            )
        return selection

    def _select(
        self, pool: Pool, candidates: np.ndarray, k: int, rng: np.random.Generator, out: Selection
    ) -> None:
        raise NotImplementedError
