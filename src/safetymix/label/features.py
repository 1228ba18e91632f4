"""Feature blocks the embedding heads read: the request, the response head, the whole response.

A head names the blocks (its *views*) it reads; :func:`build_features` computes only those:

``prompt``
    embedding of the request.
``response_head``
    embedding of the response's first two sentences (:func:`~safetymix.label.rules.response_head`),
    where refusals and disclaimers sit.
``response_mean``, ``response_max``
    the whole response, cut into windows of at most :data:`CHUNK_CHARS` characters
    (:func:`response_chunks`, at most :data:`MAX_CHUNKS` of them), each window embedded; the
    mean and the element-wise maximum over the windows. A jailbroken answer that opens
    politely, a role-play answer, or a refusal followed by "TB: sure, here is ..." show here.
``rules``
    the refusal rule cues of :mod:`safetymix.label.rules` on the response's opening.
``rules_any``
    the same cues on every window, maximum over windows (a refusal or an answer anywhere).

Every distinct text is embedded once through the :class:`~safetymix.embed.Encoder` cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder
from safetymix.label.rules import RULE_FEATURES, refusal_rule_features, response_head

#: Characters per response window (about 120 word pieces, inside MiniLM's 256).
CHUNK_CHARS = 480
#: Windows read per response (about 5,700 characters); the rest is not read.
MAX_CHUNKS = 12
VIEWS: tuple[str, ...] = ("prompt", "response_head", "response_mean", "response_max", "rules", "rules_any")
_BREAK = re.compile(r"(?<=[.!?\u3002\uff01\uff1f:])\s+|\n+")


def response_chunks(response: str, max_chars: int = CHUNK_CHARS, max_chunks: int = MAX_CHUNKS) -> list[str]:
    """Cut a response into windows of whole sentences, each at most ``max_chars`` characters.

    Sentences are packed greedily; a sentence longer than ``max_chars`` is cut. Only the first
    ``max_chunks`` windows are returned. An empty response gives ``[]``.
    """
    chunks: list[str] = []
    cur = ""
    for part in _BREAK.split(response.strip()):
        part = part.strip()
        while len(part) > max_chars:
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(part[:max_chars])
            part = part[max_chars:]
        if not part:
            continue
        if cur and len(cur) + 1 + len(part) > max_chars:
            chunks.append(cur)
            cur = part
        else:
            cur = f"{cur} {part}" if cur else part
        if len(chunks) >= max_chunks:
            break
    if cur and len(chunks) < max_chunks:
        chunks.append(cur)
    return chunks[:max_chunks]


def _embed_unique(texts: Sequence[str], encoder: Encoder) -> tuple[np.ndarray, dict[str, int]]:
    """Embeddings of the distinct non-empty texts, and each text's row."""
    uniq = sorted({t for t in texts if t})
    if not uniq:
        return np.zeros((0, 0), dtype=np.float32), {}
    return encoder.encode(uniq), {t: i for i, t in enumerate(uniq)}


def build_features(
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    views: Sequence[str] = VIEWS,
    model: str = DEFAULT_MODEL,
    batch_size: int = 64,
    show_progress: bool = False,
    encoder: Encoder | None = None,
) -> dict[str, np.ndarray]:
    """Feature blocks ``{view: (n, d_view) float32}`` for the requested ``views``.

    ``encoder`` (optional) is reused instead of building one from ``model``, ``batch_size``
    and ``show_progress``, so that a loaded embedding model serves several calls. An empty
    text (no response) gets zero vectors.
    """
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"unknown views {sorted(unknown)}; valid: {', '.join(VIEWS)}")
    n = len(prompts)
    whole = "response_mean" in views or "response_max" in views or "rules_any" in views
    chunks = [response_chunks(r) for r in responses] if whole else [[] for _ in responses]
    heads = [response_head(r) for r in responses] if "response_head" in views else []
    texts: list[str] = []
    if "prompt" in views:
        texts += prompts
    texts += heads
    if "response_mean" in views or "response_max" in views:
        texts += [c for cs in chunks for c in cs]
    vecs: np.ndarray = np.zeros((0, 0), dtype=np.float32)
    pos: dict[str, int] = {}
    if any(v in views for v in ("prompt", "response_head", "response_mean", "response_max")) and n:
        if encoder is None:
            encoder = Encoder(model, batch_size=batch_size, show_progress=show_progress)
        vecs, pos = _embed_unique(texts, encoder)
    d = vecs.shape[1] if vecs.size else 0

    def rows(items: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(items), d), dtype=np.float32)
        for i, t in enumerate(items):
            if t:
                out[i] = vecs[pos[t]]
        return out

    blocks: dict[str, np.ndarray] = {}
    if "prompt" in views:
        blocks["prompt"] = rows(prompts)
    if "response_head" in views:
        blocks["response_head"] = rows(heads)
    if "response_mean" in views or "response_max" in views:
        mean = np.zeros((n, d), dtype=np.float32)
        mx = np.zeros((n, d), dtype=np.float32)
        for i, cs in enumerate(chunks):
            if cs:
                block = vecs[[pos[c] for c in cs]]
                mean[i] = block.mean(axis=0)
                mx[i] = block.max(axis=0)
        if "response_mean" in views:
            blocks["response_mean"] = mean
        if "response_max" in views:
            blocks["response_max"] = mx
    n_rules = len(RULE_FEATURES)
    if "rules" in views:
        blocks["rules"] = (
            np.stack([refusal_rule_features(r) for r in responses])
            if n
            else np.zeros((0, n_rules), np.float32)
        )
    if "rules_any" in views:
        blocks["rules_any"] = (
            np.stack(
                [
                    np.max([refusal_rule_features(c) for c in cs], axis=0)
                    if cs
                    else np.zeros(n_rules, np.float32)
                    for cs in chunks
                ]
            )
            if n
            else np.zeros((0, n_rules), np.float32)
        )
    return blocks


def stack_views(blocks: Mapping[str, np.ndarray], views: Sequence[str]) -> np.ndarray:
    """Concatenate feature blocks in ``views`` order."""
    return np.concatenate([blocks[v] for v in views], axis=1)
