"""The harmful_request head trained WITH XSTest's prompts, held out by XSTest type (issue 10).

``flags_accuracy.py --only harmful_request_with_xstest`` runs it. XSTest's 18 prompt types
are grouped into 8 held-out units: each safe type with its contrast type (``homonyms`` +
``contrast_homonyms``, ...); ``contrast_discr`` is the contrast of both
``nons_group_real_discr`` and ``real_group_nons_discr``, ``contrast_privacy`` of both
``privacy_public`` and ``privacy_fictional``, so those units hold three types. For each unit
the shipped recipe (``fit_head`` with ``HEAD_SETTINGS["harmful_request"]``, the prompt view)
is fit on the usual training rows plus the XSTest prompts of the other 7 units and scores the
held-out unit; the 450 out-of-fold probabilities are pooled. Variants (none looks at the
held-out unit's labels):

- ``shipped``: the threshold ``fit_head`` picks on its random 20% split;
- ``louo_threshold``: the threshold (0.10-0.90 by 0.05) with the best accuracy on the other
  7 units, each scored by a head fit without it and without the held-out unit;
- ``xstest_x5`` and ``xstest_x5_louo_threshold``: the same with each training XSTest prompt
  5 times (a sample weight of 5: the 250 look-alikes weigh as much as ~1,250 rows; copies
  of a prompt can sit on both sides of ``fit_head``'s split).

``ceiling_accuracy`` peeks at the labels (the best single threshold on the pooled
probabilities): how far any threshold could go. Then, with all 450 XSTest prompts in training
(once, and 5 times), each plainly harmful set and the borderline ones is held out by source
as in ``harmful_request``; BeaverTails-Evaluation is never in training.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from flags_accuracy import REQUEST_SOURCES, Encoder, Flag, by_source, prf, request_flag

COPIES = 5
THRESHOLDS = np.round(np.arange(0.1, 0.91, 0.05), 2)
#: Safe types that share one contrast type, and the unit they form with it.
SHARED_CONTRAST = {
    "nons_group_real_discr": "discr",
    "real_group_nons_discr": "discr",
    "privacy_public": "privacy",
    "privacy_fictional": "privacy",
}


def xstest_units(types: np.ndarray) -> np.ndarray:
    """The held-out unit of each XSTest prompt type (a safe type with its contrast type)."""
    return np.array([SHARED_CONTRAST.get(t, t.removeprefix("contrast_")) for t in types])


def harmful_request_with_xstest(rows: list[dict[str, Any]], datasets: Path, enc: Encoder) -> dict[str, Any]:
    base, never = request_flag(rows, datasets, enc)
    xs_rows = [r for r in base.rows if r["source"] == "xstest_prompts"]
    f = Flag("harmful_request", base.rows + [r for r in xs_rows for _ in range(COPIES - 1)], enc)
    never = np.concatenate([never, np.ones(len(f.y) - len(never), dtype=bool)])
    first = np.arange(len(f.y)) < len(base.y)  # each XSTest prompt's first copy
    is_xs = f.source == "xstest_prompts"
    unit = np.where(is_xs, xstest_units(f.group), "")
    units = sorted(str(u) for u in set(unit[is_xs]))
    assert all(len(set(f.y[unit == u])) == 2 for u in units), "a unit without both classes"
    out: dict[str, Any] = {"units": {u: sorted(map(str, set(f.group[unit == u]))) for u in units}}
    for copies in (1, COPIES):
        allowed = ~never | (is_xs & first if copies == 1 else is_xs)
        name = "shipped" if copies == 1 else f"xstest_x{copies}"
        out |= _by_unit(f, unit, units, allowed, first & is_xs, name)
        t_all = out[f"{name}_louo_threshold"]["threshold_all_units"]
        for src in REQUEST_SOURCES + ("beavertails_eval",):
            if src == "beavertails_eval":
                p, head = f.held_out(f.source == src, allowed)
            else:
                p, head = by_source(f, allowed, src)
            y = f.y[f.source == src]
            out[name][src] = prf(y, (p >= head.threshold).astype(int))
            out[f"{name}_louo_threshold"][src] = prf(y, (p >= t_all).astype(int))
    for k, v in out.items():
        print(f"harmful_request_with_xstest {k}: {v}", flush=True)
    return out


def _by_unit(
    f: Flag, unit: np.ndarray, units: list[str], allowed: np.ndarray, scored: np.ndarray, name: str
) -> dict[str, Any]:
    """Pooled out-of-unit scores, with the split threshold and the leave-one-unit-out one."""
    p_pair: dict[tuple[str, str], np.ndarray] = {}  # (held out, scored): fit without both
    for a, b in combinations(units, 2):
        test = scored & np.isin(unit, [a, b])
        p, _ = f.held_out(test, allowed & ~np.isin(unit, [a, b]))
        for u in (a, b):
            p_pair[(a, b)[u == a], u] = p[unit[test] == u]
    p_oof, t_split, t_louo = {}, {}, {}
    for u in units:
        test = scored & (unit == u)
        p_oof[u], head = f.held_out(test, allowed & (unit != u))
        t_split[u] = head.threshold
        t_louo[u] = _best_threshold(f, unit, units, scored, {v: p_pair[u, v] for v in units if v != u})
    t_all = _best_threshold(f, unit, units, scored, p_oof)  # for a head trained on every unit
    return {
        name: _pooled(f, unit, units, scored, p_oof, t_split),
        f"{name}_louo_threshold": _pooled(f, unit, units, scored, p_oof, t_louo)
        | {"threshold_all_units": t_all},
    }


def _best_threshold(
    f: Flag, unit: np.ndarray, units: list[str], scored: np.ndarray, p: dict[str, np.ndarray]
) -> float:
    y = np.concatenate([f.y[scored & (unit == u)] for u in units if u in p])
    q = np.concatenate([p[u] for u in units if u in p])
    return float(max(THRESHOLDS, key=lambda t: float(np.mean((q >= t) == y))))


def _pooled(
    f: Flag,
    unit: np.ndarray,
    units: list[str],
    scored: np.ndarray,
    p: dict[str, np.ndarray],
    thresholds: dict[str, float],
) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    ys = {u: f.y[scored & (unit == u)] for u in units}
    preds = {u: (p[u] >= thresholds[u]).astype(int) for u in units}
    y, pred, q = (np.concatenate([d[u] for u in units]) for d in (ys, preds, p))
    return {
        **prf(y, pred),
        "safe_prompts_flagged": int(np.sum(pred[y == 0])),
        "auc": round(float(roc_auc_score(y, q)), 3),
        "ceiling_accuracy": round(max(float(np.mean((q >= t) == y)) for t in np.unique(q)), 3),
        "per_unit": {
            u: {
                "accuracy": round(float(np.mean(preds[u] == ys[u])), 3),
                "safe_flagged": f"{int(np.sum(preds[u][ys[u] == 0]))}/{int(np.sum(ys[u] == 0))}",
                "unsafe_flagged": f"{int(np.sum(preds[u][ys[u] == 1]))}/{int(np.sum(ys[u] == 1))}",
                "threshold": thresholds[u],
            }
            for u in units
        },
    }
