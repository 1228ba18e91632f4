"""The ``embedding`` behaviour labeller: logistic-regression heads on sentence embeddings.

Three heads (harmful request, refusal, harmful response) read MiniLM embeddings of the
prompt and/or the response's first sentences, plus the rule cues of
:mod:`safetymix.label.rules`; they ship as ``.npz`` files and are applied with numpy
alone. :mod:`safetymix.label.head_training` trains them from any labelled data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder
from safetymix.errors import ConfigError, DataFormatError
from safetymix.label.flags import FLAGS, BehaviourFlags, BehaviourLabeller
from safetymix.label.rules import RULE_FEATURES, refusal_rule_features, response_head
from safetymix.schema import Example

# --------------------------------------------------------------------------------------
# Embedding heads
# --------------------------------------------------------------------------------------

#: Which text each head reads and whether the rule cues join the embedding.
#: "prompt": the request; "response_head": :func:`response_head` of the response.
HEAD_VIEWS: dict[str, tuple[str, ...]] = {
    "refusal": ("response_head", "rules"),
    "harmful_request": ("prompt",),
    "harmful_response": ("prompt", "response_head", "rules"),
}
HEADS_DIR = Path(__file__).resolve().parent.parent / "data" / "heads"


@dataclass(frozen=True)
class Head:
    """One logistic-regression head: ``sigmoid(features @ coef + intercept) >= threshold``."""

    flag: str
    coef: np.ndarray
    intercept: float
    threshold: float
    model: str
    views: tuple[str, ...]
    metadata: dict[str, Any]

    def proba(self, features: np.ndarray) -> np.ndarray:
        z = features.astype(np.float64) @ self.coef.astype(np.float64) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


def save_head(path: Path, head: Head) -> None:
    """Write a head as a compressed ``.npz`` of plain arrays (no pickle)."""
    np.savez_compressed(  # the metadata JSON is stored as UTF-32, which compresses ~5x
        path,
        coef=head.coef.astype(np.float32),
        intercept=np.float64(head.intercept),
        threshold=np.float64(head.threshold),
        model=np.array(head.model),
        flag=np.array(head.flag),
        views=np.array(list(head.views)),
        metadata=np.array(json.dumps(head.metadata, sort_keys=True, indent=1)),
    )


def load_head(path: str | Path) -> Head:
    """Read a head written by :func:`save_head`.

    Raises
    ------
    DataFormatError
        When the file lacks a field or its coefficients do not fit its views.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = {"coef", "intercept", "threshold", "model", "flag", "views", "metadata"} - set(z.files)
        if missing:
            raise DataFormatError(f"head file lacks {sorted(missing)}; has {sorted(z.files)}", path=path)
        head = Head(
            flag=str(z["flag"]),
            coef=z["coef"].astype(np.float32),
            intercept=float(z["intercept"]),
            threshold=float(z["threshold"]),
            model=str(z["model"]),
            views=tuple(str(v) for v in z["views"]),
            metadata=json.loads(str(z["metadata"])),
        )
    unknown = set(head.views) - {"prompt", "response_head", "rules"}
    if unknown:
        raise DataFormatError(f"unknown views {sorted(unknown)}", path=path, field="views")
    rules = head.metadata.get("rule_features", [])
    if "rules" in head.views and list(rules) != list(RULE_FEATURES):
        raise DataFormatError(
            f"head was trained on rule features {rules}, this version computes {list(RULE_FEATURES)}; "
            "retrain it with train_behaviour_heads",
            path=path,
            field="metadata.rule_features",
        )
    return head


def load_heads(heads_dir: str | Path | None = None) -> dict[str, Head]:
    """Load ``refusal.npz``, ``harmful_request.npz`` and ``harmful_response.npz``.

    Raises
    ------
    ConfigError
        When a head file is missing or the heads use different embedding models.
    """
    folder = Path(heads_dir) if heads_dir is not None else HEADS_DIR
    heads = {}
    for flag in FLAGS:
        path = folder / f"{flag}.npz"
        if not path.exists():
            raise ConfigError(f"no {flag} head at {path}; expected {', '.join(f + '.npz' for f in FLAGS)}")
        heads[flag] = load_head(path)
    models = {h.model for h in heads.values()}
    if len(models) != 1:
        raise ConfigError(f"heads in {folder} use different embedding models: {sorted(models)}")
    return heads


def _head_texts(prompts: Sequence[str], responses: Sequence[str]) -> dict[str, list[str]]:
    return {"prompt": list(prompts), "response_head": [response_head(r) for r in responses]}


def _embed_unique(texts: Sequence[str], encoder: Encoder) -> np.ndarray:
    """Embed each distinct text once (an empty text gets a zero vector)."""
    uniq = sorted({t for t in texts if t})
    if not uniq:
        return np.zeros((len(texts), 0), dtype=np.float32)
    vecs = encoder.encode(uniq)
    pos = {t: i for i, t in enumerate(uniq)}
    out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
    for i, t in enumerate(texts):
        if t:
            out[i] = vecs[pos[t]]
    return out


def build_features(
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    model: str = DEFAULT_MODEL,
    batch_size: int = 64,
    show_progress: bool = False,
    encoder: Encoder | None = None,
) -> dict[str, np.ndarray]:
    """Feature blocks of every view: ``{"prompt": (n, d), "response_head": (n, d), "rules": (n, r)}``.

    ``encoder`` (optional) is reused instead of building one from ``model``, ``batch_size``
    and ``show_progress``, so that a loaded embedding model serves several calls.
    """
    texts = _head_texts(prompts, responses)
    needed = texts["prompt"] + texts["response_head"]
    if encoder is None:
        encoder = Encoder(model, batch_size=batch_size, show_progress=show_progress)
    vecs = _embed_unique(needed, encoder)
    n = len(prompts)
    return {
        "prompt": vecs[:n],
        "response_head": vecs[n:],
        "rules": np.stack([refusal_rule_features(r) for r in responses])
        if n
        else np.zeros((0, len(RULE_FEATURES)), np.float32),
    }


def stack_views(blocks: Mapping[str, np.ndarray], views: Sequence[str]) -> np.ndarray:
    """Concatenate feature blocks in ``views`` order."""
    return np.concatenate([blocks[v] for v in views], axis=1)


class EmbeddingLabeller(BehaviourLabeller):
    """Logistic-regression heads on sentence embeddings, applied with numpy only.

    Each flag has a head (``<flag>.npz`` in ``heads_dir``) trained by
    :func:`train_behaviour_heads`: ``refusal`` reads the response head (first two
    sentences) plus the rule cues, ``harmful_request`` reads the request, and
    ``harmful_response`` reads both. The shipped heads were trained by
    ``scripts/train_label_heads.py`` on public data; only the refusal head also saw the
    2,250 human-labelled XSTest v2 completions (their metadata lists sources, sha256s,
    XSTest use and validation scores). Its held-out-by-model XSTest accuracy comes from
    the ``benchmarks/labelling/heads/minus-<model>`` heads.

    Parameters
    ----------
    heads_dir : str or Path, optional
        Folder with the three head files; default the heads shipped in
        ``safetymix/data/heads``.
    model : str
        Embedding model; must match the one the heads were trained on (default
        all-MiniLM-L6-v2, the shipped heads' model).
    batch_size : int
        Texts per embedding batch (default 64).

    Raises
    ------
    ConfigError
        From :meth:`label`, when ``model`` differs from the heads' model.

    Examples
    --------
    >>> from safetymix.schema import make_example
    >>> flags = EmbeddingLabeller().label([make_example("How do I pick a lock?", "Sorry, I can't.")])
    """

    name: ClassVar[str] = "embedding"

    def __init__(self, heads_dir: str | Path | None = None, model: str = DEFAULT_MODEL, batch_size: int = 64):
        self.heads_dir = heads_dir
        self.model = model
        self.batch_size = batch_size
        self._encoder: Encoder | None = None  # loaded model, reused across calls

    def use_encoder(self, encoder: Encoder) -> None:
        """Embed with ``encoder`` (one Encoder, one loaded model per run; same model as ours)."""
        self._encoder = encoder

    def heads(self) -> dict[str, Head]:
        """The three heads, checked against ``model``."""
        heads = load_heads(self.heads_dir)
        head_model = heads["refusal"].model
        if head_model != self.model:
            raise ConfigError(f"the heads were trained on {head_model!r}, but model={self.model!r}")
        return heads

    def _proba(self, heads: Mapping[str, Head], examples: Sequence[Example], show_progress: bool):
        if self._encoder is None:
            self._encoder = Encoder(self.model, batch_size=self.batch_size)
        self._encoder.show_progress = show_progress
        blocks = build_features(
            [ex.prompt for ex in examples], [ex.response for ex in examples], encoder=self._encoder
        )
        return {flag: head.proba(stack_views(blocks, head.views)) for flag, head in heads.items()}

    def predict_proba(
        self, examples: Sequence[Example], *, show_progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Probability of each flag, ``{flag: (n,) float64}``."""
        heads = self.heads()
        if not examples:
            return {flag: np.zeros(0) for flag in FLAGS}
        return self._proba(heads, examples, show_progress)

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[BehaviourFlags]:
        heads = self.heads()
        if not examples:
            return []
        proba = self._proba(heads, examples, show_progress)
        out = []
        for i, ex in enumerate(examples):
            hit = {flag: bool(proba[flag][i] >= heads[flag].threshold) for flag in FLAGS}
            if not ex.response.strip():  # nothing to judge: only the request flag stands
                out.append(BehaviourFlags(hit["harmful_request"], None, None))
            else:
                out.append(BehaviourFlags(hit["harmful_request"], hit["refusal"], hit["harmful_response"]))
        return out
