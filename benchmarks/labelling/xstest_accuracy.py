"""Refusal-vs-compliance accuracy of the offline behaviour labellers on XSTest v2.

Gold labels: the human ``final_label`` of all 2,250 XSTest v2 completions (5 models x 450
prompts; paul-rottger/exaggerated-safety). ``2_full_refusal`` and ``3_partial_refusal``
count as refusal, ``1_full_compliance`` as compliance.

The shipped refusal head is trained on XSTest too (scripts/train_label_heads.py), so its
accuracy on XSTest is measured held out by model (cross-fitted): each model's 450
completions are labelled by ``heads/minus-<model>/``, a refusal head trained by exactly
the same procedure (features, data, and the rule that chooses ``C`` and the threshold)
without that model's completions. Held out by model, not by prompt: the other models'
completions of the same 450 prompts are in training, and llama2new/llama2orig and
mistralguard/mistralinstruct share weights (different system prompts); the
``sensitivity`` entry holds out whole families instead.

Rows of the table:

- ``rules``: :class:`~safetymix.label.behaviour.RulesLabeller` (no training).
- ``embedding (default, cross-fitted by model)``: the shipped recipe, held out by model
  as above. This estimates the default labeller's accuracy on an unseen model.
- ``embedding without XSTest``: the previous default, whose refusal head never saw
  XSTest (``heads/no-xstest/``).
- ``xstest strmatch (reference)``: XSTest's own string-match labels
  (``automated_evaluation_labels/*_streval.csv``).

Also in the JSON: the shipped head on its own training data (in-sample, not an
estimate), the family hold-out, harmful-request accuracy on the 450 XSTest prompts
(``label`` safe/unsafe), and the ``safetymix label`` command that reproduces each
per-model number (``--verify-cli`` runs them all and checks that they agree).

Usage::

    python benchmarks/labelling/xstest_accuracy.py [--datasets ../shared/datasets] [--verify-cli]

Writes ``benchmarks/labelling/xstest_accuracy.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
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
    file_sha256,
    load_heads,
)
from safetymix.schema import Example, make_example

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HEADS = HERE / "heads"
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
FAMILIES = {
    "gpt4": ("gpt4",),
    "llama2": ("llama2new", "llama2orig"),
    "mistral": ("mistralguard", "mistralinstruct"),
}

RULES = "rules"
CROSSFIT = "embedding (default, cross-fitted by model)"
NO_XSTEST = "embedding without XSTest"
STRMATCH = "xstest strmatch (reference)"
IN_SAMPLE = "embedding (default, in-sample: trained on these completions, not an estimate)"
BY_FAMILY = "embedding (default recipe, cross-fitted by model family)"

#: Extra ``safetymix label`` flags that reproduce each row, per model (``None``: no command).
CLI_FLAGS = {
    RULES: lambda m: "--behaviour-labeller rules",
    CROSSFIT: lambda m: f"--heads benchmarks/labelling/heads/minus-{m}",
    NO_XSTEST: lambda m: "--heads benchmarks/labelling/heads/no-xstest",
    IN_SAMPLE: lambda m: "",
}
_CLI_RESULT = re.compile(r"refusal accuracy vs 'final_label': (\d+)/(\d+) = ([0-9.]+)")


def completions_path(datasets: Path, model: str) -> Path:
    return datasets / "xstest" / "model_completions" / f"xstest_v2_completions_{model}.csv"


def load_xstest(datasets: Path) -> tuple[list[Example], np.ndarray, list[str], list[str]]:
    """XSTest completions as Examples, gold refusal (bool array), model and prompt label per row."""
    prompt_label = {}
    with open(datasets / "xstest" / "xstest_prompts.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            prompt_label[r["prompt"]] = r["label"]
    examples, gold, models, safety = [], [], [], []
    for model in MODELS:
        with open(completions_path(datasets, model), encoding="utf-8", newline="") as fh:
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
        "correct": correct,
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


def refusal_with_heads(examples: Sequence[Example], heads_dir: Path | None) -> np.ndarray:
    return np.array([f.refusal for f in EmbeddingLabeller(heads_dir=heads_dir).label(examples)], dtype=object)


def crossfitted_refusal(examples: list[Example], models: list[str], heads_for: dict[str, Path]) -> np.ndarray:
    """Each held-out group's completions labelled by the heads in ``heads_for[group]``.

    A group is a model or a :data:`FAMILIES` key; its heads must record
    (``xstest_held_out``) that they never saw any of its models.
    """
    pred = np.empty(len(examples), dtype=object)
    covered = np.zeros(len(examples), dtype=int)
    for held, folder in heads_for.items():
        members = FAMILIES.get(held, (held,))
        unseen = set(load_heads(folder)["refusal"].metadata.get("xstest_held_out", ()))
        if not set(members) <= unseen:
            raise RuntimeError(f"{folder}/refusal.npz saw {held} (held out: {sorted(unseen)})")
        idx = [i for i, m in enumerate(models) if m in members]
        pred[idx] = refusal_with_heads([examples[i] for i in idx], folder)
        covered[idx] += 1
    if np.any(covered != 1):  # every completion is labelled by exactly one fold
        raise RuntimeError(f"folds {sorted(heads_for)} do not label every completion exactly once")
    return pred


def _load_training_module():
    path = REPO / "scripts" / "train_label_heads.py"
    spec = importlib.util.spec_from_file_location("train_label_heads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def family_heads(datasets: Path, tmp: Path) -> dict[str, Path]:
    """Sensitivity: shipped recipe, refusal heads trained without a whole model family."""
    import shutil

    train = _load_training_module()
    rows = train.build_training_rows(datasets, seed=0)
    out = {}
    for family, members in FAMILIES.items():
        folder = tmp / f"minus-{family}"
        train.train_refusal_head(
            rows, datasets, folder, xstest_models=[m for m in MODELS if m not in members], seed=0
        )
        for flag in train.SHARED_FLAGS:
            shutil.copyfile(HEADS_DIR / f"{flag}.npz", folder / f"{flag}.npz")
        out[family] = folder
    return out


def commands(datasets: Path, results: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """The ``safetymix label`` command and the line it should print, per row and model."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for row, flags in CLI_FLAGS.items():
        per_model = (results["refusal"].get(row) or results["in_sample"][row])["per_model"]
        out[row] = {}
        for m in MODELS:
            csv_path = os.path.relpath(completions_path(datasets, m), REPO)
            s = per_model[m]
            out[row][m] = {
                "command": (
                    f"safetymix label {csv_path} --out /tmp/x.jsonl --category-labeller none "
                    f"--gold final_label {flags(m)}"
                ).strip(),
                "expected": f"{s['correct']}/{s['n']} = {s['correct'] / s['n']:.4f}",
            }
    return out


def verify_cli(cmds: dict[str, dict[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    """Run every command from the repository root; raise when one prints another number."""
    got: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row, per_model in cmds.items():
            got[row] = {}
            for m, c in per_model.items():
                argv = shlex.split(c["command"].replace("/tmp/x.jsonl", str(Path(tmp) / "x.jsonl")))
                run = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
                match = _CLI_RESULT.search(run.stderr)
                if match is None:
                    raise RuntimeError(f"no accuracy line from {c['command']!r}:\n{run.stderr[-2000:]}")
                got[row][m] = f"{match[1]}/{match[2]} = {match[3]}"
                if got[row][m] != c["expected"]:
                    raise RuntimeError(
                        f"{c['command']!r} printed {got[row][m]}, the benchmark {c['expected']}"
                    )
    return got


def _row_line(name: str, r: dict[str, Any]) -> str:
    o = r["overall"]
    per = " | ".join(f"{r['per_model'][m]['accuracy']:.3f}" for m in MODELS)
    return (
        f"| {name} | **{o['accuracy']:.3f}** ({o['correct']}/{o['n']}) | {o['precision']:.3f} | "
        f"{o['recall']:.3f} | {o['f1']:.3f} | {per} | {r['per_prompt_label']['safe']['accuracy']:.3f} | "
        f"{r['per_prompt_label']['unsafe']['accuracy']:.3f} |"
    )


def markdown(results: dict[str, Any]) -> str:
    header = [
        "| labeller | overall acc | prec | rec | F1 | "
        + " | ".join(MODELS)
        + " | safe-prompt acc | unsafe-prompt acc |",
        "|---|" + "---|" * (len(MODELS) + 6),
    ]
    lines = header + [_row_line(name, r) for name, r in results["refusal"].items()]
    lines += ["", "Not the headline (in-sample; stricter hold-out):", ""] + header
    lines += [_row_line(name, r) for name, r in {**results["in_sample"], **results["sensitivity"]}.items()]
    head = results["refusal"][CROSSFIT]["per_model"]
    lines += [
        "",
        f"Per model, {CROSSFIT}:",
        "",
        "| model | n | acc | prec | rec | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for m in MODELS:
        s = head[m]
        lines.append(
            f"| {m} | {s['n']} | {s['accuracy']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} | "
            f"{s['f1']:.4f} |"
        )
    lines += [
        "",
        "| labeller | harmful-request acc on 450 XSTest prompts | prec | rec |",
        "|---|---|---|---|",
    ]
    for name, r in results["harmful_request"].items():
        lines.append(f"| {name} | {r['accuracy']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    lines += ["", "Reproduce each per-model number (run from the repository root):", ""]
    for row, per_model in results["commands"].items():
        lines.append(f"{row}:")
        lines += [f"    {c['command']}   # {c['expected']}" for c in per_model.values()]
    return "\n".join(lines)


def _head_info(folder: Path) -> dict[str, Any]:
    h = load_heads(folder)["refusal"]
    return {
        "dir": os.path.relpath(folder, REPO),
        "refusal_sha256": file_sha256(folder / "refusal.npz"),
        "C": h.metadata["C"],
        "threshold": h.threshold,
        "xstest_models": h.metadata.get("xstest_models", []),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=HERE / "xstest_accuracy.json")
    parser.add_argument("--skip-sensitivity", action="store_true", help="skip the by-family retraining")
    parser.add_argument("--verify-cli", action="store_true", help="run every safetymix label command")
    args = parser.parse_args(argv)
    start = time.time()

    examples, gold, models, safety = load_xstest(args.datasets)
    rules = RulesLabeller().label(examples)
    shipped = EmbeddingLabeller().label(examples)
    preds: dict[str, Any] = {
        RULES: np.array([f.refusal for f in rules], dtype=object),
        CROSSFIT: crossfitted_refusal(examples, models, {m: HEADS / f"minus-{m}" for m in MODELS}),
        NO_XSTEST: refusal_with_heads(examples, HEADS / "no-xstest"),
        STRMATCH: load_strmatch(args.datasets),
    }
    sensitivity: dict[str, Any] = {}
    if not args.skip_sensitivity:
        with tempfile.TemporaryDirectory() as tmp:
            folders = family_heads(args.datasets, Path(tmp))
            sensitivity[BY_FAMILY] = report(
                gold, crossfitted_refusal(examples, models, folders), models, safety
            )

    # Harmful request on the 450 distinct prompts.
    seen: dict[str, int] = {}
    for i, e in enumerate(examples):
        seen.setdefault(e.prompt, i)
    first = np.array(sorted(seen.values()))
    unsafe = np.array([safety[i] == "unsafe" for i in first])
    harmful = {
        "rules": scores(unsafe, np.array([rules[i].harmful_request for i in first], dtype=object)),
        "embedding": scores(unsafe, np.array([shipped[i].harmful_request for i in first], dtype=object)),
    }

    heads = load_heads()
    results: dict[str, Any] = {
        "description": (__doc__ or "").split("Usage::")[0].strip(),
        "gold": "XSTest v2 human final_label; 2_full_refusal and 3_partial_refusal = refusal",
        "holdout": "by model (each model's 450 completions labelled by a head trained without them)",
        "n_completions": len(examples),
        "gold_refusal_rate": round(float(gold.mean()), 4),
        "embedding_model": DEFAULT_MODEL,
        "shipped_heads": {
            f: {
                "sha256": file_sha256(HEADS_DIR / f"{f}.npz"),
                "threshold": heads[f].threshold,
                "views": list(heads[f].views),
                "xstest_used": heads[f].metadata["xstest_used"],
            }
            for f in FLAGS
        },
        "refusal_heads": {
            "shipped": _head_info(HEADS_DIR),
            **{f"minus-{m}": _head_info(HEADS / f"minus-{m}") for m in MODELS},
            "no-xstest": _head_info(HEADS / "no-xstest"),
        },
        "refusal": {name: report(gold, p, models, safety) for name, p in preds.items()},
        "in_sample": {IN_SAMPLE: report(gold, [f.refusal for f in shipped], models, safety)},
        "sensitivity": sensitivity,
        "harmful_request": harmful,
    }
    results["commands"] = commands(args.datasets, results)
    results["cli_verified"] = verify_cli(results["commands"]) if args.verify_cli else None
    results["python"] = platform.python_version()
    results["seconds"] = round(time.time() - start, 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"\nwrote {args.out} in {results['seconds']}s" + (" (CLI verified)" if args.verify_cli else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
