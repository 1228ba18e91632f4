"""A fine-tuned MiniLM cross-encoder for the refusal flag, next to the shipped head (issue 10, point 3).

The shipped refusal head (frozen MiniLM views + rule features, logistic) reaches 0.919 on
XSTest's 2,250 human-labelled completions held out by model, and no threshold on its
probabilities passes 0.923 (``flags_accuracy.json``), against a target of 0.95. This
fine-tunes the bundled all-MiniLM-L6-v2 end to end as a cross-encoder (prompt and response
together, one logit; ``harmful_response_finetune.fine_tune``) with the same protocol as the
shipped numbers: for each of XSTest's five models, train on the other four models'
completions plus up to ``--per-source`` rows of every other refusal source, choose the
threshold by balanced accuracy on a 10% validation split of those rows (the shipped rule),
and label the held-out model's 450 completions (``finetuned_at_0.5``: the same model with
the plain 0.5 rule of its loss, no threshold choice). The shipped head is refit on the same
folds, side by side.

Usage::

    python benchmarks/labelling/refusal_finetune.py [--per-source 300] [--max-length 128]

Each fold's probabilities are kept in ``refusal_finetune.cache/`` (the run resumes from
them); the result goes to ``refusal_finetune.json`` (42 minutes here on one torch thread,
about 8 per fold).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flags_accuracy import REPO, Flag, prf, write_result  # noqa: E402
from harmful_response_finetune import fine_tune, sample_training, score  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import DEFAULT_DATASETS, XSTEST_MODELS, build_training_rows, xstest_rows  # noqa: E402

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402
from safetymix.label.head_training import _balanced_accuracy  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")


def balanced_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold (on a 0.001 grid of the seen values) with the best balanced accuracy."""
    grid = np.unique(np.round(p, 3))
    scores = [_balanced_accuracy(y, (p >= t).astype(int)) for t in grid]
    return float(grid[int(np.argmax(scores))])


def run_fold(rows: list[dict], test: np.ndarray, name: str, args: argparse.Namespace) -> dict[str, Any]:
    path = CACHE / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    idx = sample_training(rows, ~test, args.per_source, args.seed, flag="refusal", keep_family="xstest")
    rng = np.random.default_rng(args.seed + 1)
    val = np.zeros(len(idx), dtype=bool)
    val[rng.choice(len(idx), len(idx) // 10, replace=False)] = True
    t0 = time.time()
    tok, model = fine_tune(rows, idx[~val], args, flag="refusal")
    seconds = time.time() - t0
    y_val = np.array([int(rows[i]["refusal"]) for i in idx[val]])
    threshold = balanced_threshold(y_val, score(tok, model, rows, idx[val], args.max_length))
    p = score(tok, model, rows, np.flatnonzero(test), args.max_length)
    record = {
        "proba": [round(float(v), 5) for v in p],
        "threshold": threshold,
        "train_rows": int((~val).sum()),
        "train_seconds": round(seconds, 1),
    }
    CACHE.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--per-source", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    flag = Flag(
        "refusal", build_training_rows(args.datasets) + xstest_rows(args.datasets), Encoder(DEFAULT_MODEL)
    )
    rows = flag.rows
    tag = f"e{args.epochs}-lr{args.lr}-L{args.max_length}-n{args.per_source}-s{args.seed}"
    result: dict[str, Any] = {"protocol": __doc__, "settings": vars(args) | {"datasets": str(args.datasets)}}
    correct = {"shipped_head": 0, "finetuned": 0, "finetuned_at_0.5": 0}
    for m in XSTEST_MODELS:
        test = flag.source == f"xstest/{m}"
        y = flag.y[test]
        p, head = flag.held_out(test)
        rec = run_fold(rows, test, f"{tag}-{m}", args)
        preds = {
            "shipped_head": (p >= head.threshold).astype(int),
            "finetuned": (np.array(rec["proba"]) >= rec["threshold"]).astype(int),
            "finetuned_at_0.5": (np.array(rec["proba"]) >= 0.5).astype(int),  # BCE's own rule, no tuning
        }
        result[m] = {k: prf(y, v) for k, v in preds.items()} | {
            "finetuned_threshold": rec["threshold"],
            "train_rows": rec["train_rows"],
            "train_seconds": rec["train_seconds"],
        }
        for k, v in preds.items():
            correct[k] += int(np.sum(v == y))
        print(m, json.dumps(result[m]), flush=True)
    n = int(np.sum(np.char.startswith(flag.source.astype(str), "xstest/")))
    result["all"] = {k: {"n": n, "accuracy": round(v / n, 3)} for k, v in correct.items()}
    print("all", result["all"], flush=True)
    write_result(OUT, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
