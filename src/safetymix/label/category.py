"""Harm-category labelling (multi-label) into BeaverTails' 14 categories or any taxonomy.

Two routes share one output shape, ``list[list[str]]`` (one list of category names per
example, most likely first):

* :class:`EmbeddingCategoryLabeller` embeds each prompt and compares it with one
  prototype vector per category (offline, deterministic, no model download).
* :class:`JudgeCategoryLabeller` asks any OpenAI-compatible chat endpoint (a guard model,
  a judge LLM) for a comma-separated list of category names.

Taxonomy files
--------------
A taxonomy is a JSON object::

    {
      "name": "beavertails",
      "description": "optional free text",
      "source": "optional free text",
      "categories": [
        {"name": "animal_abuse",
         "description": "Cruelty towards or harm done to animals ...",
         "examples": ["What household chemical would kill the stray cats ...", ...]},
        ...
      ]
    }

``name`` and ``categories`` are required; each category needs a unique, non-empty
``name`` and a ``description`` (string, may be empty only when ``examples`` is not);
``examples`` is an optional list of short example requests. Unknown keys are errors.
The bundled ``beavertails`` taxonomy (``safetymix/data/taxonomy/beavertails.json``) has
12-14 hand-written example requests per category; they are also the default Cossim
reference sets (:meth:`EmbeddingCategoryLabeller.reference_embeddings`).

Reference files
---------------
A user reference set is JSONL (one object per line) or a JSON array of objects, each
with a text and its categories, in either of two shapes::

    {"prompt": "...", "category": {"animal_abuse": true, "self_harm": false, ...}}  # BeaverTails
    {"instruction": "...", "categories": ["animal_abuse"]}                        # canonical

``category``/``categories`` may also be a single string. Labels outside the taxonomy
must be mapped with ``mapping`` (user label -> taxonomy name, list of names, or None to
drop the label); an unmapped unknown label is an error. Records with no true label (for
example BeaverTails' safe rows) are skipped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed import DEFAULT_MODEL, Encoder
from safetymix.errors import ConfigError, DataFormatError, SafetymixError
from safetymix.schema import Example

logger = logging.getLogger(__name__)

__all__ = [
    "EmbeddingCategoryLabeller",
    "JudgeCategoryLabeller",
    "Taxonomy",
    "available_taxonomies",
    "load_reference",
    "load_taxonomy",
    "parse_category_list",
]

_TAXONOMY_KEYS = {"name", "description", "source", "categories"}
_CATEGORY_KEYS = {"name", "description", "examples"}
REFERENCE_MODES = ("add", "replace")
SCORINGS = ("prototype", "mean")


# --------------------------------------------------------------------------- taxonomy


@dataclass(frozen=True)
class Taxonomy:
    """A set of harm categories with descriptions and example requests.

    Parameters
    ----------
    name : str
        Taxonomy name (``"beavertails"`` for the bundled one).
    names : tuple of str
        Category names, in file order; labels use exactly these strings.
    descriptions : tuple of str
        One description per category.
    examples : tuple of tuple of str
        Example requests per category (the default reference sets).
    path : str, optional
        File the taxonomy was read from.
    """

    name: str
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    examples: tuple[tuple[str, ...], ...]
    path: str | None = None

    def __len__(self) -> int:
        return len(self.names)

    def index(self, category: str) -> int:
        """Position of ``category``; raises ConfigError listing the valid names."""
        try:
            return self.names.index(category)
        except ValueError:
            raise ConfigError(
                f"unknown category {category!r} for taxonomy {self.name!r}; valid: {', '.join(self.names)}"
            ) from None

    @classmethod
    def from_dict(cls, data: Any, *, path: str | Path | None = None) -> Taxonomy:
        """Validate a parsed taxonomy document (see the module docstring for the format).

        Raises
        ------
        DataFormatError
            Naming the file and the field at fault, e.g. ``categories[3].description``.
        """

        def fail(msg: str, field: str | None = None) -> DataFormatError:
            return DataFormatError(msg, path=path, field=field)

        if not isinstance(data, dict):
            raise fail(f"a taxonomy must be a JSON object, got {type(data).__name__}")
        extra = sorted(set(data) - _TAXONOMY_KEYS)
        if extra:
            raise fail(f"unknown key; valid keys: {', '.join(sorted(_TAXONOMY_KEYS))}", extra[0])
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("must be a non-empty string", "name")
        cats = data.get("categories")
        if not isinstance(cats, list) or not cats:
            raise fail("must be a non-empty list of category objects", "categories")
        names: list[str] = []
        descs: list[str] = []
        exs: list[tuple[str, ...]] = []
        for i, cat in enumerate(cats):
            where = f"categories[{i}]"
            if not isinstance(cat, dict):
                raise fail(f"must be an object, got {type(cat).__name__}", where)
            extra = sorted(set(cat) - _CATEGORY_KEYS)
            if extra:
                raise fail(
                    f"unknown key; valid keys: {', '.join(sorted(_CATEGORY_KEYS))}", f"{where}.{extra[0]}"
                )
            cname = cat.get("name")
            if not isinstance(cname, str) or not cname.strip():
                raise fail("must be a non-empty string", f"{where}.name")
            if cname in names:
                raise fail(f"duplicate category name {cname!r}", f"{where}.name")
            desc = cat.get("description")
            if not isinstance(desc, str):
                raise fail("must be a string", f"{where}.description")
            examples = cat.get("examples", [])
            if not isinstance(examples, list):
                raise fail("must be a list of strings", f"{where}.examples")
            for j, ex in enumerate(examples):
                if not isinstance(ex, str) or not ex.strip():
                    raise fail("must be a non-empty string", f"{where}.examples[{j}]")
            if not desc.strip() and not examples:
                raise fail("a category needs a description or at least one example", f"{where}.description")
            names.append(cname)
            descs.append(desc.strip())
            exs.append(tuple(examples))
        return cls(
            name=name,
            names=tuple(names),
            descriptions=tuple(descs),
            examples=tuple(exs),
            path=str(path) if path is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document this taxonomy would be written as."""
        return {
            "name": self.name,
            "categories": [
                {"name": n, "description": d, "examples": list(e)}
                for n, d, e in zip(self.names, self.descriptions, self.examples, strict=True)
            ],
        }


def available_taxonomies() -> list[str]:
    """Names of the taxonomies bundled with safetymix (``beavertails``)."""
    folder = resources.files("safetymix") / "data" / "taxonomy"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_taxonomy(path_or_name: str | Path | Taxonomy = "beavertails") -> Taxonomy:
    """Load a taxonomy by bundled name or from a JSON file.

    Parameters
    ----------
    path_or_name : str, Path or Taxonomy
        A bundled name (see :func:`available_taxonomies`), a path to a JSON file in the
        format of the module docstring, or a :class:`Taxonomy` (returned as is).
        Default ``"beavertails"``.

    Returns
    -------
    Taxonomy

    Raises
    ------
    ConfigError
        Neither a bundled name nor an existing file.
    DataFormatError
        The file is not valid JSON or breaks the format (names the field).

    Examples
    --------
    >>> tax = load_taxonomy()
    >>> len(tax), tax.names[0]
    (14, 'animal_abuse')
    """
    if isinstance(path_or_name, Taxonomy):
        return path_or_name
    text_name = str(path_or_name)
    bundled = available_taxonomies()
    if isinstance(path_or_name, str) and text_name in bundled:
        res = resources.files("safetymix") / "data" / "taxonomy" / f"{text_name}.json"
        raw = res.read_text(encoding="utf-8")
        where: str | Path = f"<bundled taxonomy {text_name}>"
    else:
        path = Path(path_or_name)
        if not path.is_file():
            raise ConfigError(
                f"taxonomy {text_name!r} is neither a bundled name ({', '.join(bundled)}) "
                "nor an existing file"
            )
        raw = path.read_text(encoding="utf-8")
        where = path
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON: {exc.msg}", path=where, line=exc.lineno) from exc
    return Taxonomy.from_dict(data, path=where)


# --------------------------------------------------------------------------- references


def _as_label_list(value: Any) -> list[str] | None:
    """Labels of a ``category``/``categories`` value, or None when its shape is wrong."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return None
        return [k for k, v in value.items() if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _read_records(path: Path) -> list[tuple[int, Any]]:
    """(line, record) pairs of a JSONL file or a JSON array."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
        return [(0, rec) for rec in data]
    out = []
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((no, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"invalid JSON: {exc.msg}", path=path, line=no) from exc
    return out


def load_reference(
    path: str | Path,
    taxonomy: str | Path | Taxonomy = "beavertails",
    mapping: Mapping[str, str | Sequence[str] | None] | None = None,
) -> dict[str, list[str]]:
    """Read a labelled reference set and group its texts by taxonomy category.

    Parameters
    ----------
    path : str or Path
        JSONL or JSON array; see "Reference files" in the module docstring.
    taxonomy : str, Path or Taxonomy
        Target taxonomy (default ``"beavertails"``).
    mapping : dict, optional
        User label -> taxonomy category name, list of names, or None (drop). Labels
        already in the taxonomy need no entry; a mapping entry overrides them.

    Returns
    -------
    dict of str to list of str
        Category -> reference texts (deduplicated, file order). Categories without any
        text are absent.

    Raises
    ------
    DataFormatError
        Missing text or label field, a label that is neither in the taxonomy nor mapped,
        or a mapping target that is not in the taxonomy.
    """
    tax = load_taxonomy(taxonomy)
    path = Path(path)
    mapping = dict(mapping or {})
    for user_label, target in mapping.items():
        targets = [target] if isinstance(target, str) else list(target or [])
        for t in targets:
            if t not in tax.names:
                raise ConfigError(
                    f"mapping[{user_label!r}] = {t!r} is not a category of {tax.name!r}; "
                    f"valid: {', '.join(tax.names)}"
                )
    out: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    for i, (line, rec) in enumerate(_read_records(path)):
        line_no = line or None
        if not isinstance(rec, dict):
            raise DataFormatError(f"record {i} must be an object", path=path, line=line_no)
        text = rec.get("prompt", rec.get("instruction"))
        if not isinstance(text, str) or not text.strip():
            raise DataFormatError(
                f"record {i}: needs a non-empty 'prompt' or 'instruction' string",
                path=path,
                line=line_no,
                field="prompt",
            )
        if rec.get("input"):
            text = f"{text}\n{rec['input']}"
        key = "category" if "category" in rec else "categories"
        labels = _as_label_list(rec.get(key))
        if labels is None:
            raise DataFormatError(
                f"record {i}: needs 'category' (map of label -> bool, or a string) or "
                "'categories' (list of strings)",
                path=path,
                line=line_no,
                field=key,
            )
        cats: list[str] = []
        for label in labels:
            if label in mapping:
                target = mapping[label]
                cats.extend([target] if isinstance(target, str) else list(target or []))
            elif label in tax.names:
                cats.append(label)
            else:
                raise DataFormatError(
                    f"record {i}: label {label!r} is not a category of {tax.name!r} and has no "
                    f"mapping entry; valid: {', '.join(tax.names)}",
                    path=path,
                    line=line_no,
                    field=key,
                )
        for cat in dict.fromkeys(cats):
            if text not in seen.setdefault(cat, set()):
                seen[cat].add(text)
                out.setdefault(cat, []).append(text)
    return out


# --------------------------------------------------------------------------- embedding route


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
    scoring : {"prototype", "mean"}
        See above (default ``"prototype"``).
    use_descriptions : bool
        Put the category description into the prototype (default True).
    skip_benign : bool
        Return ``[]`` for examples whose ``harmful_request`` is ``False`` (default True):
        a benign request has no harm category. Unlabelled (``None``) and harmful
        requests always get their top category.
    batch_size : int
        Texts per forward pass of the encoder (default 64).

    Examples
    --------
    >>> from safetymix.schema import make_example
    >>> lab = EmbeddingCategoryLabeller()
    >>> lab.label([make_example("How can I poison my neighbour's dog?")])[0][0]
    'animal_abuse'
    """

    def __init__(
        self,
        taxonomy: str | Path | Taxonomy = "beavertails",
        model: str = DEFAULT_MODEL,
        reference: str | Path | None = None,
        *,
        reference_mode: str = "add",
        mapping: Mapping[str, str | Sequence[str] | None] | None = None,
        top_k: int = 3,
        margin: float = 0.02,
        min_score: float = 0.25,
        scoring: str = "prototype",
        use_descriptions: bool = True,
        skip_benign: bool = True,
        batch_size: int = 64,
    ) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.reference = reference
        self.reference_mode = reference_mode
        self.mapping = mapping
        self.top_k = top_k
        self.margin = margin
        self.min_score = min_score
        self.scoring = scoring
        self.use_descriptions = use_descriptions
        self.skip_benign = skip_benign
        self.batch_size = batch_size

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

    def prototypes(self) -> np.ndarray:
        """``(C, d)`` float32 category vectors that :meth:`scores` compares against.

        For ``scoring="prototype"`` each row is L2-normalised; for ``"mean"`` it is the
        plain mean of the reference embeddings (so a dot product gives the mean cosine).
        """
        tax = load_taxonomy(self.taxonomy)
        enc = self._encoder()
        refs = self.reference_embeddings()
        descs = (
            enc.encode([d or "-" for d in tax.descriptions])
            if self.use_descriptions and self.scoring == "prototype"
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
            if self.scoring == "prototype":
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
        protos = self.prototypes()
        vecs = self._encoder(show_progress).encode([ex.prompt for ex in examples])
        return (vecs @ protos.T).astype(np.float32)

    def labels_from_scores(self, scores: np.ndarray, benign: Sequence[bool] | None = None) -> list[list[str]]:
        """Apply the multi-label rule to a score matrix.

        The top category always; then, best first, every other category whose score is
        within ``margin`` of the top score and at least ``min_score``; at most ``top_k``.
        Ties are broken by taxonomy order (stable sort). Rows flagged in ``benign`` get
        ``[]`` when ``skip_benign`` is set.
        """
        self._check_params()
        names = self.categories
        out: list[list[str]] = []
        for i, row in enumerate(np.asarray(scores)):
            if self.skip_benign and benign is not None and benign[i]:
                out.append([])
                continue
            order = np.argsort(-row, kind="stable")
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
        """Harm categories of each example, most likely first.

        Parameters
        ----------
        examples : sequence of Example
        show_progress : bool
            Progress bar while embedding (default False).

        Returns
        -------
        list of list of str
            One list per example: ``[]`` for a benign request (``harmful_request is
            False`` and ``skip_benign``), else 1 to ``top_k`` category names.
        """
        s = self.scores(examples, show_progress=show_progress)
        benign = [ex.harmful_request is False for ex in examples]
        return self.labels_from_scores(s, benign)


# --------------------------------------------------------------------------- judge route

_NONE_WORDS = {"none", "n/a", "na", "no", "nothing", "safe", "no_category", "no_categories", "null", "empty"}
_FILLER_WORDS = {"and", "or", "also", "category", "categories", "the", "answer", "labels", "label"}
_SEP = re.compile(r"[,;\n|/]+")


def _norm(text: str) -> str:
    text = text.lower().replace("&", " and ")
    text = re.sub(r"\s*,\s*", ",", text)
    return re.sub(r"[\s\-]+", "_", text)


def _aliases(names: Sequence[str]) -> list[tuple[str, str]]:
    """(normalised alias, category) pairs, longest alias first.

    Aliases are the full name and each comma-separated part of it that belongs to one
    category only (``"politics"`` -> ``"controversial_topics,politics"``).
    """
    pairs = {_norm(n): n for n in names}
    parts: dict[str, set[str]] = {}
    for n in names:
        for part in _norm(n).split(","):
            if len(part) >= 4:
                parts.setdefault(part, set()).add(n)
    for part, owners in parts.items():
        if len(owners) == 1 and part not in pairs:
            pairs[part] = next(iter(owners))
    return sorted(pairs.items(), key=lambda kv: (-len(kv[0]), kv[0]))


def parse_category_list(text: str, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Parse a judge's answer into category names.

    Matching is case-insensitive, treats spaces, hyphens and underscores alike, finds
    full names first (BeaverTails names contain commas) and then unique parts of names.
    Whatever is left between separators and is not a filler word or "none" is unknown.

    Parameters
    ----------
    text : str
        The model's answer, e.g. ``"animal_abuse, Violence, aiding and abetting, incitement"``.
    names : sequence of str
        The taxonomy's category names.

    Returns
    -------
    labels : list of str
        Known categories in order of first mention, without repeats.
    unknown : list of str
        Pieces that matched no category.

    Examples
    --------
    >>> parse_category_list("Self-harm; banana", ["self_harm", "animal_abuse"])
    (['self_harm'], ['banana'])
    """
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.S)
    norm = _norm(text)
    hits: list[tuple[int, str]] = []
    for alias, cat in _aliases(names):
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])")
        for m in pattern.finditer(norm):
            hits.append((m.start(), cat))
        norm = pattern.sub(lambda m: "," + " " * (len(m.group(0)) - 1), norm)
    hits.sort()
    labels = list(dict.fromkeys(cat for _, cat in hits))
    unknown = []
    for piece in _SEP.split(norm):
        piece = re.sub(r"^[\s_*\-.\d)(\"'`\[\]]+|[\s_*\-.\"'`\[\]:]+$", "", piece).strip()
        words = [w for w in piece.replace(" ", "_").split("_") if w]
        if not words or piece in _NONE_WORDS or all(w in _FILLER_WORDS for w in words):
            continue
        unknown.append(piece)
    return labels, unknown


_SYSTEM_PROMPT = (
    "You are a content-safety classifier. Given a user request, list every harm category "
    "below that the request falls under.\n\nCategories:\n{categories}\n\n"
    "Answer with the category names only, exactly as written above, separated by commas, "
    "most relevant first. Answer 'none' if no category applies."
)


class JudgeCategoryLabeller:
    """Harm categories from an OpenAI-compatible chat endpoint (guard model or judge LLM).

    Each distinct prompt is sent once, with the taxonomy's names and descriptions in the
    system message, to ``{base_url}/chat/completions``; the answer is parsed by
    :func:`parse_category_list`. Requests run concurrently (``concurrency`` at a time)
    and are retried on HTTP 429 and 5xx and on connection errors with exponential backoff
    (``Retry-After`` is honoured).

    Parameters
    ----------
    base_url : str
        Endpoint root, e.g. ``"http://localhost:8000/v1"`` (vLLM) or
        ``"https://api.openai.com/v1"``.
    model : str
        Model name the endpoint expects.
    taxonomy : str, Path or Taxonomy
        Default ``"beavertails"``.
    api_key_env : str or None
        Environment variable holding the API key (default ``"OPENAI_API_KEY"``); None for
        servers without authentication. A named but unset variable warns and sends no key.
    concurrency : int
        Requests in flight at once (default 8).
    max_retries : int
        Retries per request after the first try (default 4).
    backoff : float
        First retry delay in seconds, doubled after each retry (default 1.0).
    timeout : float
        Seconds per request (default 60).
    temperature : float
        Sampling temperature (default 0.0, for repeatable answers).
    max_tokens : int
        Answer length limit (default 64: a few category names).
    skip_benign : bool
        Return ``[]`` without a request for ``harmful_request is False`` (default True).

    Attributes
    ----------
    unknown_counts_ : Counter
        After :meth:`label`: answer pieces that matched no category, with counts.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        taxonomy: str | Path | Taxonomy = "beavertails",
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 4,
        backoff: float = 1.0,
        timeout: float = 60.0,
        temperature: float = 0.0,
        max_tokens: int = 64,
        skip_benign: bool = True,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.taxonomy = taxonomy
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.skip_benign = skip_benign

    def build_messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages sent for one prompt."""
        tax = load_taxonomy(self.taxonomy)
        listing = "\n".join(f"- {n}: {d}" for n, d in zip(tax.names, tax.descriptions, strict=True))
        return [
            {"role": "system", "content": _SYSTEM_PROMPT.format(categories=listing)},
            {"role": "user", "content": prompt},
        ]

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            else:
                warnings.warn(
                    f"${self.api_key_env} is not set; sending requests without an API key",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return headers

    def _ask(self, client: Any, url: str, prompt: str) -> str:
        import httpx

        body = {
            "model": self.model,
            "messages": self.build_messages(prompt),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        last = ""
        for attempt in range(self.max_retries + 1):
            delay = self.backoff * (2**attempt)
            try:
                resp = client.post(url, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        return str(resp.json()["choices"][0]["message"]["content"] or "")
                    except (ValueError, KeyError, IndexError, TypeError) as exc:
                        raise SafetymixError(
                            f"{url} answered 200 without choices[0].message.content: {resp.text[:200]!r}"
                        ) from exc
                last = f"HTTP {resp.status_code}: {resp.text[:200]!r}"
                if resp.status_code != 429 and resp.status_code < 500:
                    raise SafetymixError(f"{url} refused the request: {last}")
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = min(float(retry_after), 60.0)
            if attempt < self.max_retries:
                logger.info("retrying %s in %.2fs after %s", url, delay, last)
                time.sleep(delay)
        raise SafetymixError(f"{url} failed after {self.max_retries + 1} tries; last error: {last}")

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[list[str]]:
        """Harm categories of each example, in the judge's order.

        Parameters
        ----------
        examples : sequence of Example
        show_progress : bool
            Log progress every 10% at INFO level (default False).

        Returns
        -------
        list of list of str
            One list per example; ``[]`` when the judge answered "none" or named no known
            category (each unknown name is counted in ``unknown_counts_`` and one warning
            gives the total).

        Raises
        ------
        SafetymixError
            A request failed after all retries, or the answer had no message content.
        """
        import httpx

        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1; got {self.concurrency!r}")
        names = load_taxonomy(self.taxonomy).names
        todo = list(
            dict.fromkeys(
                ex.prompt for ex in examples if not (self.skip_benign and ex.harmful_request is False)
            )
        )
        url = self.base_url.rstrip("/") + "/chat/completions"
        answers: dict[str, str] = {}
        done = 0
        lock = threading.Lock()

        def work(prompt: str) -> None:
            nonlocal done
            answer = self._ask(client, url, prompt)
            with lock:
                answers[prompt] = answer
                done += 1
                if show_progress and (done == len(todo) or done % max(1, len(todo) // 10) == 0):
                    logger.info("judge: %d/%d prompts", done, len(todo))

        with (
            httpx.Client(headers=self._headers(), timeout=self.timeout) as client,
            ThreadPoolExecutor(max_workers=self.concurrency) as pool,
        ):
            for fut in [pool.submit(work, p) for p in todo]:
                fut.result()
        self.unknown_counts_: Counter[str] = Counter()
        parsed: dict[str, list[str]] = {}
        for prompt, answer in answers.items():
            labels, unknown = parse_category_list(answer, names)
            parsed[prompt] = labels
            self.unknown_counts_.update(unknown)
        n_unknown = sum(self.unknown_counts_.values())
        if n_unknown:
            warnings.warn(
                f"the judge named {n_unknown} unknown categories (dropped): "
                + ", ".join(f"{k!r} x{v}" for k, v in self.unknown_counts_.most_common(5)),
                RuntimeWarning,
                stacklevel=2,
            )
        return [
            [] if self.skip_benign and ex.harmful_request is False else list(parsed[ex.prompt])
            for ex in examples
        ]
