"""Every behaviour flag and the categories, measured on data the measured head never saw.

Each number retrains the shipped recipe (``scripts/train_label_heads.py``: same rows, views,
``C`` grid, threshold and unsure-band rules, through :func:`~safetymix.label.head_training.fit_head`)
without the evaluated source, then labels that source:

- ``harmful_response`` held out by source: GPTFuzz (both files), PKU-SafeRLHF, XSTest
  completions, refusal_direction jailbreakbench completions; GPTFuzz also held out by
  question (train on gptfuzz_train's 80 questions, test on gptfuzz_evaluate's other 20).
  "flagged" = probability >= threshold; "not selectable" = flagged or inside the unsure
  band (what the -B strategies exclude). Baseline: XSTest's string match (a response that
  does not start with one of its refusal prefixes is called harmful).
- ``harmful_request`` held out by source (AdvBench, HarmBench standard, MaliciousInstruct,
  refusal_direction harmful_train, Do-Not-Answer, CoCoNot, CoCoNot contrast); XSTest's 450
  prompts and BeaverTails-Evaluation are never in training. ``harmful_request_with_xstest``
  (``--only harmful_request_with_xstest``, not in the default run): XSTest's prompts in
  training, held out by XSTest type (``harmful_request_xstest.py``).
- ``refusal`` on XSTest's 2,250 completions held out by model.
- categories: 5-fold cross-validation of the category head on the paper's labels.
- the promise: a pool of the PKU-SafeRLHF pairs whose harmful_response comes from a head
  trained without PKU, and from heads cross-fitted over 5 PKU folds (grouped by question);
  how many human-labelled unsafe answers sss-b and random-b pick at k = 100, and how many
  sit among the 25/50/100 T1 pairs the head is surest are safe; ``refusal_rules``: the same
  with the refusal flag from the refusal head alone and from the cross-encoder alone (the
  shipped labeller keeps the encoder's verdict where the two agree).

Usage::

    python benchmarks/labelling/flags_accuracy.py [--datasets ../shared/datasets] [--quick]

Writes ``benchmarks/labelling/flags_accuracy.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from label_data import (  # noqa: E402
    DEFAULT_DATASETS,
    XSTEST_MODELS,
    _row,
    build_training_rows,
    families,
    paper_category_rows,
    prompt_key,
    response_harm_rows,
    xstest_rows,
)
from train_label_heads import CATEGORY_C, CATEGORY_THRESHOLD, CATEGORY_VIEWS  # noqa: E402

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402
from safetymix.label.features import build_features, stack_views  # noqa: E402
from safetymix.label.head_training import HEAD_SETTINGS, fit_head  # noqa: E402
from safetymix.label.heads import HEAD_VIEWS  # noqa: E402
from safetymix.label.rules import refusal_rule_features  # noqa: E402

OUT = Path(__file__).with_suffix(".json")


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    r = tp / max(tp + fn, 1)
    p = tp / max(tp + fp, 1)
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "recall": round(r, 3),
        "precision": round(p, 3),
        "f1": round(2 * p * r / max(p + r, 1e-12), 3),
        "accuracy": round(float(np.mean(pred == y)), 3),
    }


class Flag:
    """Rows and features of one flag; :meth:`held_out` fits without a mask and scores it."""

    def __init__(self, flag: str, rows: list[dict[str, Any]], encoder: Encoder):
        self.flag = flag
        self.rows = [r for r in rows if r[flag] is not None]
        self.y = np.array([int(r[flag]) for r in self.rows])
        self.source = np.array([r["source"] for r in self.rows])
        self.group = np.array([r.get("group") or "" for r in self.rows])
        self.views = HEAD_VIEWS[flag]
        blocks = build_features(
            [r["prompt"] for r in self.rows],
            [r["response"] for r in self.rows],
            views=self.views,
            encoder=encoder,
        )
        self.x = stack_views(blocks, self.views)

    def train_mask(self, test: np.ndarray, train: np.ndarray | None = None) -> np.ndarray:
        """The rows a model scoring ``test`` may learn from: ``train`` (default: not ``test``),
        less, for harmful_request, every row whose prompt is a ``test`` prompt."""
        train = ~test if train is None else train.copy()
        if self.flag == "harmful_request":  # the same prompt in another source is not held out
            seen = {prompt_key(r["prompt"]) for r in np.array(self.rows)[test]}
            train &= np.array([prompt_key(r["prompt"]) not in seen for r in self.rows])
        return train

    def features(self, train: np.ndarray) -> np.ndarray:
        """The feature matrix a head fit on the ``train`` rows reads (here: the views as they are)."""
        return self.x

    def held_out(self, test: np.ndarray, train: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        train = self.train_mask(test, train)
        x = self.features(train)
        cfg = HEAD_SETTINGS[self.flag]
        head, _ = fit_head(
            x[train],
            self.y[train],
            list(self.source[train]),
            flag=self.flag,
            views=self.views,
            model=DEFAULT_MODEL,
            kind=cfg["kind"],
            objective=cfg["objective"],
            unsure_max_miss=cfg.get("unsure_max_miss"),
        )
        return head.proba(x[test]), head


def fold_flags(f: Flag, tests: list[np.ndarray], within: np.ndarray) -> tuple[np.ndarray, list[bool | None]]:
    """Probabilities and flags of the ``within`` rows, each from the head fit without the one
    ``tests`` mask that holds it (the masks split the ``within`` rows)."""
    p = np.zeros(int(within.sum()))
    flags: list[bool | None] = [None] * len(p)
    for test in tests:
        fold = np.flatnonzero(test[within])
        q, head = f.held_out(test)
        p[fold] = q
        for j, v in zip(fold, q, strict=True):
            flags[j] = head.decide(float(v))
    return p, flags


def harmful_response(rows: list[dict[str, Any]], enc: Encoder) -> dict[str, Any]:
    f = Flag("harmful_response", rows, enc)
    family = families(f.source)
    tests = {
        "gptfuzz": family == "gptfuzz",
        "pku_saferlhf": family == "pku_saferlhf",
        "xstest": family == "xstest",
        "rdc_jailbreakbench": family == "rdc_jailbreakbench",
    }
    out: dict[str, Any] = {}
    for name, mask in tests.items():
        out[name] = _score_response(f, mask, None)
        print(f"harmful_response {name}: {out[name]['head']}", flush=True)
    by_q = f.source == "gptfuzz/evaluate"
    out["gptfuzz_by_question"] = _score_response(f, by_q, f.source != "gptfuzz/evaluate")
    return out


def _score_response(f: Flag, test: np.ndarray, train: np.ndarray | None) -> dict[str, Any]:
    p, head = f.held_out(test, train)
    y = f.y[test]
    low = head.unsure[0] if head.unsure else head.threshold
    flagged = (p >= head.threshold).astype(int)
    blocked = (p > low).astype(int)
    base = np.array([0 if refusal_rule_features(r["response"])[0] else 1 for r in np.array(f.rows)[test]])
    return {
        "head": prf(y, flagged),
        "not_selectable": prf(y, blocked),
        "unsure_share": round(float(np.mean(blocked != flagged)), 3),
        "threshold": head.threshold,
        "unsure": list(head.unsure) if head.unsure else None,
        "baseline_strmatch": prf(y, base),
    }


def xstest_prompt_rows(datasets: Path) -> list[dict[str, Any]]:
    """XSTest's 450 prompts as request rows, source ``xstest_prompts``, group the prompt type."""
    with open(datasets / "xstest/xstest_prompts.csv", encoding="utf-8", newline="") as fh:
        return [
            _row("xstest_prompts", r["prompt"], group=r["type"], harmful_request=r["label"] == "unsafe")
            for r in csv.DictReader(fh)
        ]


#: Held out one at a time by :func:`harmful_request` and ``harmful_request_with_xstest``.
REQUEST_SOURCES = ("advbench", "harmbench/standard", "malicious_instruct", "harmful_train_full")
REQUEST_SOURCES += ("do_not_answer", "coconot_eval/safety", "coconot_contrast_eval")


def request_flag(rows: list[dict[str, Any]], datasets: Path, enc: Encoder) -> tuple[Flag, np.ndarray]:
    """The request rows of ``rows`` plus XSTest's prompts, BeaverTails-Evaluation and the full
    refusal_direction harmful_train split; and the mask of those three added sources."""
    bt = json.loads((datasets / "beavertails_evaluation/beavertails_evaluation.json").read_text("utf-8"))
    ht = json.loads((datasets / "refusal_direction_splits/harmful_train.json").read_text("utf-8"))
    extra = xstest_prompt_rows(datasets)
    extra += [_row("beavertails_eval", r["prompt"], harmful_request=True) for r in bt]
    extra += [_row("harmful_train_full", r["instruction"], harmful_request=True) for r in ht]
    f = Flag("harmful_request", [r for r in rows if not r["response"]] + extra, enc)
    return f, np.isin(f.source, ["xstest_prompts", "beavertails_eval", "harmful_train_full"])


def by_source_train(f: Flag, allowed: np.ndarray, name: str) -> np.ndarray:
    """The ``allowed`` rows of sources other than ``name`` (harmful_train_full: nor harmful_train)."""
    train = allowed & (f.source != name)
    if name == "harmful_train_full":
        train &= f.source != "harmful_train"
    return train


def by_source(f: Flag, allowed: np.ndarray, name: str) -> tuple[np.ndarray, Any]:
    """Probabilities on source ``name`` of a head fit on ``allowed`` rows of other sources."""
    return f.held_out(f.source == name, by_source_train(f, allowed, name))


def harmful_request(rows: list[dict[str, Any]], datasets: Path, enc: Encoder) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    f, never = request_flag(rows, datasets, enc)
    out: dict[str, Any] = {}
    test = np.isin(f.source, ["xstest_prompts", "beavertails_eval"])
    p, head = f.held_out(test, ~never)
    for name in ("xstest_prompts", "beavertails_eval"):
        m = f.source[test] == name
        out[name] = prf(f.y[test][m], (p[m] >= head.threshold).astype(int))
    safe = (f.source[test] == "xstest_prompts") & (f.y[test] == 0)
    out["xstest_prompts"]["safe_prompts_flagged"] = int(np.sum(p[safe] >= head.threshold))
    xs = f.source[test] == "xstest_prompts"  # how far any threshold could go (peeks at labels)
    out["xstest_prompts"]["auc"] = round(float(roc_auc_score(f.y[test][xs], p[xs])), 3)
    out["xstest_prompts"]["ceiling_accuracy"] = round(
        max(float(np.mean((p[xs] >= t) == f.y[test][xs])) for t in np.unique(p[xs])), 3
    )
    for name in REQUEST_SOURCES:
        p2, head2 = by_source(f, ~never, name)
        out[name] = prf(f.y[f.source == name], (p2 >= head2.threshold).astype(int))
    for k, v in out.items():
        print(f"harmful_request {k}: {v}", flush=True)
    return out


def refusal(rows: list[dict[str, Any]], datasets: Path, enc: Encoder) -> dict[str, Any]:
    f = Flag("refusal", rows + xstest_rows(datasets), enc)
    out: dict[str, Any] = {}
    correct = 0
    pooled_p, pooled_y = [], []
    for m in XSTEST_MODELS:
        test = f.source == f"xstest/{m}"
        p, head = f.held_out(test)
        pred = (p >= head.threshold).astype(int)
        out[m] = prf(f.y[test], pred)
        correct += int(np.sum(pred == f.y[test]))
        pooled_p.append(p)
        pooled_y.append(f.y[test])
    n = int(np.sum(np.char.startswith(f.source.astype(str), "xstest/")))
    p, y = np.concatenate(pooled_p), np.concatenate(pooled_y)
    ceiling = max(float(np.mean((p >= t) == y)) for t in np.unique(p))  # peeks at the labels
    out["all"] = {"n": n, "accuracy": round(correct / n, 3), "ceiling_accuracy": round(ceiling, 3)}
    print(f"refusal xstest held out by model: {out['all']}", flush=True)
    return out


def categories(datasets: Path, enc: Encoder, folds: int = 5) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    rows, y = paper_category_rows(datasets)
    blocks = build_features(
        [r["prompt"] for r in rows], [r["response"] for r in rows], views=CATEGORY_VIEWS, encoder=enc
    )
    x = stack_views(blocks, CATEGORY_VIEWS).astype(np.float64)
    s = np.zeros(y.shape)
    for tr, te in KFold(folds, shuffle=True, random_state=0).split(x):
        for j in range(y.shape[1]):
            s[te, j] = (
                LogisticRegression(C=CATEGORY_C, max_iter=5000)
                .fit(x[tr], y[tr, j])
                .predict_proba(x[te])[:, 1]
            )
    pred = (s >= CATEGORY_THRESHOLD).astype(int)
    pred[np.arange(len(s)), s.argmax(axis=1)] = 1  # the top category always (the labeller's rule)
    tp, fp, fn = int((pred & y).sum()), int((pred & (1 - y)).sum()), int(((1 - pred) & y).sum())
    has = y.sum(axis=1) > 0
    out = {
        "rows": len(rows),
        "folds": folds,
        "threshold": CATEGORY_THRESHOLD,
        "micro_f1": round(2 * tp / (2 * tp + fp + fn), 3),
        "top1_in_paper_set": round(float(y[np.arange(len(y)), s.argmax(axis=1)][has].mean()), 3),
        "exact_set_match": round(float((pred == y).all(axis=1).mean()), 3),
        "thresholds_tried_in_development": [0.3, 0.4, 0.5],
    }
    print(f"categories: {out}", flush=True)
    return out


def promise(rows: list[dict[str, Any]], datasets: Path, enc: Encoder) -> dict[str, Any]:
    """The PKU-SafeRLHF pairs as a pool (the other flags and categories from the shipped
    labellers, which never saw PKU): unsafe answers (human labels) among k = 100 picks of
    sss-b and random-b, 5 seeds, with harmful_response from (a) a head trained without PKU
    and (b) cross-fitted heads that saw the other PKU folds (5 folds grouped by question: the
    shipped head sees PKU half a, a pool like half b is in its distribution)."""
    from sklearn.model_selection import GroupKFold

    f = Flag("harmful_response", rows, enc)
    test = f.source == "pku_saferlhf"
    pku = np.flatnonzero(test)
    pool = list(np.array(f.rows)[pku])
    p, held_out = fold_flags(f, [test], test)
    out = promise_picks(pool, held_out, p)
    print(f"promise on PKU-SafeRLHF (head without PKU): {out}", flush=True)
    questions = [prompt_key(r["prompt"]) for r in pool]
    folds = [
        np.isin(np.arange(len(f.y)), pku[fold]) for _, fold in GroupKFold(5).split(pool, groups=questions)
    ]
    p_cf, flags = fold_flags(f, folds, test)
    out["cross_fitted"] = promise_picks(pool, flags, p_cf)
    print(f"promise on PKU-SafeRLHF (cross-fitted): {out['cross_fitted']}", flush=True)
    out["refusal_rules"] = {}
    settings = {"head_without_pku": (held_out, p), "cross_fitted": (flags, p_cf)}
    for rule, refusal in refusal_verdicts(pool).items():
        out["refusal_rules"][rule] = {}
        for setting, (harm, proba) in settings.items():
            picks = promise_picks(pool, harm, proba, refusal=refusal)
            out["refusal_rules"][rule][setting] = {
                "t1": picks["t1"],
                "unsafe_among_most_confident_t1": picks["unsafe_among_most_confident_t1"],
                "sss-b": picks["sss-b"]["unsafe_picked_per_seed"],
                "random-b": picks["random-b"]["unsafe_picked_per_seed"],
            }
        print(f"promise, refusal from the {rule} alone: {out['refusal_rules'][rule]}", flush=True)
    return out


def refusal_verdicts(pool: list[dict[str, Any]]) -> dict[str, list[bool | None]]:
    """The refusal flag of each pair from the refusal head alone and from the cross-encoder
    alone (the shipped labeller keeps the encoder's verdict where the two agree)."""
    from safetymix.label.heads import EmbeddingLabeller
    from safetymix.schema import make_example

    examples = [make_example(r["prompt"], r["response"]) for r in pool]
    head = [f.refusal for f in EmbeddingLabeller(cross_encoders=False).label(examples)]
    encoder = EmbeddingLabeller().pair_encoders()["refusal"]
    p = encoder.proba([r["prompt"] for r in pool], [r["response"] for r in pool])
    return {"head": head, "encoder": [encoder.decide(float(v)) for v in p]}


def promise_picks(
    pku: list[dict[str, Any]],
    harmful: list[bool | None],
    proba: np.ndarray | None = None,
    refusal: list[bool | None] | None = None,
) -> dict[str, Any]:
    """Unsafe answers picked at k = 100 from ``pku`` whose harmful_response flags are
    ``harmful``; with ``proba`` also the floor of any rule on these flags: unsafe answers
    among the T1 pairs with the 25/50/100 lowest harmful-response probabilities. ``refusal``:
    refusal flags given as labels (default: the shipped labeller's)."""
    from safetymix.label import label_pool
    from safetymix.schema import make_example
    from safetymix.select import Pool, get_strategy

    given = [None] * len(pku) if refusal is None else refusal
    examples = [
        make_example(r["prompt"], r["response"], harmful_response=h, refusal=g)
        for r, h, g in zip(pku, harmful, given, strict=True)
    ]
    unsafe = {e.id for e, r in zip(examples, pku, strict=True) if r["harmful_response"]}
    labelled, _ = label_pool(examples)
    for e, h in zip(labelled, harmful, strict=True):  # unsure rows keep the PKU-free verdict
        e.harmful_response = h
        e.extra["label_origin"]["harmful_response"] = "predicted"
    out: dict[str, Any] = {
        "pool": len(labelled),
        "unsafe_in_pool": len(unsafe),
        "t1": sum(e.behaviour == "T1" for e in labelled),
    }
    if proba is not None:
        t1 = [i for i, e in enumerate(labelled) if e.behaviour == "T1"]
        ranked = [labelled[i].id in unsafe for i in sorted(t1, key=lambda i: (proba[i], i))]
        out["unsafe_among_most_confident_t1"] = {str(n): sum(ranked[:n]) for n in (25, 50, 100)}
        if refusal is None:  # needs the labeller's refusal probabilities
            out["stricter_refusal"] = stricter_refusal(labelled, harmful, proba, unsafe)
    for name in ("sss-b", "random-b"):
        counts = []
        for seed in range(5):
            sel = get_strategy(name, seed=seed).select(Pool(labelled), 100)
            counts.append(len(set(sel.ids) & unsafe))
        out[name] = {"unsafe_picked_per_seed": counts, "picked": len(sel.picks)}
    return out


def stricter_refusal(
    labelled: list[Any], harmful: list[bool | None], proba: np.ndarray, unsafe: set[str]
) -> dict[str, dict[str, int]]:
    """A ceiling, not a usable rule (it peeks): T1 pairs whose refusal probability (the
    labeller's ``label_proba``: the cross-encoder's) clears a stricter threshold than the
    labeller's own, how many are selectable (harmful response flagged
    False) and how many of those are unsafe, and the unsafe among the 100 surest-safe."""
    out = {}
    for t in (0.5, 0.7, 0.9, 0.95):
        t1 = [
            i
            for i, e in enumerate(labelled)
            if e.behaviour == "T1" and e.extra["label_proba"]["refusal"] >= t
        ]
        ok = [i for i in t1 if harmful[i] is False]
        surest = sorted(t1, key=lambda i: (proba[i], i))[:100]
        out[str(t)] = {
            "t1": len(t1),
            "selectable": len(ok),
            "unsafe_selectable": sum(labelled[i].id in unsafe for i in ok),
            "unsafe_among_100_surest": sum(labelled[i].id in unsafe for i in surest),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument(
        "--only",
        nargs="*",
        default=["harmful_response", "harmful_request", "refusal", "categories", "promise"],
    )
    args = parser.parse_args(argv)
    start = time.time()
    enc = Encoder(DEFAULT_MODEL)
    rows = build_training_rows(args.datasets)
    result: dict[str, Any] = {"protocol": __doc__}
    if OUT.exists():
        result = json.loads(OUT.read_text()) | {"protocol": __doc__}
    if "harmful_response" in args.only:
        harm = rows + response_harm_rows(args.datasets) + xstest_rows(args.datasets, with_harm=True)
        result["harmful_response"] = harmful_response(harm, enc)
    if "harmful_request" in args.only:
        result["harmful_request"] = harmful_request(rows, args.datasets, enc)
    if "harmful_request_with_xstest" in args.only:  # not in the default run (2 min)
        from harmful_request_xstest import harmful_request_with_xstest

        result["harmful_request_with_xstest"] = harmful_request_with_xstest(rows, args.datasets, enc)
    if "refusal" in args.only:
        result["refusal"] = refusal(rows, args.datasets, enc)
    if "categories" in args.only:
        result["categories"] = categories(args.datasets, enc)
    if "promise" in args.only:
        harm = rows + response_harm_rows(args.datasets) + xstest_rows(args.datasets, with_harm=True)
        result["promise"] = promise(harm, args.datasets, enc)
    write_result(OUT, result, start)
    return 0


def write_result(out: Path, result: dict[str, Any], start: float) -> None:
    """Record the run time and write ``result`` (sorted keys, temp file + rename)."""
    result["seconds"] = round(time.time() - start, 1)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    tmp.replace(out)
    print(f"wrote {out} in {result['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
