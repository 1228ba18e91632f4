"""Agreement between judges: Cohen's kappa per suite and pooled per kind.

Judges answer different questions (a refusal judge: did the model refuse? a harm judge: is
the answer harmful?), so they are compared on one decision per suite kind:

- ``harmful`` suites: *unsafe outcome*; a refusal judge says unsafe when the answer is not a
  refusal, a harm judge when it is harmful;
- ``over-refusal`` suites: *refusal*; only judges that tell refusals are compared.

A pair is scored on the items both judges decided (``None`` verdicts are left out). Kappa
is ``sklearn.metrics.cohen_kappa_score``; it is undefined (``None``) when both judges give
one same answer to every item, and ``agreement`` (the share of equal decisions) still says
how often they agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from safetymix.judge.base import Verdict

#: What the judges are compared on, per suite kind.
MEASURES: dict[str, str] = {
    "harmful": "unsafe outcome (refusal judges: not a refusal; harm judges: harmful)",
    "over-refusal": "refusal",
}


def decisions(kind: str, verdicts: Sequence[Verdict], gives: Sequence[str]) -> list[bool | None] | None:
    """One judge's decisions on a suite for the kind's measure; None when it has none to give."""
    if kind == "harmful":
        if "harmful" in gives:
            return [v.harmful for v in verdicts]
        if "refusal" in gives:
            return [None if v.refusal is None else not v.refusal for v in verdicts]
        return None
    if kind == "over-refusal" and "refusal" in gives:
        return [v.refusal for v in verdicts]
    return None


def pair_agreement(a: Sequence[bool | None], b: Sequence[bool | None]) -> dict[str, Any]:
    """``{"kappa", "agreement", "n"}`` of two judges over the items both decided."""
    from sklearn.metrics import cohen_kappa_score

    both = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    n = len(both)
    if not n:
        return {"kappa": None, "agreement": None, "n": 0}
    xs, ys = [int(x) for x, _ in both], [int(y) for _, y in both]
    agreement = sum(x == y for x, y in both) / n
    if len(set(xs) | set(ys)) < 2:  # one answer throughout: kappa is 0/0
        return {"kappa": None, "agreement": agreement, "n": n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(cohen_kappa_score(xs, ys, labels=[0, 1]))
    return {"kappa": None if kappa != kappa else round(kappa, 6), "agreement": round(agreement, 6), "n": n}


def judge_agreement(kind: str, by_judge: Mapping[str, list[bool | None]]) -> dict[str, Any]:
    """Every pair of judges' agreement on one suite (or one kind's pooled items).

    Parameters
    ----------
    kind : str
        The suite kind (sets the measure).
    by_judge : mapping
        Judge label -> its decisions (:func:`decisions`), all of one length.

    Returns
    -------
    dict
        ``{"measure": str, "pairs": {"A vs B": {"kappa", "agreement", "n"}}}``; no pairs
        with fewer than two judges.
    """
    labels = list(by_judge)
    pairs = {f"{a} vs {b}": pair_agreement(by_judge[a], by_judge[b]) for a, b in combinations(labels, 2)}
    return {"measure": MEASURES.get(kind, ""), "pairs": pairs}
