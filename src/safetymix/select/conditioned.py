"""Beyond the paper: selection conditioned on the user's own benign fine-tuning set.

Each pool example is scored by its highest cosine similarity to any example of the benign
set (``--train FILE``), computed in blocks so memory stays linear in both sets.

- ``train-near``: inside each quota, the examples nearest the benign data (safety
  examples that look like what the model will be tuned on); fill by the same score.
- ``train-far``: the farthest ones (safety examples covering what the benign data does not).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safetymix.errors import ConfigError
from safetymix.select.base import Pool
from safetymix.select.quota import Choice, QuotaStrategy, top_rows

_BLOCK = 4096


def max_similarity(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each query row, its highest cosine to any key row; blocked over keys."""
    out = np.full(len(queries), -np.inf, dtype=np.float32)
    for start in range(0, len(keys), _BLOCK):
        np.maximum(out, (queries @ keys[start : start + _BLOCK].T).max(axis=1), out=out)
    return out


class _TrainConditioned(QuotaStrategy):
    largest: bool = True

    def _prepare(self, pool: Pool, candidates: np.ndarray, rng: np.random.Generator) -> Any:
        if pool.train_embeddings is None:
            raise ConfigError(
                f"{self.name} needs the benign set: give --train FILE (Pool(train_embeddings=...))"
            )
        scores = np.zeros(len(pool), dtype=np.float32)
        scores[candidates] = max_similarity(pool.embeddings[candidates], pool.train_embeddings)
        return scores

    def _choose(
        self, pool: Pool, category: str, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any
    ) -> Choice:
        return top_rows(rows, ctx[rows], n, pool.ids, largest=self.largest)

    def _fill(self, pool: Pool, rows: np.ndarray, n: int, rng: np.random.Generator, ctx: Any) -> Choice:
        return top_rows(rows, ctx[rows], n, pool.ids, largest=self.largest)


class TrainNearStrategy(_TrainConditioned):
    """Inside each quota, the examples most similar to the user's benign set."""

    name = "train-near"
    largest = True


class TrainFarStrategy(_TrainConditioned):
    """Inside each quota, the examples least similar to the user's benign set."""

    name = "train-far"
    largest = False
