"""``random`` and ``random-b``: uniform picks, the paper's baseline."""

from __future__ import annotations

import numpy as np

from safetymix.select.base import Pick, Pool, Selection, Strategy
from safetymix.select.quota import uniform_rows


class RandomStrategy(Strategy):
    """``k`` uniform picks from the whole (eligible) pool; ``random-b`` from its T1 part."""

    name = "random"

    def _select(
        self, pool: Pool, candidates: np.ndarray, k: int, rng: np.random.Generator, out: Selection
    ) -> None:
        for row, _ in uniform_rows(candidates, k, rng):
            out.picks.append(Pick(pool.ids[row], len(out.picks), out.strategy, "uniform"))
