"""Harmful-response head variants side by side, each held out by source (issue 10, point 1).

The shipped head (``flags_accuracy.py``'s recipe: a logistic head on MiniLM views, its
threshold chosen by F1 on a random 20% split of the training rows) is compared with what
was tried to make it transfer to a source it never saw:

- ``mlp``: the same views, a one-hidden-layer MLP (``fit_head(kind="mlp")``);
- ``tfidf``: word 1-2-gram TF-IDF of the whole response, logistic (lexical cues);
- ``fused``: the geometric mean of the embedding and TF-IDF probabilities;
- ``fused_loso``: the fused score, its threshold chosen *leave one source out* on the
  training sources (each positive-bearing training source scored by a model fit without
  it; the threshold maximises the mean F1 over them) instead of on a random split.

For each held-out source: recall / precision / F1 at the variant's own threshold, ROC AUC,
and the best recall any threshold reaches at precision >= 0.75 (a ceiling: it peeks at the
test labels, so it measures the ranking, not a usable threshold). The held-out source never
enters training, threshold choice or the TF-IDF vocabulary. ``promise_fused_loso``: the
promise measurement of ``flags_accuracy.py`` (unsafe answers among k = 100 sss-b / random-b
picks from the PKU-SafeRLHF pool) with the fused leave-one-source-out head's flags (no unsure
band).

Usage::

    python benchmarks/labelling/harmful_response_variants.py [--datasets ../shared/datasets]

Writes ``benchmarks/labelling/harmful_response_variants.json`` (291 s here with a warm
embedding cache).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flags_accuracy import (  # noqa: E402
    DEFAULT_DATASETS,
    Flag,
    build_training_rows,
    families,
    prf,
    promise_picks,
    response_harm_rows,
    write_result,
    xstest_rows,
)

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402
from safetymix.label.head_training import HEAD_SETTINGS, _f1, _split, fit_head  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
SOURCES = ("gptfuzz", "pku_saferlhf", "xstest", "rdc_jailbreakbench")
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


def f1(y: np.ndarray, p: np.ndarray, t: float) -> float:
    """F1 of the flag at threshold ``t`` (the head trainer's own F1)."""
    return _f1(y, (p >= t).astype(int))


class Scorer:
    """Probabilities of the embedding, TF-IDF and fused models for train/test masks."""

    def __init__(self, f: Flag):
        self.f = f
        self.responses = np.array([r["response"] for r in f.rows], dtype=object)

    def embedding(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
        return clf.fit(self.f.x[train], self.f.y[train]).predict_proba(self.f.x[test])[:, 1]

    def tfidf(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(
            ngram_range=(1, 2), min_df=3, max_features=50_000, sublinear_tf=True, dtype=np.float32
        )
        x_train = vec.fit_transform(self.responses[train])
        clf = LogisticRegression(C=3.0, class_weight="balanced", max_iter=3000)
        return clf.fit(x_train, self.f.y[train]).predict_proba(vec.transform(self.responses[test]))[:, 1]

    def fused(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return np.sqrt(self.embedding(train, test) * self.tfidf(train, test))


def split_threshold(score, f: Flag, train: np.ndarray) -> float:
    """The shipped rule: F1 on a random 20% split (stratified by source and label)."""
    idx = np.flatnonzero(train)
    val = _split(list(f.source[idx]), f.y[idx], 0.2, 0)
    fit, held = np.zeros_like(train), np.zeros_like(train)
    fit[idx[~val]], held[idx[val]] = True, True
    p = score(fit, held)
    return float(max(THRESHOLDS, key=lambda t: f1(f.y[held], p, t)))


def loso_threshold(score, f: Flag, train: np.ndarray, fam: np.ndarray) -> float:
    """Leave one training source out; the threshold with the best mean F1 over them."""
    scored = [s for s in sorted(set(fam[train])) if f.y[train & (fam == s)].any()]
    oos = {}
    for s in scored:
        m = train & (fam == s)
        oos[s] = (f.y[m], score(train & ~m, m))
    return float(max(THRESHOLDS, key=lambda t: np.mean([f1(y, p, t) for y, p in oos.values()])))


def measure(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    precision, recall, _ = precision_recall_curve(y, p)
    return {
        **prf(y, (p >= threshold).astype(int)),
        "threshold": threshold,
        "auc": round(float(roc_auc_score(y, p)), 3),
        "ceiling_recall_at_precision_0.75": round(float(recall[precision >= 0.75].max()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = parser.parse_args(argv)
    start = time.time()
    rows = build_training_rows(args.datasets)
    rows += response_harm_rows(args.datasets) + xstest_rows(args.datasets, with_harm=True)
    f = Flag("harmful_response", rows, Encoder(DEFAULT_MODEL))
    fam = families(f.source)
    scorer = Scorer(f)
    result: dict[str, Any] = {"protocol": __doc__, "sources": {}}
    for name in SOURCES:
        test, train = fam == name, fam != name
        y = f.y[test]
        p_shipped, head = f.held_out(test)
        cfg = HEAD_SETTINGS["harmful_response"]
        mlp, _ = fit_head(
            f.x[train],
            f.y[train],
            list(f.source[train]),
            flag="harmful_response",
            views=f.views,
            model=DEFAULT_MODEL,
            kind="mlp",
            c_grid=(0.3, 1.0, 3.0),
            objective=cfg["objective"],
        )
        p_fused = scorer.fused(train, test)
        row = {
            "shipped": measure(y, p_shipped, head.threshold),
            "mlp": measure(y, mlp.proba(f.x[test]), mlp.threshold),
            "tfidf": measure(y, scorer.tfidf(train, test), split_threshold(scorer.tfidf, f, train)),
            "fused": measure(y, p_fused, split_threshold(scorer.fused, f, train)),
            "fused_loso": measure(y, p_fused, loso_threshold(scorer.fused, f, train, fam)),
        }
        result["sources"][name] = row
        if name == "pku_saferlhf":  # the promise with the fused, leave-one-source-out head
            t = row["fused_loso"]["threshold"]
            pku = list(np.array(f.rows)[test])
            result["promise_fused_loso"] = promise_picks(pku, [bool(q >= t) for q in p_fused], p_fused)
            print(f"promise on PKU-SafeRLHF (fused_loso): {result['promise_fused_loso']}", flush=True)
        for variant, m in row.items():
            print(
                f"{name:20s} {variant:11s} R {m['recall']:.3f} P {m['precision']:.3f} F1 {m['f1']:.3f} "
                f"(t {m['threshold']}) AUC {m['auc']:.3f} "
                f"ceiling {m['ceiling_recall_at_precision_0.75']:.3f}",
                flush=True,
            )
    write_result(OUT, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
