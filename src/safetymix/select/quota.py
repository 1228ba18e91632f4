"""The paper's quota rule, shared by every category-aware strategy.

Each category gets ``q = k // len(categories)`` picks. Categories are visited from the
smallest to the largest (by eligible members; ties in taxonomy order), an example is never
picked twice (it may carry several categories), and whatever the quotas left of ``k`` -
including the shortfall of categories too small for their quota - is filled at the end.
Subclasses only say how to choose inside one category (:meth:`QuotaStrategy._choose`)
and how to fill (:meth:`QuotaStrategy._fill`, uniform by default).

With ``rules="paper"`` the quota and the visit order follow the paper's sampling/ scripts:
``q = k // (number of categories with eligible members)``, only those categories are
visited, and categories of equal size keep the order in which they first appear in the
pool (rows in pool order, a row's categories in its own order). A subclass that sets
:attr:`QuotaStrategy.paper_repeats` chooses among all members of a category, picked already
or not, as the paper's PSS does; such repeats collapse and their slots go to the fill.
"""

from __future__ import annotations

from typing import Any, ClassVar

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


def first_appearance(pool: Pool, members: dict[str, np.ndarray]) -> list[str]:
    """Categories with members, in the order they first appear in the pool: by the first
    member's row, then by the category's place in that row's own list."""

    def key(category: str) -> tuple[int, int]:
        row = int(members[category][0])
        own = pool.examples[row].categories or []
        return row, own.index(category) if category in own else len(own)

    return sorted((c for c in pool.categories if len(members[c])), key=key)


class QuotaStrategy(Strategy):
    """Per-category quotas, smallest category first, no repeats, fill at the end."""

    #: Under ``rules="paper"``, choose from every eligible member of a category, picked by
    #: an earlier category or not (the paper's PSS).
    paper_repeats: ClassVar[bool] = False

    def _plan(self, pool: Pool, members: dict[str, np.ndarray], k: int) -> tuple[int, list[str]]:
        """The quota per category and the categories in visit order."""
        if self.rules == "paper":
            present = first_appearance(pool, members)
            q = k // len(present) if present else 0
            return q, sorted(present, key=lambda c: len(members[c]))  # stable: ties keep first appearance
        # sorted() is stable: equal sizes keep taxonomy order.
        return k // len(pool.categories), sorted(pool.categories, key=lambda c: len(members[c]))

    def _rows(self, pool: Pool, category: str, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Rows a category's quota is chosen from (default: its eligible members)."""
        return members

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
        eligible = np.zeros(len(pool), dtype=bool)
        eligible[candidates] = True
        taken = np.zeros(len(pool), dtype=bool)
        members = {c: m[eligible[m]] for c, m in pool.members.items()}
        q, order = self._plan(pool, members, k)
        out.quota, out.visit_order = q, list(order)
        repeats = self.rules == "paper" and self.paper_repeats
        collapsed = 0
        ctx = self._prepare(pool, candidates, rng, out)
        if q > 0:
            for category in order:
                rows = self._rows(pool, category, members[category], candidates)
                if not repeats:
                    rows = rows[~taken[rows]]
                if len(rows) < q:
                    out.shortfalls[category] = q - len(rows)
                for row, score in self._choose(pool, category, rows, min(q, len(rows)), rng, ctx):
                    if taken[row]:
                        collapsed += 1
                        continue
                    taken[row] = True
                    out.picks.append(
                        Pick(pool.ids[row], len(out.picks), out.strategy, "quota", category, score)
                    )
        if out.shortfalls:
            out.notes.append(
                "categories below their quota of "
                f"{q} (missing picks filled at the end): {dict(sorted(out.shortfalls.items()))}"
            )
        if collapsed:
            out.notes.append(
                f"paper rules: {collapsed} quota pick(s) already taken by an earlier category "
                "collapsed into the fill"
            )
        rest = k - len(out.picks)
        if rest > 0:
            rows = candidates[~taken[candidates]]
            for row, score in self._fill(pool, rows, min(rest, len(rows)), rng, ctx):
                taken[row] = True
                out.picks.append(Pick(pool.ids[row], len(out.picks), out.strategy, "fill", None, score))
