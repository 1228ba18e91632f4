"""Label a pool: fill in whatever behaviour and category labels it lacks.

Labels already in the pool are used as given; only records with ``behaviour is None`` go
to the behaviour labeller and only records with ``categories is None`` to the category
labeller. The returned report says how many of each were labelled and by which labeller,
so the CLI can tell the user.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

from safetymix.label.registry import (
    DEFAULT_BEHAVIOUR_LABELLER,
    DEFAULT_CATEGORY_LABELLER,
    LabellerSpec,
    get_behaviour_labeller,
    get_category_labeller,
)
from safetymix.schema import Example, behaviour_from_flags


def label_pool(
    examples: Sequence[Example],
    *,
    behaviour_labeller: Any = DEFAULT_BEHAVIOUR_LABELLER,
    category_labeller: Any = DEFAULT_CATEGORY_LABELLER,
    overwrite: bool = False,
    show_progress: bool = False,
) -> tuple[list[Example], dict]:
    """Return labelled copies of ``examples`` and a report.

    Parameters
    ----------
    examples : sequence of Example
    behaviour_labeller, category_labeller : str, LabellerSpec, labeller object or None
        A registry name (see :mod:`safetymix.label.registry`), a
        :class:`~safetymix.label.registry.LabellerSpec`, an object with ``label``, or None
        to leave that kind of label as it is.
    overwrite : bool
        Relabel every record, not only the unlabelled ones (default False).
    show_progress : bool
        Progress bars while embedding / generating.

    Returns
    -------
    examples : list of Example
    report : dict
        ``behaviour_labelled``, ``categories_labelled`` (counts), the labeller names, and
        the behaviour distribution afterwards.
    """
    out = [
        dataclasses.replace(e, categories=list(e.categories) if e.categories is not None else None)
        for e in examples
    ]
    need_b, need_c = needs_labels(
        out,
        behaviour=behaviour_labeller is not None,
        category=category_labeller is not None,
        overwrite=overwrite,
    )
    report: dict[str, Any] = {"behaviour_labelled": len(need_b), "categories_labelled": len(need_c)}
    if need_b:
        labeller = resolve_labeller(behaviour_labeller, "behaviour")
        report["behaviour_labeller"] = getattr(labeller, "name", type(labeller).__name__)
        flags = labeller.label([out[i] for i in need_b], show_progress=show_progress)
        for i, f in zip(need_b, flags, strict=True):
            e = out[i]
            e.harmful_request, e.refusal = f.harmful_request, f.refusal
            e.harmful_response = f.harmful_response
            e.behaviour = behaviour_from_flags(f.harmful_request, f.refusal)
    if need_c:
        labeller = resolve_labeller(category_labeller, "category")
        report["category_labeller"] = getattr(labeller, "name", type(labeller).__name__)
        cats = labeller.label([out[i] for i in need_c], show_progress=show_progress)
        for i, c in zip(need_c, cats, strict=True):
            out[i].categories = list(c)
    report["behaviour_counts"] = dict(sorted(Counter(e.behaviour for e in out).items(), key=_str_key))
    return out, report


def needs_labels(
    examples: Sequence[Example], *, behaviour: bool, category: bool, overwrite: bool = False
) -> tuple[list[int], list[int]]:
    """Positions that :func:`label_pool` sends to the behaviour and to the category labeller.

    Parameters
    ----------
    behaviour, category : bool
        Whether that labeller is given at all.
    overwrite : bool
        Every record, not only those lacking the label.
    """
    need_b = [i for i, e in enumerate(examples) if overwrite or e.behaviour is None] if behaviour else []
    need_c = [i for i, e in enumerate(examples) if overwrite or e.categories is None] if category else []
    return need_b, need_c


def _str_key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def resolve_labeller(labeller: Any, kind: str) -> Any:
    """A labeller object from a registry name, a :class:`LabellerSpec` or an object (returned as is)."""
    if isinstance(labeller, LabellerSpec):
        return labeller.build()
    if isinstance(labeller, str):
        return get_behaviour_labeller(labeller) if kind == "behaviour" else get_category_labeller(labeller)
    return labeller
