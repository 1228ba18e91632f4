"""Train the shipped refusal cross-encoder (src/safetymix/data/heads/refusal.encoder/).

Usage::

    python scripts/train_refusal_encoder.py [--datasets ../shared/datasets]
        [--out src/safetymix/data/heads/refusal.encoder] [--threads 2]

Recipe (the one ``benchmarks/labelling/refusal_finetune.py --epochs 2`` measures held out by
XSTest model: 0.951 on XSTest's 2,250 completions at the 0.5 rule, against 0.919 for the
embedding head): the bundled all-MiniLM-L6-v2 fine-tuned end to end with one logit
(:func:`safetymix.label.cross_encoder.fine_tune`: 2 epochs, lr 5e-5, batch 16, <= 128 tokens
of prompt + response, seed 0) on every XSTest v2 completion (5 models x 450, human
``final_label``, partial refusal = refusal) plus a seeded sample of at most 300 rows, stratified
by label, of every other refusal source of ``scripts/label_data.py`` (the rows behind the
embedding refusal head). The flag is ``probability >= 0.5``, binary cross-entropy's own rule:
no threshold is chosen on any data. (The benchmark also reports a threshold chosen by balanced
accuracy on a 10% validation split, 0.948; of the two rules, 0.5 was kept after seeing both.)

About 15 minutes on 2 CPU cores. The weights are stored in float16 (45 MB; upcast to float32
to run: probabilities move by at most 0.003 on the Bianchi pool, no flag flips).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_data import (  # noqa: E402
    DEFAULT_DATASETS,
    REPO,
    XSTEST_MODELS,
    build_training_rows,
    families,
    sample_training,
    source_files,
    xstest_rows,
)

from safetymix.embed.encoder import DEFAULT_MODEL  # noqa: E402
from safetymix.label.cross_encoder import fine_tune, save_pair_encoder  # noqa: E402

RECIPE = {"epochs": 2, "lr": 5e-5, "batch": 16, "max_length": 128, "seed": 0, "per_source": 300}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=REPO / "src/safetymix/data/heads/refusal.encoder")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    rows = [
        r for r in build_training_rows(args.datasets) + xstest_rows(args.datasets) if r["refusal"] is not None
    ]
    idx = sample_training(
        rows,
        np.ones(len(rows), dtype=bool),
        RECIPE["per_source"],
        RECIPE["seed"],
        flag="refusal",
        keep_family="xstest",
    )
    train = [rows[i] for i in idx]
    fam = families(np.array([r["source"] for r in train]))
    counts = {
        f: {
            "rows": int((fam == f).sum()),
            "refusals": int(sum(r["refusal"] for r, g in zip(train, fam, strict=True) if g == f)),
        }
        for f in sorted(set(fam))
    }
    print(f"{len(train)} training rows: {counts}", flush=True)
    _, model = fine_tune(
        [r["prompt"] for r in train],
        [r["response"] for r in train],
        np.array([float(r["refusal"]) for r in train]),
        epochs=RECIPE["epochs"],
        lr=RECIPE["lr"],
        batch=RECIPE["batch"],
        max_length=RECIPE["max_length"],
        seed=RECIPE["seed"],
    )
    save_pair_encoder(
        args.out,
        model,
        {
            "flag": "refusal",
            "threshold": 0.5,
            "max_length": RECIPE["max_length"],
            "base_model": DEFAULT_MODEL,
            "recipe": RECIPE,
            "training_rows": counts,
            "sources": source_files(args.datasets, XSTEST_MODELS),
            "xstest_use": "all 2,250 XSTest v2 completions are in training",
            "held_out_xstest_accuracy": {
                "at_0.5": 0.951,
                "validation_threshold": 0.948,
                "embedding_head": 0.919,
                "measured_by": "benchmarks/labelling/refusal_finetune.py --epochs 2 "
                "(refusal_finetune_e2.json)",
            },
            "train_seconds": round(time.time() - start, 1),
        },
    )
    print(f"wrote {args.out} in {time.time() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
