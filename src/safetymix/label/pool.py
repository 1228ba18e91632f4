"""Label a pool: fill in whatever behaviour and category labels it lacks.

Labels already in the pool are used as given, never overwritten (unless ``overwrite``):
records lacking any of the three flags go to the behaviour labeller, and only the flags
that are ``None`` take its answer; records with ``categories is None`` go to the category
labeller. The behaviour type is kept when given, else derived from the flags. Each record
gets ``extra["label_origin"]``, saying per label whether it was ``"given"`` (in the input),
``"predicted"`` (by a labeller) or ``"derived"`` (implied by other labels: the behaviour
from its two flags, or the two flags from a given behaviour); ``None`` for a label still
missing. A labeller that gives probabilities (the ``embedding`` heads) also leaves
``extra["label_proba"]``: ``{flag: p}`` for each flag it predicted. The returned report
says how many records were labelled and by which labeller, so the CLI can tell the user.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

from safetymix.io.labels import implied_flags
from safetymix.label.flags import FLAGS
from safetymix.label.registry import (
    DEFAULT_BEHAVIOUR_LABELLER,
    DEFAULT_CATEGORY_LABELLER,
    LabellerSpec,
    get_behaviour_labeller,
    get_category_labeller,
)
from safetymix.schema import Example, behaviour_from_flags

#: Every label field, in the order ``label_origin`` lists them.
LABEL_FIELDS: tuple[str, ...] = ("behaviour", *FLAGS, "categories")
#: ``Example.extra`` key recording where each label came from.
ORIGIN_KEY = "label_origin"
#: ``Example.extra`` key with the labeller's probability of each flag it predicted.
PROBA_KEY = "label_proba"


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
        Replace the labels the input gives too (default False: given labels are kept and
        only missing ones are filled).
    show_progress : bool
        Progress bars while embedding / generating.

    Returns
    -------
    examples : list of Example
    report : dict
        ``behaviour_labelled``, ``categories_labelled`` (records sent to each labeller),
        the labeller names, ``label_origin`` (per label, how many records have it given,
        predicted, derived or missing) and the behaviour distribution afterwards.
    """
    out = [
        dataclasses.replace(
            e, categories=list(e.categories) if e.categories is not None else None, extra=dict(e.extra)
        )
        for e in examples
    ]
    origins = [given_origins(e) for e in out]
    for e, origin in zip(out, origins, strict=True):
        complete_from_given(e, origin)
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
            fill_flags(out[i], f, origins[i], overwrite=overwrite)
    if need_c:
        labeller = resolve_labeller(category_labeller, "category")
        report["category_labeller"] = getattr(labeller, "name", type(labeller).__name__)
        cats = labeller.label([out[i] for i in need_c], show_progress=show_progress)
        for i, c in zip(need_c, cats, strict=True):
            out[i].categories = list(c)
            origins[i]["categories"] = "predicted"
    for e, origin in zip(out, origins, strict=True):  # always last, probabilities then origins
        proba = e.extra.pop(PROBA_KEY, None)
        e.extra.pop(ORIGIN_KEY, None)
        if proba is not None:
            e.extra[PROBA_KEY] = proba
        e.extra[ORIGIN_KEY] = origin
    report["label_origin"] = count_origins(origins)
    behaviours = Counter(e.behaviour for e in out).items()
    report["behaviour_counts"] = dict(sorted(behaviours, key=lambda kv: str(kv[0])))
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
        Every record, not only those lacking a label (:func:`lacks_flags`; categories None).
    """
    need_b = [i for i, e in enumerate(examples) if overwrite or lacks_flags(e)] if behaviour else []
    need_c = [i for i, e in enumerate(examples) if overwrite or e.categories is None] if category else []
    return need_b, need_c


def lacks_flags(example: Example) -> bool:
    """Whether the behaviour labeller has anything to fill: a flag that is neither given nor
    implied by a given behaviour (a missing behaviour follows from the flags)."""
    hr, ref = implied_flags(example.behaviour)
    hr = example.harmful_request if example.harmful_request is not None else hr
    ref = example.refusal if example.refusal is not None else ref
    return hr is None or ref is None or example.harmful_response is None


def given_origins(example: Example) -> dict[str, str | None]:
    """``label_origin`` before labelling: ``"given"`` for every label present, unless an
    earlier run recorded another origin for it (a relabelled file keeps its history)."""
    previous = example.extra.get(ORIGIN_KEY)
    previous = previous if isinstance(previous, dict) else {}
    out: dict[str, str | None] = {}
    for name in LABEL_FIELDS:
        if getattr(example, name) is None:
            out[name] = None
        else:
            out[name] = previous.get(name) if previous.get(name) in _ORIGINS else "given"
    return out


def complete_from_given(example: Example, origin: dict[str, str | None]) -> None:
    """Fill what the given labels imply: a behaviour type's two flags (T1: harmful request
    and refusal), or the behaviour of two given flags; marked ``"derived"``."""
    hr, ref = implied_flags(example.behaviour)
    for name, value in (("harmful_request", hr), ("refusal", ref)):
        if value is not None and getattr(example, name) is None:
            setattr(example, name, value)
            origin[name] = "derived"
    if example.behaviour is None and example.harmful_request is not None and example.refusal is not None:
        example.behaviour = behaviour_from_flags(example.harmful_request, example.refusal)
        origin["behaviour"] = "derived"


def fill_flags(
    example: Example, flags: Any, origin: dict[str, str | None], *, overwrite: bool = False
) -> None:
    """Write a labeller's flags into ``example`` where it has none (every flag with
    ``overwrite``), derive a missing behaviour from the flags, and note each origin."""
    proba = getattr(flags, "proba", None) or {}
    for name in FLAGS:
        if overwrite or getattr(example, name) is None:
            setattr(example, name, getattr(flags, name))
            origin[name] = "predicted"
            if name in proba:  # a new dict: extra was copied shallowly from the caller's record
                example.extra[PROBA_KEY] = {**example.extra.get(PROBA_KEY, {}), name: proba[name]}
    if overwrite or example.behaviour is None:
        example.behaviour = behaviour_from_flags(example.harmful_request, example.refusal)
        origin["behaviour"] = "derived"


def count_origins(origins: Sequence[dict[str, str | None]]) -> dict[str, dict[str, int]]:
    """Per label, how many records have it ``given``/``predicted``/``derived``/``missing``."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in LABEL_FIELDS}
    for origin in origins:
        for name in LABEL_FIELDS:
            counts[name][origin.get(name) or "missing"] += 1
    return {name: dict(sorted(c.items())) for name, c in counts.items()}


_ORIGINS = ("given", "predicted", "derived")


def resolve_labeller(labeller: Any, kind: str) -> Any:
    """A labeller object from a registry name, a :class:`LabellerSpec` or an object (returned as is)."""
    if isinstance(labeller, LabellerSpec):
        return labeller.build()
    if isinstance(labeller, str):
        return get_behaviour_labeller(labeller) if kind == "behaviour" else get_category_labeller(labeller)
    return labeller
