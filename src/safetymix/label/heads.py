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
from safetymix.label.cross_encoder import ENCODER_SUFFIX, PairEncoder
from safetymix.label.features import VIEWS, build_features, stack_views
from safetymix.label.flags import FLAGS, BehaviourFlags, BehaviourLabeller
from safetymix.label.rules import RULE_FEATURES
from safetymix.schema import Example

#: Default views of each head (a head file records its own).
HEAD_VIEWS: dict[str, tuple[str, ...]] = {
    "refusal": ("response_head", "response_mean", "rules", "rules_any"),
    "harmful_request": ("prompt",),
    "harmful_response": ("prompt", "response_head", "response_mean", "response_max", "rules", "rules_any"),
}
HEADS_DIR = Path(__file__).resolve().parent.parent / "data" / "heads"


@dataclass(frozen=True)
class Head:
    """One head: standardised features through ``layers`` (ReLU between), then a sigmoid.

    A logistic regression is one layer. ``proba >= threshold`` is the flag; a probability
    inside ``unsure`` (``(low, high)``, optional) is reported as "could not tell" (``None``).
    """

    flag: str
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    threshold: float
    model: str
    views: tuple[str, ...]
    metadata: dict[str, Any]
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    unsure: tuple[float, float] | None = None

    @property
    def coef(self) -> np.ndarray:
        """Weights of a one-layer head (a logistic regression), shape ``(d,)``."""
        if len(self.layers) != 1:
            raise AttributeError(f"the {self.flag} head has {len(self.layers)} layers; use .layers")
        return self.layers[0][0][:, 0]

    def proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of the flag, ``(n,)``."""
        return self.scores(features)[:, 0]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Sigmoid of every output, ``(n, n_outputs)`` (one per category for a category head)."""
        x = features.astype(np.float64)
        if self.shift is not None:
            x = x - self.shift
        if self.scale is not None:
            x = x / self.scale
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.astype(np.float64) + b.astype(np.float64)
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return 1.0 / (1.0 + np.exp(-x))

    def decide(self, p: float) -> bool | None:
        """The flag for probability ``p``: True, False, or None inside the unsure band."""
        if self.unsure is not None and self.unsure[0] < p < self.unsure[1]:
            return None
        return bool(p >= self.threshold)


def save_head(path: Path, head: Head) -> None:
    """Write a head as a compressed ``.npz`` of plain arrays (no pickle)."""
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(head.layers):
        arrays[f"w{i}"] = w.astype(np.float32)
        arrays[f"b{i}"] = b.astype(np.float32)
    if head.shift is not None:
        arrays["shift"] = head.shift.astype(np.float32)
    if head.scale is not None:
        arrays["scale"] = head.scale.astype(np.float32)
    if head.unsure is not None:
        arrays["unsure"] = np.array(head.unsure, dtype=np.float64)
    np.savez_compressed(  # the metadata JSON is stored as UTF-32, which compresses ~5x
        path,
        n_layers=np.int64(len(head.layers)),
        threshold=np.float64(head.threshold),
        model=np.array(head.model),
        flag=np.array(head.flag),
        views=np.array(list(head.views)),
        metadata=np.array(json.dumps(head.metadata, sort_keys=True, indent=1)),
        **arrays,
    )


def load_head(path: str | Path) -> Head:
    """Read a head written by :func:`save_head`.

    Raises
    ------
    DataFormatError
        When the file lacks a field or its weights do not fit its views.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        missing = {"n_layers", "threshold", "model", "flag", "views", "metadata"} - set(z.files)
        if missing:
            raise DataFormatError(
                f"head file lacks {sorted(missing)}; has {sorted(z.files)} (an old head format: "
                "retrain it with train_behaviour_heads)",
                path=path,
            )
        n_layers = int(z["n_layers"])
        layers = tuple(
            (z[f"w{i}"].astype(np.float32), z[f"b{i}"].astype(np.float32)) for i in range(n_layers)
        )
        head = Head(
            flag=str(z["flag"]),
            layers=layers,
            threshold=float(z["threshold"]),
            model=str(z["model"]),
            views=tuple(str(v) for v in z["views"]),
            metadata=json.loads(str(z["metadata"])),
            shift=z["shift"].astype(np.float32) if "shift" in z.files else None,
            scale=z["scale"].astype(np.float32) if "scale" in z.files else None,
            unsure=tuple(float(v) for v in z["unsure"]) if "unsure" in z.files else None,  # type: ignore[arg-type]
        )
    unknown = set(head.views) - set(VIEWS)
    if unknown:
        raise DataFormatError(f"unknown views {sorted(unknown)}", path=path, field="views")
    rules = head.metadata.get("rule_features", [])
    if {"rules", "rules_any"} & set(head.views) and list(rules) != list(RULE_FEATURES):
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


class EmbeddingLabeller(BehaviourLabeller):
    """Logistic-regression heads on sentence embeddings, applied with numpy only.

    Each flag has a head (``<flag>.npz`` in ``heads_dir``) trained by
    :func:`train_behaviour_heads`: ``refusal`` reads the response head (first two
    sentences) plus the rule cues, ``harmful_request`` reads the request, and
    ``harmful_response`` reads both. A heads folder may also hold a fine-tuned
    cross-encoder for a flag (``<flag>.encoder/``, :class:`~safetymix.label.cross_encoder.PairEncoder`),
    which then gives that flag where the head agrees with it ("could not tell", None, where
    they disagree). The shipped folder has one for
    ``refusal`` (``scripts/train_refusal_encoder.py``; XSTest held out by model: 0.951 against
    the refusal head's 0.919); the heads were trained by ``scripts/train_label_heads.py`` on
    public data, the refusal head and encoder on the refusal labels of the 2,250
    human-labelled XSTest v2 completions too (their metadata lists sources, sha256s, XSTest
    use and validation scores).

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
    cross_encoders : bool
        Use the folder's ``<flag>.encoder/`` cross-encoders where there are any (default
        True); False labels every flag with its embedding head (faster when nothing is
        cached: 26.9 pairs/s on 2 cores against 14.9 with the refusal cross-encoder).

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

    def __init__(
        self,
        heads_dir: str | Path | None = None,
        model: str = DEFAULT_MODEL,
        batch_size: int = 64,
        cross_encoders: bool = True,
    ):
        self.heads_dir = heads_dir
        self.model = model
        self.batch_size = batch_size
        self.cross_encoders = cross_encoders
        self._encoder: Encoder | None = None  # loaded model, reused across calls
        self._pair_encoders: dict[str, PairEncoder] | None = None

    def use_encoder(self, encoder: Encoder) -> None:
        """Embed with ``encoder`` (one Encoder, one loaded model per run; same model as ours);
        the cross-encoders' scores follow its cache settings."""
        self._encoder = encoder
        self._pair_encoders = None

    def heads(self) -> dict[str, Head]:
        """The three heads, checked against ``model``."""
        heads = load_heads(self.heads_dir)
        head_model = heads["refusal"].model
        if head_model != self.model:
            raise ConfigError(f"the heads were trained on {head_model!r}, but model={self.model!r}")
        return heads

    def pair_encoders(self) -> dict[str, PairEncoder]:
        """The folder's cross-encoders, ``{flag: PairEncoder}`` (empty with ``cross_encoders=False``)."""
        if self._pair_encoders is None:
            folder = Path(self.heads_dir) if self.heads_dir is not None else HEADS_DIR
            self._pair_encoders = {}
            if self.cross_encoders:
                for flag in FLAGS:
                    if (folder / f"{flag}{ENCODER_SUFFIX}").is_dir():
                        self._pair_encoders[flag] = PairEncoder(
                            folder / f"{flag}{ENCODER_SUFFIX}",
                            batch_size=self.batch_size,
                            cache=self._encoder.cache if self._encoder is not None else True,
                            cache_root=self._encoder.cache_root if self._encoder is not None else None,
                        )
        return self._pair_encoders

    def _proba(self, heads: Mapping[str, Head], examples: Sequence[Example], show_progress: bool):
        """``(head probabilities, cross-encoder probabilities)``, each ``{flag: (n,)}``."""
        if self._encoder is None:
            self._encoder = Encoder(self.model, batch_size=self.batch_size)
        self._encoder.show_progress = show_progress
        views = sorted({v for head in heads.values() for v in head.views})
        blocks = build_features(
            [ex.prompt for ex in examples],
            [ex.response for ex in examples],
            views=views,
            encoder=self._encoder,
        )
        proba = {flag: head.proba(stack_views(blocks, head.views)) for flag, head in heads.items()}
        answered = [i for i, ex in enumerate(examples) if ex.response.strip()]  # the others get no flag
        crossed = {}
        for flag, pair_encoder in self.pair_encoders().items():
            crossed[flag] = np.zeros(len(examples))
            crossed[flag][answered] = pair_encoder.proba(
                [examples[i].prompt for i in answered],
                [examples[i].response for i in answered],
                show_progress=show_progress,
            )
        return proba, crossed

    def predict_proba(
        self, examples: Sequence[Example], *, show_progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Probability of each flag, ``{flag: (n,) float64}``: the cross-encoder's where the
        folder has one, else the head's."""
        heads = self.heads()
        if not examples:
            return {flag: np.zeros(0) for flag in FLAGS}
        proba, crossed = self._proba(heads, examples, show_progress)
        return proba | crossed

    def _decide(
        self, heads: Mapping[str, Head], flag: str, p_head: float, p_cross: float | None
    ) -> bool | None:
        """The flag from its head, or from its cross-encoder where there is one: then the
        encoder's verdict stands where the head agrees, and a disagreement is "could not
        tell" (None)."""
        verdict = heads[flag].decide(p_head)
        if p_cross is None:
            return verdict
        crossed = self.pair_encoders()[flag].decide(p_cross)
        return crossed if crossed == verdict else None

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[BehaviourFlags]:
        heads = self.heads()
        if not examples:
            return []
        head_proba, crossed = self._proba(heads, examples, show_progress)
        proba = head_proba | crossed
        out = []
        for i, ex in enumerate(examples):
            hit = {
                flag: self._decide(
                    heads,
                    flag,
                    float(head_proba[flag][i]),
                    float(crossed[flag][i]) if flag in crossed else None,
                )
                for flag in FLAGS
            }
            p = {flag: round(float(proba[flag][i]), 4) for flag in FLAGS}  # written next to the flag
            if not ex.response.strip():  # nothing to judge: only the request flag stands
                out.append(
                    BehaviourFlags(
                        hit["harmful_request"], None, None, {"harmful_request": p["harmful_request"]}
                    )
                )
            else:
                out.append(BehaviourFlags(hit["harmful_request"], hit["refusal"], hit["harmful_response"], p))
        return out
