"""Training the embedding labeller's heads from labelled JSONL files.

Used by ``scripts/train_label_heads.py`` (the shipped heads) and by anyone who wants heads
for their own data: :func:`train_behaviour_heads` writes a folder that
``EmbeddingLabeller(heads_dir=...)`` and ``safetymix label --heads`` read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL
from safetymix.errors import ConfigError, DataFormatError
from safetymix.label.flags import FLAGS
from safetymix.label.heads import HEAD_VIEWS, Head, build_features, save_head, stack_views
from safetymix.label.rules import HEAD_CHARS, RULE_FEATURES
from safetymix.schema import Example

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (recorded in head metadata for every training source)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def train_behaviour_heads(
    examples_with_labels: Sequence[Example | Mapping[str, Any]],
    out_dir: str | Path,
    model: str = DEFAULT_MODEL,
    *,
    flags: Sequence[str] = FLAGS,
    seed: int = 0,
    c_grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0),
    validation_fraction: float = 0.2,
    batch_size: int = 64,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    show_progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Train one logistic-regression head per flag and write ``<flag>.npz`` to ``out_dir``.

    For each flag, rows whose label is not ``None`` are split into train and validation
    (stratified by source and label, ``validation_fraction`` held out). The inverse
    regularisation ``C`` is chosen from ``c_grid`` and the decision threshold from the
    validation probabilities, both by balanced accuracy; then the head is refitted on all
    rows with that ``C`` and written with the threshold. Classes are weighted to balance.

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
    from sklearn.linear_model import LogisticRegression

    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ConfigError(f"unknown flags {sorted(unknown)}; valid: {', '.join(FLAGS)}")
    if not 0.0 < validation_fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    rows = [_as_row(item) for item in examples_with_labels]
    used = [r for r in rows if any(r[f] is not None for f in flags)]
    blocks = build_features(
        [r["prompt"] for r in used],
        [r["response"] for r in used],
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
        views = HEAD_VIEWS[flag]
        x = stack_views({k: v[idx] for k, v in blocks.items()}, views)
        sources = [used[i]["source"] for i in idx]
        val = _split(sources, y, validation_fraction, seed)
        best: tuple[float, float, float] | None = None  # (score, C, threshold)
        for c in c_grid:
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
            clf.fit(x[~val], y[~val])
            p = clf.predict_proba(x[val])[:, 1]
            for t in np.round(np.arange(0.2, 0.81, 0.05), 2):
                score = _balanced_accuracy(y[val], (p >= t).astype(int))
                if best is None or score > best[0] + 1e-12:
                    best = (score, float(c), float(t))
        assert best is not None
        score, c_best, threshold = best
        clf = LogisticRegression(C=c_best, class_weight="balanced", max_iter=5000)
        clf.fit(x[~val], y[~val])
        p_val = clf.predict_proba(x[val])[:, 1]
        per_source = {}
        for s in sorted(set(sources)):
            m = np.array([src == s for src in sources]) & val
            if m.any():
                pred = (clf.predict_proba(x[m])[:, 1] >= threshold).astype(int)
                per_source[s] = {"n": int(m.sum()), "accuracy": round(float(np.mean(pred == y[m])), 4)}
        val_report = {
            "n": int(val.sum()),
            "balanced_accuracy": round(score, 4),
            "accuracy": round(float(np.mean((p_val >= threshold).astype(int) == y[val])), 4),
            "per_source": per_source,
        }
        final = LogisticRegression(C=c_best, class_weight="balanced", max_iter=5000).fit(x, y)
        info = {
            "rows": len(y),
            "positives": int(y.sum()),
            "C": c_best,
            "threshold": threshold,
            "validation": val_report,
            "sources": {s: sources.count(s) for s in sorted(set(sources))},
        }
        meta = {
            "flag": flag,
            "views": list(views),
            "rule_features": list(RULE_FEATURES) if "rules" in views else [],
            "head_chars": HEAD_CHARS,
            "description": description,
            "seed": seed,
            "validation_fraction": validation_fraction,
            "c_grid": list(c_grid),
            **info,
            **dict(metadata or {}),
        }
        head = Head(
            flag=flag,
            coef=final.coef_[0].astype(np.float32),
            intercept=float(final.intercept_[0]),
            threshold=threshold,
            model=model,
            views=views,
            metadata=meta,
        )
        save_head(out_dir / f"{flag}.npz", head)
        report[flag] = info
        logger.info(
            "%s head: %s rows, C=%s, threshold=%s, val bal-acc %.3f", flag, len(y), c_best, threshold, score
        )
    return report
