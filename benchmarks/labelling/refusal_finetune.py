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
folds, side by side. ``ensemble``: the mean of the two probabilities, flagged at the mean of
their two fixed operating points (the head's own threshold and 0.5), a rule set before the
run (no threshold is chosen on any XSTest row). ``agreement``: the shipped labeller's rule
(``EmbeddingLabeller`` with ``refusal.encoder/``), the encoder at 0.5 where the head agrees
and "could not tell" where they disagree: its unsure share, its accuracy on the decided
completions, and its accuracy counting an unsure one as wrong (this rule was chosen after
the run, see the README).

Usage::

    python benchmarks/labelling/refusal_finetune.py [--per-source 300] [--max-length 128]
        [--epochs 1] [--out F.json]

Each fold's probabilities are kept in ``refusal_finetune.cache/`` (the run resumes from
them); the result goes to ``refusal_finetune.json`` (42 minutes here on one torch thread,
about 8 per fold; ``--epochs 2 --threads 2 --out refusal_finetune_e2.json``: 52 minutes,
about 10 per fold on two threads).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flags_accuracy import REPO, Flag, prf, write_result  # noqa: E402
from harmful_response_finetune import finetune_parser, run_finetuned, run_tag, settings_record  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import XSTEST_MODELS, build_training_rows, xstest_rows  # noqa: E402

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")


def main(argv: list[str] | None = None) -> int:
    parser = finetune_parser(__doc__.split("\n\n")[0], per_source=300)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    flag = Flag(
        "refusal", build_training_rows(args.datasets) + xstest_rows(args.datasets), Encoder(DEFAULT_MODEL)
    )
    rows = flag.rows
    tag = run_tag(args)
    result: dict[str, Any] = {"protocol": __doc__, "settings": settings_record(args)}
    correct = {"shipped_head": 0, "finetuned": 0, "finetuned_at_0.5": 0, "ensemble": 0}
    agreed = agreed_right = 0
    for m in XSTEST_MODELS:
        test = flag.source == f"xstest/{m}"
        y = flag.y[test]
        p, head = flag.held_out(test)
        rec = run_finetuned(
            rows,
            ~test,
            np.flatnonzero(test),
            CACHE / f"{tag}-{m}.json",
            args,
            flag="refusal",
            keep_family="xstest",
            objective="balanced_accuracy",
        )
        p_ft = np.array(rec["proba"])
        preds = {
            "shipped_head": (p >= head.threshold).astype(int),
            "finetuned": (p_ft >= rec["threshold"]).astype(int),
            "finetuned_at_0.5": (p_ft >= 0.5).astype(int),  # BCE's own rule, no tuning
            "ensemble": ((p + p_ft) / 2 >= (head.threshold + 0.5) / 2).astype(int),
        }
        result[m] = {k: prf(y, v) for k, v in preds.items()} | {
            "finetuned_threshold": rec["threshold"],
            "train_rows": rec["train_rows"],
            "train_seconds": rec["train_seconds"],
        }
        for k, v in preds.items():
            correct[k] += int(np.sum(v == y))
        agree = preds["shipped_head"] == preds["finetuned_at_0.5"]
        agreed += int(agree.sum())
        agreed_right += int(np.sum(preds["finetuned_at_0.5"][agree] == y[agree]))
        result[m]["agreement"] = {
            "unsure_share": round(1 - float(agree.mean()), 3),
            "accuracy_decided": round(float(np.mean(preds["finetuned_at_0.5"][agree] == y[agree])), 3),
        }
        print(m, json.dumps(result[m]), flush=True)
    n = int(np.sum(np.char.startswith(flag.source.astype(str), "xstest/")))
    result["all"] = {k: {"n": n, "accuracy": round(v / n, 3)} for k, v in correct.items()}
    result["all"]["agreement"] = {
        "n": n,
        "unsure_share": round(1 - agreed / n, 3),
        "accuracy_decided": round(agreed_right / agreed, 3),
        "accuracy_unsure_wrong": round(agreed_right / n, 3),
    }
    print("all", result["all"], flush=True)
    write_result(args.out or OUT, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
