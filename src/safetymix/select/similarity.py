"""``cossim`` / ``cossim-b`` (after Safe-Embed): score each example by its mean cosine
similarity to a category's reference set, take the top ``q`` inside each category and
fill by each example's best score.

Under ``rules="paper"`` it does what the paper's sampling/cossim.py does: each category
takes ``max(1, k // C)`` picks (``C`` = categories of the taxonomy) from the whole eligible
pool, whatever the pool's own category labels, visiting categories in the order of the
reference sets; the pool is embedded as prompt + response in the Alpaca template
(:func:`alpaca_qa_text`), and ``normalize`` is ``(s - c) / (1 - c)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.errors import ConfigError
from safetymix.select.base import Pool, Selection
from safetymix.select.params import BOOL, Interval
from safetymix.select.quota import Choice, QuotaStrategy, top_rows
from safetymix.select.search import dot_rows


def alpaca_qa_text(prompt: str, response: str) -> str:
    """A pair as the paper's cossim.py embeds it: the Alpaca template (no-input form) with the
    response filled in, keeping the script's surrounding whitespace."""
    return (
        " \n    Below is an instruction that describes a task. Write a response that appropriately "
        f"completes the request.\n\n### Instruction:\n{prompt}\n\n### Response:\n{response}\n    "
    )


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all distinct pairs of L2-normalised rows, in O(m d) memory.

    ``sum_{i != j} x_i . x_j = |sum x|^2 - sum |x_i|^2``, so no m x m matrix is needed.
    """
    m = len(vectors)
    if m < 2:
        raise ConfigError("mean pairwise cosine needs at least two vectors")
    total = vectors.sum(axis=0, dtype=np.float64)
    self_sim = float((vectors.astype(np.float64) ** 2).sum())
    return float((total @ total - self_sim) / (m * (m - 1)))


class CossimStrategy(QuotaStrategy):
    """Cossim: mean cosine to each category's reference set.

    Because prompt embeddings are L2-normalised, the mean cosine of ``x`` to a reference
    set ``R`` equals ``x . mean(R)``: one (n, C) product, linear in the pool.

    Parameters
    ----------
    normalize : bool
        Divide every score by the mean pairwise cosine of a mixed sample of all reference
        sets (up to ``n_mixed`` vectors drawn with the seed), as in Safe-Embed. It rescales
        all scores by one constant, so the picks do not change; it makes scores comparable
        across reference sets and runs. Default False. Under ``rules="paper"``:
        ``(s - c) / (1 - c)``, ``c`` the mean pairwise cosine of up to 500 reference and 500
        pool embeddings (the picks do not change either).
    n_mixed : int
        Size of that mixed sample (default 2000).
    """

    name = "cossim"
    requires = frozenset({"embeddings", "reference"})
    _parameter_constraints = {"normalize": BOOL, "n_mixed": Interval(int, 1)}

    def __init__(self, *, normalize: bool = False, n_mixed: int = 2000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.normalize = normalize
        self.n_mixed = n_mixed

    def _plan(self, pool: Pool, members: dict[str, np.ndarray], k: int) -> tuple[int, list[str]]:
        if self.rules != "paper":
            return super()._plan(pool, members, k)
        order = [c for c in (pool.reference or {}) if c in pool.categories]
        order += [c for c in pool.categories if c not in order]
        return max(1, k // len(pool.categories)), order

    def _rows(self, pool: Pool, category: str, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return candidates if self.rules == "paper" else members

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator, out: Selection) -> Any:
        reference = pool.reference
        if reference is None:
            raise ConfigError("cossim needs reference sets: give Pool(reference=...) or --reference FILE")
        absent = [c for c in pool.categories if c not in reference or len(reference[c]) == 0]
        if absent:
            raise ConfigError(f"cossim: no reference examples for categories {absent}")
        paper = self.rules == "paper"
        centres = np.stack([np.asarray(reference[c], dtype=np.float32).mean(axis=0) for c in pool.categories])
        scores = np.zeros((len(pool), len(pool.categories)), dtype=np.float32)
        if paper:
            texts = [alpaca_qa_text(pool.examples[r].prompt, pool.examples[r].response) for r in candidates]
            emb = pool.encode(texts) if texts else np.zeros((0, centres.shape[1]), dtype=np.float32)
            scores[candidates] = emb @ centres.T
        else:
            scores[candidates] = dot_rows(pool.embeddings, candidates, centres)
        if self.normalize:
            mixed = np.concatenate([np.asarray(reference[c], dtype=np.float32) for c in pool.categories])
            if paper:
                refs = mixed[np.sort(rng.choice(len(mixed), min(500, len(mixed)), replace=False))]
                own = (
                    emb[np.sort(rng.choice(len(emb), min(500, len(emb)), replace=False))] if len(emb) else emb
                )
                c = mean_pairwise_cosine(np.concatenate([refs, own]))
                scores[candidates] = (scores[candidates] - c) / (1.0 - c)
            else:
                if len(mixed) > self.n_mixed:
                    mixed = mixed[np.sort(rng.choice(len(mixed), self.n_mixed, replace=False))]
                scores /= mean_pairwise_cosine(mixed)
        if paper and out.k < len(pool.categories):
            out.notes.append(
                f"paper rules: cossim gives each of the {len(pool.categories)} categories at least one "
                f"pick, more than k={out.k}"
            )
        return {c: i for i, c in enumerate(pool.categories)}, scores

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        column, scores = ctx
        return top_rows(rows, scores[rows, column[category]], n, pool.ids)

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any) -> Choice:
        _, scores = ctx
        return top_rows(rows, scores[rows].max(axis=1), n, pool.ids)
