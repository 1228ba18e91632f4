"""A fine-tuned MiniLM cross-encoder for harmful_response, next to the shipped frozen head (issue 10).

The question: is the promise's floor on PKU-SafeRLHF (16 human-labelled unsafe answers among
the 100 T1 pairs the shipped head is surest are safe) a limit of frozen MiniLM features, or
of the labels? This fine-tunes the bundled all-MiniLM-L6-v2 end to end as a cross-encoder
(prompt and response read together, ``AutoModelForSequenceClassification``, one logit) and
compares it with the shipped recipe on the same folds, side by side:

- protocol: the 2,024 PKU-SafeRLHF pairs split in two by question (scikit-learn's
  ``GroupKFold``); each half is scored by a model trained on the other half plus a seeded
  sample of every other harmful-response source (``--per-source`` rows per source family),
  so the pool is in the training distribution, as half b is for the shipped head trained on
  half a. ``--held-out-pku`` adds a run trained without any PKU pair (a new source);
- measured per model: ROC AUC on PKU, the best recall any threshold reaches at precision >=
  0.75 (a ceiling: it peeks at the labels), the unsafe answers among the 25/50/100 T1 pairs it
  is surest are safe (the floor of any threshold rule), and the unsafe answers among k = 100
  sss-b / random-b picks (5 seeds) with its flag at a threshold chosen by F1 on a 10%
  validation split of its training rows. T1 comes from the shipped refusal and
  harmful-request labellers, as in ``flags_accuracy.py``'s ``promise``.

Usage::

    python benchmarks/labelling/harmful_response_finetune.py [--epochs 1] [--max-length 128]

Each trained model's PKU probabilities are kept in ``harmful_response_finetune.cache/`` (the
run resumes from them); the result goes to ``harmful_response_finetune.json``. On this
machine (2 cores, one torch thread) a model trains in 12-14 minutes; the whole run with
``--held-out-pku`` took 39 minutes.
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
from flags_accuracy import REPO, Flag, promise_picks, write_result  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import (  # noqa: E402
    DEFAULT_DATASETS,
    build_training_rows,
    prompt_key,
    response_harm_rows,
    sample_training,
    xstest_rows,
)

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402
from safetymix.label import cross_encoder  # noqa: E402
from safetymix.label.head_training import OBJECTIVES  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")


def fine_tune(rows: list[dict], train: np.ndarray, args: argparse.Namespace, flag: str = "harmful_response"):
    """The product's cross-encoder recipe (:func:`safetymix.label.cross_encoder.fine_tune`) on
    the ``flag`` labels of ``rows[train]``; returns the tokenizer and the model."""
    prompts, responses = pair_texts([rows[i] for i in train], flag)
    y = np.array([float(rows[i][flag]) for i in train])
    return cross_encoder.fine_tune(
        prompts,
        responses,
        y,
        epochs=args.epochs,
        lr=args.lr,
        batch=args.batch,
        max_length=args.max_length,
        seed=args.seed,
    )


def pair_texts(rows: list[dict], flag: str) -> tuple[list[str], list[str] | None]:
    """The prompts, and the responses (None for harmful_request, which reads the prompt alone)."""
    prompts = [r["prompt"] for r in rows]
    return prompts, None if flag == "harmful_request" else [r["response"] for r in rows]


def score(tok, model, rows: list[dict], idx: np.ndarray, max_length: int, flag: str) -> np.ndarray:
    prompts, responses = pair_texts([rows[i] for i in idx], flag)
    return cross_encoder.predict(tok, model, prompts, responses, max_length)


def validation_threshold(y: np.ndarray, p: np.ndarray, objective: str) -> float:
    """The threshold (on a 0.001 grid of the seen values) with the best ``objective`` (a name
    in the shipped recipe's ``OBJECTIVES``); the first best on ties."""
    grid = np.unique(np.round(p, 3))
    scores = [OBJECTIVES[objective](y, (p >= t).astype(int)) for t in grid]
    return float(grid[int(np.argmax(scores))])


def run_finetuned(
    rows: list[dict],
    train_mask: np.ndarray,
    test: np.ndarray,
    path: Path,
    args: argparse.Namespace,
    flag: str = "harmful_response",
    keep_family: str = "pku_saferlhf",
    objective: str = "f1",
) -> dict:
    """Fine-tune on a sample of ``train_mask`` rows (:func:`sample_training`), choose the
    threshold by ``objective`` on a 10% validation split of them, and score ``test`` (indices);
    the record is cached in ``path`` and read back from there on a rerun."""
    if path.exists():
        return json.loads(path.read_text())
    idx = sample_training(rows, train_mask, args.per_source, args.seed, flag=flag, keep_family=keep_family)
    rng = np.random.default_rng(args.seed + 1)
    val = np.zeros(len(idx), dtype=bool)
    val[rng.choice(len(idx), len(idx) // 10, replace=False)] = True
    t0 = time.time()
    tok, model = fine_tune(rows, idx[~val], args, flag=flag)
    seconds = time.time() - t0
    y_val = np.array([int(rows[i][flag]) for i in idx[val]])
    p_val = score(tok, model, rows, idx[val], args.max_length, flag)
    threshold = validation_threshold(y_val, p_val, objective)
    t1 = time.time()
    p = score(tok, model, rows, test, args.max_length, flag)
    record = {
        "test": test.tolist(),
        "proba": [round(float(v), 5) for v in p],
        "threshold": threshold,
        "train_rows": int((~val).sum()),
        "train_seconds": round(seconds, 1),
        "score_pairs_per_second": round(len(test) / (time.time() - t1), 1),
    }
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return record


def finetune_parser(description: str, per_source: int) -> argparse.ArgumentParser:
    """The options both fine-tune benchmarks take."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--per-source", type=int, default=per_source)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="result file (default: beside the script)")
    return parser


def settings_record(args: argparse.Namespace) -> dict[str, Any]:
    """The run's options for its JSON record (paths as strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def run_tag(args: argparse.Namespace) -> str:
    """The cache-file prefix of a setting."""
    return f"e{args.epochs}-lr{args.lr}-L{args.max_length}-n{args.per_source}-s{args.seed}"


def measure(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    prec, rec, _ = precision_recall_curve(y, p)
    return {
        "auc": round(float(roc_auc_score(y, p)), 3),
        "ceiling_recall_at_p075": round(float(rec[prec >= 0.75].max()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupKFold

    parser = finetune_parser(__doc__.split("\n\n")[0], per_source=600)
    parser.add_argument("--held-out-pku", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    rows = build_training_rows(args.datasets) + response_harm_rows(args.datasets)
    rows += xstest_rows(args.datasets, with_harm=True)
    flag = Flag("harmful_response", rows, Encoder(DEFAULT_MODEL))  # the shipped recipe's features
    rows = flag.rows
    pku = np.flatnonzero(flag.source == "pku_saferlhf")
    pool = [rows[i] for i in pku]
    y = flag.y[pku]
    tag = run_tag(args)
    result: dict[str, Any] = {"protocol": __doc__, "settings": settings_record(args)}
    shipped = np.zeros(len(pku))
    tuned = np.zeros(len(pku))
    shipped_flags: list[bool | None] = [None] * len(pku)
    tuned_flags: list[bool | None] = [None] * len(pku)
    folds = list(GroupKFold(2).split(pool, groups=[prompt_key(r["prompt"]) for r in pool]))
    timings = []
    for i, (_, fold) in enumerate(folds):
        test = np.zeros(len(rows), dtype=bool)
        test[pku[fold]] = True
        p, head = flag.held_out(test)
        shipped[fold] = p
        for j, v in zip(fold, p, strict=True):
            shipped_flags[j] = head.decide(float(v))
        rec = run_finetuned(rows, ~test, pku[fold], CACHE / f"{tag}-fold{i}.json", args)
        tuned[fold] = rec["proba"]
        for j, v in zip(fold, rec["proba"], strict=True):
            tuned_flags[j] = v >= rec["threshold"]
        timings.append(
            {k: rec[k] for k in ("train_rows", "train_seconds", "score_pairs_per_second", "threshold")}
        )
        print(f"fold {i}: {timings[-1]}", flush=True)
    result["in_distribution"] = {
        "shipped_head": measure(y, shipped) | promise_picks(pool, shipped_flags, shipped),
        "finetuned": measure(y, tuned) | promise_picks(pool, tuned_flags, tuned) | {"folds": timings},
    }
    if args.held_out_pku:
        test = np.zeros(len(rows), dtype=bool)
        test[pku] = True
        p, head = flag.held_out(test)
        rec = run_finetuned(rows, ~test, pku, CACHE / f"{tag}-without-pku.json", args)
        result["held_out_pku"] = {
            "shipped_head": measure(y, p) | promise_picks(pool, [head.decide(float(v)) for v in p], p),
            "finetuned": measure(y, np.array(rec["proba"]))
            | promise_picks(pool, [v >= rec["threshold"] for v in rec["proba"]], np.array(rec["proba"])),
        }
    for k, v in result.items():
        if k not in ("protocol", "settings"):
            print(k, json.dumps(v, indent=1), flush=True)
    write_result(args.out or OUT, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
