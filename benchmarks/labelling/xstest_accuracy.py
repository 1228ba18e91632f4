"""Refusal-vs-compliance accuracy of the offline behaviour labellers on XSTest v2.

Gold labels: the human ``final_label`` of all 2,250 XSTest v2 completions (5 models x 450
prompts; paul-rottger/exaggerated-safety). ``2_full_refusal`` and ``3_partial_refusal``
count as refusal, ``1_full_compliance`` as compliance.

Labellers compared (none has seen XSTest):

- ``rules``: :class:`~safetymix.label.behaviour.RulesLabeller`.
- ``embedding``: :class:`~safetymix.label.behaviour.EmbeddingLabeller` with the shipped
  heads (sentence embedding of the response's first two sentences + rule cues).
- ``embedding-only (ablation)``: the same training rows and recipe, but the refusal head
  reads the embedding alone (no rule cues); trained here, not shipped.
- ``rules+embedding``: refusal when both agree, else the embedding head's verdict only
  when its probability is decisive (>= 0.8 or <= 0.2), else the rules.
- reference: XSTest's own string-match labels (``automated_evaluation_labels/*_streval.csv``).

A separate, clearly marked variant, ``xstest-lomo``, trains a refusal head (same features
and recipe as the shipped one) on four XSTest models' completions and tests it on the
fifth ("hold out by model"). It uses XSTest for training and is NOT a shipped labeller.

Also reported: harmful-request accuracy on the 450 XSTest prompts (``label`` safe/unsafe).

Usage::

    python benchmarks/labelling/xstest_accuracy.py [--datasets ../shared/datasets]

Writes ``benchmarks/labelling/xstest_accuracy.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL
from safetymix.label.behaviour import (
    FLAGS,
    HEADS_DIR,
    EmbeddingLabeller,
    RulesLabeller,
    build_features,
    file_sha256,
    load_head,
    load_heads,
    stack_views,
    train_behaviour_heads,
)
from safetymix.schema import Example, make_example

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
DECISIVE = 0.8


def load_xstest(datasets: Path) -> tuple[list[Example], np.ndarray, list[str], list[str]]:
    """XSTest completions as Examples, gold refusal (bool array), model and prompt label per row."""
    prompt_label = {}
    with open(datasets / "xstest" / "xstest_prompts.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            prompt_label[r["prompt"]] = r["label"]
    examples, gold, models, safety = [], [], [], []
    for model in MODELS:
        path = datasets / "xstest" / "model_completions" / f"xstest_v2_completions_{model}.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                examples.append(
                    make_example(r["prompt"], r["completion"], id=f"{model}/{r['id']}", source=model)
                )
                gold.append(r["final_label"] != "1_full_compliance")
                models.append(model)
                safety.append(prompt_label.get(r["prompt"], "unsafe" if "contrast" in r["type"] else "safe"))
    return examples, np.array(gold), models, safety


def load_strmatch(datasets: Path) -> np.ndarray:
    out = []
    for model in MODELS:
        path = (
            datasets / "xstest" / "automated_evaluation_labels" / f"xstest_v2_completions_{model}_streval.csv"
        )
        with open(path, encoding="utf-8", newline="") as fh:
            out += [r["strmatch_label"] != "1_full_compliance" for r in csv.DictReader(fh)]
    return np.array(out)


def scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy, precision/recall/F1 of refusal; a None prediction counts as wrong."""
    known = np.array([p is not None for p in pred])
    p = np.array([bool(x) if x is not None else False for x in pred])
    tp = int(np.sum(p & gold & known))
    fp = int(np.sum(p & ~gold & known))
    fn = int(np.sum(~p & gold & known))
    correct = int(np.sum((p == gold) & known))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {
        "n": len(gold),
        "accuracy": round(correct / len(gold), 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
        "unknown": int(np.sum(~known)),
    }


def report(gold: np.ndarray, pred: Sequence[Any], models: list[str], safety: list[str]) -> dict[str, Any]:
    pred = np.array(pred, dtype=object)
    out: dict[str, Any] = {"overall": scores(gold, pred), "per_model": {}, "per_prompt_label": {}}
    for m in MODELS:
        idx = np.array([x == m for x in models])
        out["per_model"][m] = scores(gold[idx], pred[idx])
    for s in ("safe", "unsafe"):
        idx = np.array([x == s for x in safety])
        out["per_prompt_label"][s] = scores(gold[idx], pred[idx])
    return out


def _load_training_module():
    path = REPO / "scripts" / "train_label_heads.py"
    spec = importlib.util.spec_from_file_location("train_label_heads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def embedding_only_refusal(datasets: Path, examples: list[Example], tmp: Path) -> np.ndarray:
    """Ablation: the shipped recipe and training rows, the refusal head without rule cues."""
    import safetymix.label.behaviour as behaviour

    train = _load_training_module()
    rows = train.build_training_rows(datasets, seed=0)
    saved = behaviour.HEAD_VIEWS["refusal"]
    behaviour.HEAD_VIEWS["refusal"] = ("response_head",)
    try:
        train_behaviour_heads(rows, tmp, flags=("refusal",), seed=0)
    finally:
        behaviour.HEAD_VIEWS["refusal"] = saved
    head = load_head(tmp / "refusal.npz")
    blocks = build_features([e.prompt for e in examples], [e.response for e in examples])
    return head.proba(stack_views(blocks, head.views)) >= head.threshold


def leave_one_model_out(
    examples: list[Example], gold: np.ndarray, models: list[str], tmp: Path
) -> np.ndarray:
    """Refusal head trained on four XSTest models' completions, applied to the fifth."""
    pred = np.zeros(len(examples), dtype=bool)
    blocks = build_features([e.prompt for e in examples], [e.response for e in examples])
    for held in MODELS:
        rows = [
            {"prompt": e.prompt, "response": e.response, "refusal": bool(g), "source": m}
            for e, g, m in zip(examples, gold, models, strict=True)
            if m != held
        ]
        train_behaviour_heads(rows, tmp / held, flags=("refusal",), seed=0)
        head = load_head(tmp / held / "refusal.npz")
        idx = np.array([m == held for m in models])
        x = stack_views({k: v[idx] for k, v in blocks.items()}, head.views)
        pred[idx] = head.proba(x) >= head.threshold
    return pred


def markdown(results: dict[str, Any]) -> str:
    names = list(results["refusal"])
    lines = [
        "| labeller | overall acc | prec | rec | F1 | "
        + " | ".join(MODELS)
        + " | safe-prompt acc | unsafe-prompt acc |",
        "|---|" + "---|" * (len(MODELS) + 6),
    ]
    for name in names:
        r = results["refusal"][name]
        o = r["overall"]
        per = " | ".join(f"{r['per_model'][m]['accuracy']:.3f}" for m in MODELS)
        lines.append(
            f"| {name} | **{o['accuracy']:.3f}** | {o['precision']:.3f} | {o['recall']:.3f} | "
            f"{o['f1']:.3f} | "
            f"{per} | {r['per_prompt_label']['safe']['accuracy']:.3f} | "
            f"{r['per_prompt_label']['unsafe']['accuracy']:.3f} |"
        )
    lines += [
        "",
        "| labeller | harmful-request acc on 450 XSTest prompts | prec | rec |",
        "|---|---|---|---|",
    ]
    for name, r in results["harmful_request"].items():
        lines.append(f"| {name} | {r['accuracy']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=HERE / "xstest_accuracy.json")
    parser.add_argument("--skip-ablation", action="store_true", help="skip the embedding-only retraining")
    args = parser.parse_args(argv)
    start = time.time()

    examples, gold, models, safety = load_xstest(args.datasets)
    rules = RulesLabeller().label(examples)
    labeller = EmbeddingLabeller()
    emb = labeller.label(examples)
    p_ref = labeller.predict_proba(examples)["refusal"]
    rules_ref = np.array([f.refusal for f in rules])
    emb_ref = np.array([f.refusal for f in emb])
    decisive = (p_ref >= DECISIVE) | (p_ref <= 1 - DECISIVE)
    ensemble = np.where(rules_ref == emb_ref, rules_ref, np.where(decisive, emb_ref, rules_ref))

    preds: dict[str, Any] = {
        "rules": rules_ref,
        "embedding": emb_ref,
        "rules+embedding": ensemble,
    }
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_ablation:
            preds["embedding-only (ablation)"] = embedding_only_refusal(
                args.datasets, examples, Path(tmp) / "abl"
            )
        preds["xstest strmatch (reference)"] = load_strmatch(args.datasets)
        preds["xstest-lomo (trained on XSTest, hold out by model)"] = leave_one_model_out(
            examples, gold, models, Path(tmp) / "lomo"
        )

    # Harmful request on the 450 distinct prompts.
    seen: dict[str, int] = {}
    for i, e in enumerate(examples):
        seen.setdefault(e.prompt, i)
    first = np.array(sorted(seen.values()))
    unsafe = np.array([safety[i] == "unsafe" for i in first])
    harmful = {
        "rules": scores(unsafe, np.array([rules[i].harmful_request for i in first], dtype=object)),
        "embedding": scores(unsafe, np.array([emb[i].harmful_request for i in first], dtype=object)),
    }

    heads = load_heads()
    results = {
        "description": (__doc__ or "").split("Usage::")[0].strip(),
        "gold": "XSTest v2 human final_label; 2_full_refusal and 3_partial_refusal = refusal",
        "n_completions": len(examples),
        "gold_refusal_rate": round(float(gold.mean()), 4),
        "embedding_model": DEFAULT_MODEL,
        "heads": {
            f: {
                "sha256": file_sha256(HEADS_DIR / f"{f}.npz"),
                "threshold": heads[f].threshold,
                "views": list(heads[f].views),
            }
            for f in FLAGS
        },
        "ensemble_rule": (
            f"agree -> shared verdict; disagree -> embedding if p>={DECISIVE} or p<={1 - DECISIVE:.1f}, "
            "else rules"
        ),
        "refusal": {name: report(gold, p, models, safety) for name, p in preds.items()},
        "harmful_request": harmful,
        "python": platform.python_version(),
        "seconds": round(time.time() - start, 1),
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"\nwrote {args.out} in {results['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
