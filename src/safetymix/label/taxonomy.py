"""Harm-category taxonomies and user reference sets.

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
reference sets (:meth:`safetymix.label.category.EmbeddingCategoryLabeller.reference_embeddings`).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError

__all__ = ["Taxonomy", "available_taxonomies", "load_reference", "load_taxonomy"]

_TAXONOMY_KEYS = {"name", "description", "source", "categories"}
_CATEGORY_KEYS = {"name", "description", "examples"}


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
    """(line, record) pairs of a JSONL file or a JSON array (:func:`safetymix.io.json_records`)."""
    from safetymix.io import json_records

    text_start = path.read_bytes()[:4096].lstrip()
    if text_start.startswith(b"[") and path.suffix.lower() != ".json":
        # a JSON array under another extension: read it as the .json document it is
        from safetymix.io.guard import ReadGuard
        from safetymix.io.textfiles import json_document

        return list(json_document(path, ReadGuard.open(path, str(path))).records)
    return list(json_records(path))


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
    # user label -> its taxonomy names ([] drops the label)
    targets = {k: [v] if isinstance(v, str) else list(v or []) for k, v in (mapping or {}).items()}
    for user_label, names in targets.items():
        for t in names:
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
            if label in targets:
                cats.extend(targets[label])
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
