"""The paper's quota rule, shared by every category-aware strategy.

Each category gets ``q = k // len(categories)`` picks. Categories are visited from the
smallest to the largest (by eligible members; ties in taxonomy order), an example is never
picked twice (it may carry several categories), and whatever the quotas left of ``k`` -
including the shortfall of categories too small for their quota - is filled at the end.
Subclasses only say how to choose inside one category (:meth:`QuotaStrategy._choose`)
and how to fill (:meth:`QuotaStrategy._fill`, uniform by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.select.base import Pick, Pool, Selection, Strategy

Choice = list[tuple[int, float | None]]  # (pool row, score) in pick order


def top_rows(
    rows: np.ndarray, scores: np.ndarray, n: int, ids: np.ndarray, *, largest: bool = True
) -> Choice:
    """The ``n`` rows with the best scores; ties broken by id so the order never depends on luck."""
    if n <= 0 or len(rows) == 0:
        return []
    key = -scores if largest else scores
    short = np.arange(len(rows))
    if n < len(rows) // 4:
        # Sort only the shortlist: every row at or better than the n-th best key, ties
        # included, so the result equals a full sort (NaN keys sort last either way).
        kth = np.partition(key, n - 1)[n - 1]
        if not np.isnan(kth):
            short = np.flatnonzero(key <= kth)
    order = short[np.lexsort((ids[rows[short]].astype(str), key[short]))][:n]
    return [(int(rows[i]), float(scores[i])) for i in order]


def uniform_rows(rows: np.ndarray, n: int, rng: np.random.Generator) -> Choice:
    """``n`` distinct rows drawn uniformly."""
    if n <= 0 or len(rows) == 0:
        return []
    chosen = rng.choice(rows, size=min(n, len(rows)), replace=False)
    return [(int(r), None) for r in chosen]


class QuotaStrategy(Strategy):
    """Per-category quotas, smallest category first, no repeats, fill at the end."""

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator, out: Selection) -> Any:
        """Work shared by all categories (scores, prototypes); passed to the hooks as ``ctx``.

        May add to ``out.notes`` (e.g. that a search was approximate)."""
        return None

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        raise NotImplementedError

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any) -> Choice:
        return uniform_rows(rows, n, rng)

    def _select(
        self, pool: Pool, candidates: np.ndarray, k: int, rng: np.random.Generator, out: Selection
    ) -> None:
        n_categories = len(pool.categories)
        q = k // n_categories
        out.quota = q
        eligible = np.zeros(len(pool), dtype=bool)
        eligible[candidates] = True
        taken = np.zeros(len(pool), dtype=bool)
        members = {c: m[eligible[m]] for c, m in pool.members.items()}
        # sorted() is stable: equal sizes keep taxonomy order.
        order = sorted(pool.categories, key=lambda c: len(members[c]))
        ctx = self._prepare(pool, candidates, rng, out)
        if q > 0:
            for category in order:
                rows = members[category]
                rows = rows[~taken[rows]]
                if len(rows) < q:
                    out.shortfalls[category] = q - len(rows)
                for row, score in self._choose(pool, category, rows, min(q, len(rows)), rng, ctx):
                    taken[row] = True
                    out.picks.append(
                        Pick(pool.ids[row], len(out.picks), out.strategy, "quota", category, score)
                    )
        if out.shortfalls:
            out.notes.append(
                "categories below their quota of "
                f"{q} (missing picks filled at the end): {dict(sorted(out.shortfalls.items()))}"
            )
        rest = k - len(out.picks)
        if rest > 0:
            rows = candidates[~taken[candidates]]
            for row, score in self._fill(pool, rows, min(rest, len(rows)), rng, ctx):
                taken[row] = True
                out.picks.append(Pick(pool.ids[row], len(out.picks), out.strategy, "fill", None, score))
