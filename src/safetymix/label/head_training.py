"""Training the embedding labeller's heads from labelled JSONL files.

Used by ``scripts/train_label_heads.py`` (the shipped heads) and by anyone who wants heads
for their own data: :func:`train_behaviour_heads` writes a folder that
``EmbeddingLabeller(heads_dir=...)`` and ``safetymix label --heads`` read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL
from safetymix.errors import ConfigError, DataFormatError
from safetymix.label.features import build_features, stack_views
from safetymix.label.flags import FLAGS
from safetymix.label.heads import HEAD_VIEWS, Head, save_head
from safetymix.label.rules import HEAD_CHARS, RULE_FEATURES
from safetymix.schema import Example

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def load_labelled_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read labelled pairs for :func:`train_behaviour_heads` from JSONL.

    Each line holds ``prompt`` and ``response`` (strings) and any of ``refusal``,
    ``harmful_request``, ``harmful_response`` (bool or null; a missing or null flag keeps
    that row out of that head's training). An optional ``source`` string groups rows in
    the validation split.

    Raises
    ------
    DataFormatError
        With the line and field at fault.
    """
    from safetymix.io import json_records

    rows = []
    for lineno, row in json_records(path):
        for key in ("prompt", "response"):
            if not isinstance(row.get(key), str):
                raise DataFormatError(f"{key!r} must be a string", path=path, line=lineno, field=key)
        for flag in FLAGS:
            if row.get(flag) is not None and not isinstance(row[flag], bool):
                raise DataFormatError(
                    f"{flag!r} must be true, false or null, got {row[flag]!r}",
                    path=path,
                    line=lineno,
                    field=flag,
                )
        rows.append(row)
    return rows


def _as_row(item: Example | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, Example):
        return {
            "prompt": item.prompt,
            "response": item.response,
            "source": item.source or "",
            **{f: getattr(item, f) for f in FLAGS},
        }
    return {
        "prompt": item["prompt"],
        "response": item.get("response", ""),
        "source": item.get("source") or "",
        **{f: item.get(f) for f in FLAGS},
    }


def _split(sources: Sequence[str], labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean validation mask, stratified by (source, label), from one seeded generator."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (s, y) in enumerate(zip(sources, labels.tolist(), strict=True)):
        groups.setdefault((s, int(y)), []).append(i)
    for key in sorted(groups):
        idx = np.array(groups[key])
        n_val = int(round(len(idx) * fraction))
        if n_val and len(idx) > 1:
            mask[rng.permutation(idx)[:n_val]] = True
    return mask


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    rates = [float(np.mean(pred[y == c] == c)) for c in (0, 1) if np.any(y == c)]
    return float(np.mean(rates))


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float(np.sum((pred == 1) & (y == 1)))
    return 2 * tp / max(float(np.sum(pred == 1) + np.sum(y == 1)), 1.0)


#: How a threshold is chosen on validation probabilities.
OBJECTIVES = {"balanced_accuracy": _balanced_accuracy, "f1": _f1}


def _make_classifier(kind: str, c: float, hidden: int, seed: int):
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(hidden,), alpha=1.0 / c, max_iter=400, early_stopping=True, random_state=seed
    )


def _layers(clf, kind: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    if kind == "logistic":
        return ((clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32)),)
    return tuple(
        (w.astype(np.float32), b.astype(np.float32)) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)
    )


def _unsure_low(p: np.ndarray, y: np.ndarray, threshold: float, max_miss: float) -> float | None:
    """Lowest probability of the unsure band: below it, at most ``max_miss`` of rows are positive.

    Rows with ``low < p < threshold`` are then reported as "could not tell". None when the
    rows below the threshold already meet ``max_miss``.
    """
    below = p < threshold
    if not below.any() or float(np.mean(y[below])) <= max_miss:
        return None
    order = np.argsort(p[below], kind="stable")
    ps, ys = p[below][order], y[below][order]
    cum = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    ok = np.flatnonzero(cum <= max_miss)
    return float(ps[ok[-1]]) if ok.size else 0.0


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    sources: Sequence[str],
    *,
    flag: str,
    views: Sequence[str],
    model: str,
    kind: str = "logistic",
    c_grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0),
    hidden: int = 128,
    objective: str = "balanced_accuracy",
    unsure_max_miss: float | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[Head, dict[str, Any]]:
    """Fit one head on feature matrix ``x`` and labels ``y`` (see :func:`train_behaviour_heads`)."""
    score_fn = OBJECTIVES[objective]
    val = _split(sources, y, validation_fraction, seed)
    shift = scale = None
    if kind == "mlp":
        shift = x[~val].mean(axis=0)
        scale = x[~val].std(axis=0) + 1e-6
    xs = x if shift is None else (x - shift) / scale
    best: tuple[float, float, float] | None = None  # (score, C, threshold)
    for c in c_grid:
        clf = _make_classifier(kind, c, hidden, seed).fit(xs[~val], y[~val])
        p = clf.predict_proba(xs[val])[:, 1]
        for t in np.round(np.arange(0.1, 0.91, 0.05), 2):
            score = score_fn(y[val], (p >= t).astype(int))
            if best is None or score > best[0] + 1e-12:
                best = (score, float(c), float(t))
    assert best is not None
    score, c_best, threshold = best
    clf = _make_classifier(kind, c_best, hidden, seed).fit(xs[~val], y[~val])
    p_val = clf.predict_proba(xs[val])[:, 1]
    low = _unsure_low(p_val, y[val], threshold, unsure_max_miss) if unsure_max_miss is not None else None
    per_source = {}
    for s in sorted(set(sources)):
        m = np.array([src == s for src in sources]) & val
        if m.any():
            pred = (clf.predict_proba(xs[m])[:, 1] >= threshold).astype(int)
            per_source[s] = {"n": int(m.sum()), "accuracy": round(float(np.mean(pred == y[m])), 4)}
    val_report = {
        "n": int(val.sum()),
        objective: round(score, 4),
        "accuracy": round(float(np.mean((p_val >= threshold).astype(int) == y[val])), 4),
        "per_source": per_source,
    }
    if low is not None:
        val_report["unsure_share"] = round(float(np.mean((p_val > low) & (p_val < threshold))), 4)
    final = _make_classifier(kind, c_best, hidden, seed).fit(xs, y)
    info = {
        "rows": len(y),
        "positives": int(y.sum()),
        "kind": kind,
        "C": c_best,
        "threshold": threshold,
        "threshold_objective": objective,
        "unsure": [low, threshold] if low is not None else None,
        "validation": val_report,
        "sources": {s: list(sources).count(s) for s in sorted(set(sources))},
    }
    meta = {
        "flag": flag,
        "views": list(views),
        "rule_features": list(RULE_FEATURES) if {"rules", "rules_any"} & set(views) else [],
        "head_chars": HEAD_CHARS,
        "seed": seed,
        "validation_fraction": validation_fraction,
        "c_grid": list(c_grid),
        **info,
        **dict(metadata or {}),
    }
    head = Head(
        flag=flag,
        layers=_layers(final, kind),
        threshold=threshold,
        model=model,
        views=tuple(views),
        metadata=meta,
        shift=None if shift is None else shift.astype(np.float32),
        scale=None if scale is None else scale.astype(np.float32),
        unsure=(low, threshold) if low is not None else None,
    )
    return head, info


#: Per-flag training settings of :func:`train_behaviour_heads` (any can be overridden).
HEAD_SETTINGS: dict[str, dict[str, Any]] = {
    "refusal": {"kind": "logistic", "objective": "balanced_accuracy"},
    "harmful_request": {"kind": "logistic", "objective": "balanced_accuracy"},
    "harmful_response": {"kind": "logistic", "objective": "f1", "unsure_max_miss": 0.005},
}


def train_behaviour_heads(
    examples_with_labels: Sequence[Example | Mapping[str, Any]],
    out_dir: str | Path,
    model: str = DEFAULT_MODEL,
    *,
    flags: Sequence[str] = FLAGS,
    seed: int = 0,
    c_grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0),
    validation_fraction: float = 0.2,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 64,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    show_progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Train one head per flag and write ``<flag>.npz`` to ``out_dir``.

    For each flag, rows whose label is not ``None`` are split into train and validation
    (stratified by source and label, ``validation_fraction`` held out). The inverse
    regularisation ``C`` and the decision threshold are chosen on the validation rows by
    the flag's objective (balanced accuracy, or F1 for ``harmful_response``); then the head
    is refitted on all rows with that ``C`` and written with the threshold. A flag with an
    ``unsure_max_miss`` setting also gets an unsure band: probabilities between the band's
    low end and the threshold are reported as "could not tell", the low end chosen so that
    at most that share of the validation rows below it are positive. Classes are weighted
    to balance (logistic heads).

    Parameters
    ----------
    examples_with_labels : sequence of Example or mapping
        Each with ``prompt`` (or an Example's instruction + input), ``response``, optional
        ``source`` and any of the three flags (bool, or ``None`` to skip that head).
    out_dir : str or Path
        Folder for the head files (created when missing).
    model : str
        Embedding model (default all-MiniLM-L6-v2).
    flags : sequence of str
        Which heads to train (default all three).
    seed : int
        Seed of the validation split (default 0).
    c_grid : sequence of float
        Candidate inverse regularisation strengths.
    validation_fraction : float
        Share of each (source, label) group held out for choosing ``C`` and the threshold.
    settings : mapping, optional
        Per flag, overrides of :data:`HEAD_SETTINGS` (``kind`` "logistic" or "mlp",
        ``hidden``, ``objective``, ``unsure_max_miss``, ``views``).
    batch_size : int
        Embedding batch size.
    description : str
        Free text about the training data, stored in each head's metadata.
    metadata : mapping, optional
        More JSON-serialisable metadata to store (sources, sha256s, ...).
    show_progress : bool
        Embedding progress bar.

    Returns
    -------
    dict
        Per flag: rows, positives, chosen ``C``, threshold and validation scores.

    Raises
    ------
    ConfigError
        For an unknown flag, a bad fraction, or a flag with fewer than two classes.
    """
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ConfigError(f"unknown flags {sorted(unknown)}; valid: {', '.join(FLAGS)}")
    if not 0.0 < validation_fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    per_flag = {f: {**HEAD_SETTINGS[f], **dict((settings or {}).get(f, {}))} for f in flags}
    for f, cfg in per_flag.items():
        cfg.setdefault("views", HEAD_VIEWS[f])
        bad = set(cfg) - {"kind", "hidden", "objective", "unsure_max_miss", "views"}
        if bad or cfg["kind"] not in ("logistic", "mlp") or cfg["objective"] not in OBJECTIVES:
            raise ConfigError(f"bad settings for the {f} head: {cfg}")
    rows = [_as_row(item) for item in examples_with_labels]
    used = [r for r in rows if any(r[f] is not None for f in flags)]
    blocks = build_features(
        [r["prompt"] for r in used],
        [r["response"] for r in used],
        views=sorted({v for cfg in per_flag.values() for v in cfg["views"]}),
        model=model,
        batch_size=batch_size,
        show_progress=show_progress,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict[str, Any]] = {}
    for flag in flags:
        idx = np.array([i for i, r in enumerate(used) if r[flag] is not None], dtype=int)
        y = np.array([int(used[i][flag]) for i in idx], dtype=int)
        if len(set(y.tolist())) < 2:
            raise ConfigError(
                f"the {flag} head needs both classes; got {len(y)} rows, {int(y.sum())} positive"
            )
        cfg = per_flag[flag]
        x = stack_views({k: v[idx] for k, v in blocks.items()}, cfg["views"])
        head, info = fit_head(
            x,
            y,
            [used[i]["source"] for i in idx],
            flag=flag,
            views=cfg["views"],
            model=model,
            kind=cfg["kind"],
            c_grid=c_grid,
            hidden=cfg.get("hidden", 128),
            objective=cfg["objective"],
            unsure_max_miss=cfg.get("unsure_max_miss"),
            validation_fraction=validation_fraction,
            seed=seed,
            metadata={"description": description, **dict(metadata or {})},
        )
        save_head(out_dir / f"{flag}.npz", head)
        report[flag] = info
        logger.info("%s head: %s rows, C=%s, threshold=%s", flag, len(y), info["C"], info["threshold"])
    return report
