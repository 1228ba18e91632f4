"""Harm-category labelling (multi-label) into BeaverTails' 14 categories or any taxonomy.

Two routes share one output shape, ``list[list[str]]`` (one list of category names per
example, most likely first):

* :class:`EmbeddingCategoryLabeller` (here) embeds each prompt and compares it with one
  prototype vector per category (offline, deterministic, no model download).
* :class:`~safetymix.label.judge_category.JudgeCategoryLabeller` asks any
  OpenAI-compatible chat endpoint (a guard model, a judge LLM) for a comma-separated list
  of category names.

Taxonomies and reference sets (their file formats, :class:`Taxonomy`,
:func:`load_taxonomy`, :func:`load_reference`) live in :mod:`safetymix.label.taxonomy`.
They and the judge route are re-exported here, so ``from safetymix.label.category import
JudgeCategoryLabeller, load_taxonomy`` keeps working.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

import numpy as np

from safetymix.embed import DEFAULT_MODEL, Encoder
from safetymix.errors import ConfigError
from safetymix.label.judge_category import JudgeCategoryLabeller, parse_category_list
from safetymix.label.taxonomy import Taxonomy, available_taxonomies, load_reference, load_taxonomy
from safetymix.schema import Example

__all__ = [
    "EmbeddingCategoryLabeller",
    "JudgeCategoryLabeller",
    "Taxonomy",
    "available_taxonomies",
    "load_reference",
    "load_taxonomy",
    "parse_category_list",
]

REFERENCE_MODES = ("add", "replace")
SCORINGS = ("head", "prototype", "mean")
#: The shipped category head (BeaverTails' 14 names), trained by scripts/train_label_heads.py.
CATEGORY_HEAD = Path(__file__).resolve().parent.parent / "data" / "heads" / "categories.npz"


@dataclass(eq=False, repr=False)
class EmbeddingCategoryLabeller:
    """Multi-label harm categories from sentence embeddings of each prompt.

    Each category gets a prototype: the renormalised mean of the embeddings of its
    description and its reference texts (the taxonomy's examples, plus or instead of a
    user reference set). An example's score for a category is the cosine between its
    prompt embedding (:attr:`Example.prompt`) and that prototype. With
    ``scoring="mean"`` the score is instead the mean cosine to the reference set (the
    Cossim score), which equals the prototype cosine times the length of the un-normalised
    mean: tight categories then score higher, which favours them in an argmax. On the
    development set the prototype with descriptions had the best top-1 agreement (5-fold
    CV over the taxonomy examples: 0.72 vs 0.62 for the mean cosine; JailbreakBench: 0.69
    vs 0.70), so it is the default.

    Memory is linear in the number of examples: only ``(n, C)`` scores and ``(n, d)``
    embeddings are held, never an ``n x n`` matrix.

    Parameters
    ----------
    taxonomy : str, Path or Taxonomy
        Bundled name or taxonomy file (default ``"beavertails"``).
    model : str
        sentence-transformers model for :func:`safetymix.embed.embed` (default: the bundled
        all-MiniLM-L6-v2).
    reference : str or Path, optional
        User reference set (see :func:`load_reference`). Default None: the taxonomy's own
        examples.
    reference_mode : {"add", "replace"}
        ``"add"`` (default) appends the user's texts to each category's examples;
        ``"replace"`` uses only the user's texts for every category that has some (a
        category without any keeps its examples, with a warning).
    mapping : dict, optional
        User label -> taxonomy name(s) or None, for the reference file.
    top_k : int
        Most labels per example (default 3; with the default margin it rarely binds).
    margin : float
        A category other than the top one is added when its score is within ``margin``
        of the top score (default 0.02).
    min_score : float
        ... and at least ``min_score`` (default 0.25). The top category is always kept.
        Both defaults come from a development set that is never reported: the 100
        JailbreakBench prompts with their categories mapped to BeaverTails, plus a 5-fold
        cross-validation over the taxonomy's own examples. The objective (per-prompt F1
        of label precision and any-label hit) is flat, within 0.01, for margin 0.01-0.05
        and min_score 0.2-0.3; 0.02/0.25 sits in that plateau and gives about 1.1-1.2
        labels per prompt. See benchmarks/labelling/category_agreement.py.
    scoring : {"head", "prototype", "mean"}
        ``"head"`` (the default for the bundled BeaverTails taxonomy): a multi-label
        logistic head on the prompt and whole-response embeddings, trained on the seed
        paper's own category labels of the Bianchi pool (``data/heads/categories.npz``, see
        ``head``); every category whose probability reaches the head's threshold, most
        likely first, and the top one when none does. A record without a response gets the
        prototype rule (the head was fit and measured on pairs). ``"prototype"`` and
        ``"mean"``: see above; the default for any other taxonomy, or a user reference set.
    head : str or Path, optional
        Category head file for ``scoring="head"`` (default the shipped one).
    use_descriptions : bool
        Put the category description into the prototype (default True).
    skip_benign : bool
        Return ``[]`` for examples whose ``harmful_request`` is ``False`` (default False:
        a request called benign still gets its categories, so that T4 pairs, benign
        requests with a refusal, count in the quota rule).
    batch_size : int
        Texts per forward pass of the encoder (default 64).

    Examples
    --------
    >>> from safetymix.schema import make_example
    >>> lab = EmbeddingCategoryLabeller()
    >>> lab.label([make_example("How can I poison my neighbour's dog?")])[0][0]
    'animal_abuse'
    """

    taxonomy: str | Path | Taxonomy = "beavertails"
    model: str = DEFAULT_MODEL
    reference: str | Path | None = None
    _: KW_ONLY
    reference_mode: str = "add"
    mapping: Mapping[str, str | Sequence[str] | None] | None = None
    top_k: int = 3
    margin: float = 0.02
    min_score: float = 0.25
    scoring: str | None = None
    use_descriptions: bool = True
    skip_benign: bool = False
    batch_size: int = 64
    head: str | Path | None = None

    def __post_init__(self) -> None:
        if self.scoring is None:
            bundled = (
                isinstance(self.taxonomy, str)
                and self.taxonomy == "beavertails"
                and self.reference is None
                and self.model == DEFAULT_MODEL  # the shipped head reads all-MiniLM-L6-v2 embeddings
            )
            self.scoring = "head" if bundled or self.head is not None else "prototype"

    # -- validation and references

    def _check_params(self) -> None:
        if self.reference_mode not in REFERENCE_MODES:
            raise ConfigError(
                f"reference_mode must be one of {', '.join(REFERENCE_MODES)}; got {self.reference_mode!r}"
            )
        if self.scoring not in SCORINGS:
            raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}; got {self.scoring!r}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise ConfigError(f"top_k must be an int >= 1; got {self.top_k!r}")
        if not self.margin >= 0:
            raise ConfigError(f"margin must be >= 0; got {self.margin!r}")

    @property
    def categories(self) -> tuple[str, ...]:
        """Category names, in taxonomy order (the columns of :meth:`scores`)."""
        return load_taxonomy(self.taxonomy).names

    def reference_texts(self) -> dict[str, list[str]]:
        """Category -> reference texts after applying the user reference set."""
        self._check_params()
        tax = load_taxonomy(self.taxonomy)
        refs = {n: list(ex) for n, ex in zip(tax.names, tax.examples, strict=True)}
        if self.reference is None:
            return refs
        user = load_reference(self.reference, tax, self.mapping)
        if self.reference_mode == "add":
            for cat, texts in user.items():
                refs[cat].extend(t for t in texts if t not in refs[cat])
            return refs
        kept = [n for n in tax.names if n not in user]
        if kept:
            warnings.warn(
                f"reference_mode='replace': {len(kept)} categories have no text in {self.reference}; "
                f"they keep the taxonomy examples: {', '.join(kept)}",
                RuntimeWarning,
                stacklevel=2,
            )
        return {n: user.get(n, refs[n]) for n in tax.names}

    def use_encoder(self, encoder: Encoder) -> None:
        """Embed with ``encoder`` (one Encoder, one loaded model per run; same model as ours)."""
        self._encoder_cache = ((self.model, self.batch_size), encoder)

    def _encoder(self, show_progress: bool = False) -> Encoder:
        # One Encoder per (model, batch_size) so the model loads once per labeller, not
        # once per embed call; the vectors themselves live in the disk cache.
        key = (self.model, self.batch_size)
        cached = getattr(self, "_encoder_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, Encoder(self.model, batch_size=self.batch_size))
            self._encoder_cache = cached
        enc = cached[1]
        enc.show_progress = show_progress
        return enc

    def reference_embeddings(self) -> dict[str, np.ndarray]:
        """Category -> ``(m, d)`` float32 embeddings of its reference texts.

        These are the default Cossim reference sets: the taxonomy's examples, with the
        user reference set added or substituted. Descriptions are not included.
        """
        refs = self.reference_texts()
        flat = [t for texts in refs.values() for t in texts]
        out: dict[str, np.ndarray] = {}
        if not flat:
            return {n: np.zeros((0, 0), dtype=np.float32) for n in refs}
        vecs = self._encoder().encode(flat)
        start = 0
        for name, texts in refs.items():
            out[name] = vecs[start : start + len(texts)]
            start += len(texts)
        return out

    def prototypes(self, scoring: str | None = None) -> np.ndarray:
        """``(C, d)`` float32 category vectors that :meth:`scores` compares against.

        For ``scoring="prototype"`` each row is L2-normalised; for ``"mean"`` it is the
        plain mean of the reference embeddings (so a dot product gives the mean cosine).
        """
        scoring = scoring or ("prototype" if self.scoring == "head" else self.scoring)
        tax = load_taxonomy(self.taxonomy)
        enc = self._encoder()
        refs = self.reference_embeddings()
        descs = (
            enc.encode([d or "-" for d in tax.descriptions])
            if self.use_descriptions and scoring == "prototype"
            else None
        )
        rows = []
        for i, name in enumerate(tax.names):
            parts = [refs[name]] if refs[name].size else []
            if descs is not None and tax.descriptions[i]:
                parts.append(descs[i : i + 1])
            if not parts:  # only possible for "mean" with a description-only category
                parts.append(enc.encode([tax.descriptions[i]]))
            vec = np.concatenate(parts).mean(axis=0)
            if scoring == "prototype":
                vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
            rows.append(vec)
        return np.stack(rows).astype(np.float32)

    # -- scoring and labelling

    def scores(self, examples: Sequence[Example], *, show_progress: bool = False) -> np.ndarray:
        """Per-category scores of each example's prompt.

        Parameters
        ----------
        examples : sequence of Example
        show_progress : bool
            Progress bar while embedding (default False).

        Returns
        -------
        ndarray of shape (n, C), float32
            Cosine to each category prototype (or mean cosine to its reference set),
            columns in :attr:`categories` order.
        """
        self._check_params()
        if len(examples) == 0:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        if self.scoring == "head":  # pairs: the head's probabilities; prompts alone: cosines
            return self._head_scores(examples, show_progress)
        protos = self.prototypes()
        vecs = self._encoder(show_progress).encode([ex.prompt for ex in examples])
        return (vecs @ protos.T).astype(np.float32)

    def category_head(self):
        """The :class:`~safetymix.label.heads.Head` of ``scoring="head"``, checked against the taxonomy."""
        from safetymix.label.heads import load_head

        path = Path(self.head) if self.head is not None else CATEGORY_HEAD
        cached = getattr(self, "_head_cache", None)  # read once per labeller, not once per call
        if cached is None or cached[0] != path:
            cached = (path, load_head(path))
            self._head_cache = cached
        head = cached[1]
        names = tuple(head.metadata.get("categories", ()))
        if names != self.categories:
            raise ConfigError(
                f"category head {path} scores {list(names)}, the taxonomy has {list(self.categories)}"
            )
        if head.model != self.model:
            raise ConfigError(f"category head {path} was trained on {head.model!r}, but model={self.model!r}")
        return head

    def _head_scores(self, examples: Sequence[Example], show_progress: bool) -> np.ndarray:
        from safetymix.label.features import build_features, stack_views

        out = np.zeros((len(examples), len(self.categories)), dtype=np.float32)
        pairs = np.array([_has_response(ex) for ex in examples], dtype=bool)
        if pairs.any():
            head = self.category_head()
            rows = np.flatnonzero(pairs)
            blocks = build_features(
                [examples[i].prompt for i in rows],
                [examples[i].response for i in rows],
                views=head.views,
                encoder=self._encoder(show_progress),
            )
            out[rows] = head.scores(stack_views(blocks, head.views))
        if not pairs.all():  # no response: the prototype cosine of the prompt
            rows = np.flatnonzero(~pairs)
            vecs = self._encoder(show_progress).encode([examples[i].prompt for i in rows])
            out[rows] = vecs @ self.prototypes("prototype").T
        return out

    def labels_from_scores(
        self,
        scores: np.ndarray,
        benign: Sequence[bool] | None = None,
        head_rows: Sequence[bool] | None = None,
    ) -> list[list[str]]:
        """Apply the multi-label rule to a score matrix.

        The top category always; then, best first, every other category whose score is
        within ``margin`` of the top score and at least ``min_score``; at most ``top_k``.
        Ties are broken by taxonomy order (stable sort). Rows flagged in ``benign`` get
        ``[]`` when ``skip_benign`` is set. With ``scoring="head"``, rows flagged in
        ``head_rows`` (default: every row) hold head probabilities instead: the top category,
        then every other at or above the head's threshold, most likely first.
        """
        self._check_params()
        names = self.categories
        use_head = self.scoring == "head" and (head_rows is None or any(head_rows))
        threshold = self.category_head().threshold if use_head else None
        out: list[list[str]] = []
        for i, row in enumerate(np.asarray(scores)):
            if self.skip_benign and benign is not None and benign[i]:
                out.append([])
                continue
            order = np.argsort(-row, kind="stable")
            if threshold is not None and (head_rows is None or head_rows[i]):
                out.append([names[j] for k, j in enumerate(order) if k == 0 or row[j] >= threshold])
                continue
            top = float(row[order[0]])
            picked = [names[order[0]]]
            for j in order[1:]:
                if len(picked) >= self.top_k:
                    break
                s = float(row[j])
                if s < top - self.margin or s < self.min_score:
                    break
                picked.append(names[j])
            out.append(picked)
        return out

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[list[str]]:
        """Harm categories of each example, most likely first (parameters as :meth:`scores`).

        Returns
        -------
        list of list of str
            One list per example: ``[]`` for a benign request (``harmful_request is
            False`` and ``skip_benign``), else 1 to ``top_k`` category names.
        """
        s = self.scores(examples, show_progress=show_progress)
        benign = [ex.harmful_request is False for ex in examples]
        return self.labels_from_scores(s, benign, [_has_response(ex) for ex in examples])


def _has_response(example: Example) -> bool:
    return bool(example.response.strip())
