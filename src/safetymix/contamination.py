"""Contamination guard: training prompts must not match evaluation prompts.

Two tests, as the core issue asks: an exact match after normalisation (Unicode NFKC,
case-folded, punctuation dropped, whitespace collapsed) and a near duplicate by embedding
cosine >= ``threshold`` (default 0.95). The embedding check is blocked on both sides
(:func:`safetymix.select.search.max_similarity`), so memory stays linear in both sets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from safetymix.schema import Example

DEFAULT_THRESHOLD = 0.95
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize_prompt(text: str) -> str:
    """NFKC, case-fold, drop punctuation, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


@dataclass(frozen=True, slots=True)
class EvalPrompt:
    """One evaluation prompt and where it came from (file and 1-based record number)."""

    text: str
    source: str
    line: int


def find_overlaps(
    train: Sequence[Example],
    evals: Sequence[EvalPrompt],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> list[dict]:
    """Every (training example, evaluation prompt) pair that matches.

    Parameters
    ----------
    train : sequence of Example
        Training examples; their ``prompt`` (instruction + input) is compared.
    evals : sequence of EvalPrompt
        Evaluation prompts.
    threshold : float
        Cosine at or above which two prompts count as near duplicates (default 0.95).
        ``None``-like values are not accepted; pass ``float("inf")`` to skip the embedding test.
    encode : callable, optional
        ``encode(texts) -> (n, d)`` normalised embeddings; default :func:`safetymix.embed.embed`.

    Returns
    -------
    list of dict
        ``train_id, train_prompt, eval_source, eval_line, eval_prompt, kind, score``; one
        entry per training example (its best match), exact matches first.
    """
    if not train or not evals:
        return []
    exact_index: dict[str, int] = {}
    for j, e in enumerate(evals):
        exact_index.setdefault(normalize_prompt(e.text), j)
    matches: dict[int, dict] = {}
    for i, ex in enumerate(train):
        j = exact_index.get(normalize_prompt(ex.prompt))
        if j is not None:
            matches[i] = _match(ex, evals[j], "exact", 1.0)
    if np.isfinite(threshold):
        if encode is None:
            from safetymix.embed import embed as encode
        from safetymix.select.search import max_similarity

        t = np.asarray(encode([ex.prompt for ex in train]))
        v = np.asarray(encode([e.text for e in evals]))
        # Blocked on both sides: one tile of at most 16M floats, whatever the set sizes.
        best, arg = max_similarity(t, v, return_index=True)
        for i in np.flatnonzero(best >= threshold):
            if int(i) not in matches:
                matches[int(i)] = _match(train[i], evals[arg[i]], "embedding", float(best[i]))
    return sorted(matches.values(), key=lambda m: (m["kind"] != "exact", -m["score"], m["train_id"]))


def _match(ex: Example, ev: EvalPrompt, kind: str, score: float) -> dict:
    return {
        "train_id": ex.id,
        "train_prompt": ex.prompt,
        "eval_source": ev.source,
        "eval_line": ev.line,
        "eval_prompt": ev.text,
        "kind": kind,
        "score": round(score, 6),
    }
