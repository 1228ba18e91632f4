"""A fine-tuned MiniLM for harmful_request, next to the shipped frozen head (issue 10, point 2).

The shipped harmful_request head (logistic on the frozen MiniLM prompt embedding) flags 168
of XSTest's 250 safe look-alikes ("How do I kill a Python process?"): the sentence embedding
puts them next to violent requests, and no threshold on its ranking passes 0.70 accuracy.
This fine-tunes the bundled all-MiniLM-L6-v2 end to end on the prompt alone (one logit, BCE;
``harmful_response_finetune.fine_tune``) on the same request rows as the shipped head, and
measures it with the shipped protocols, the shipped head refit on the same folds beside it:

- ``never_in_training``: XSTest's 450 prompts and BeaverTails-Evaluation are never in
  training; one model scores both;
- ``by_source``: each plainly harmful set and each borderline one held out by source (a
  prompt that is also in another source is held out there too), one model per set;
- ``--with-xstest`` adds ``xstest_by_unit`` (XSTest's prompts in training, held out by unit:
  a safe type with its contrast type, the 8 units of ``harmful_request_xstest.py``; the 450
  out-of-unit scores pooled); ``--with-xstest-sources`` also ``by_source_with_xstest`` (the
  sets above held out by source with all 450 XSTest prompts in training; 7 more models).

Each model's threshold is chosen by balanced accuracy on a 10% validation split of its own
training rows (the shipped rule for this flag); ``finetuned_at_0.5`` is the plain 0.5 rule of
its loss. ``auc`` and ``ceiling_accuracy`` (the best single threshold on the test scores: it
peeks) say how far the ranking could go.

Usage::

    python benchmarks/labelling/harmful_request_finetune.py [--with-xstest] [--max-length 64]

Each model's probabilities are kept in ``harmful_request_finetune.cache/`` (the run resumes
from them); the result goes to ``harmful_request_finetune.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flags_accuracy import (  # noqa: E402
    REPO,
    REQUEST_SOURCES,
    Flag,
    by_source_train,
    prf,
    request_flag,
    write_result,
)
from harmful_request_xstest import xstest_units  # noqa: E402
from harmful_response_finetune import finetune_parser, run_finetuned, run_tag, settings_record  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from label_data import build_training_rows  # noqa: E402

from safetymix.embed.encoder import DEFAULT_MODEL, Encoder  # noqa: E402
from safetymix.label.head_training import HEAD_SETTINGS  # noqa: E402

OUT = Path(__file__).with_suffix(".json")
CACHE = Path(__file__).with_suffix(".cache")
FLAG = "harmful_request"
XSTEST = "xstest_prompts"


def ranking(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC and the best accuracy of any single threshold (peeks at the labels)."""
    from sklearn.metrics import roc_auc_score

    return {
        "auc": round(float(roc_auc_score(y, p)), 3),
        "ceiling_accuracy": round(max(float(np.mean((p >= t) == y)) for t in np.unique(p)), 3),
    }


class Side:
    """The shipped head and the fine-tuned model on the same (train, test) folds."""

    def __init__(self, f: Flag, args, tag: str):
        self.f, self.args, self.tag = f, args, tag
        self.objective = HEAD_SETTINGS[FLAG]["objective"]
        self.timings: list[dict[str, Any]] = []

    def score(
        self, test: np.ndarray, train: np.ndarray, name: str
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per model, the probabilities of the ``test`` rows and its 0/1 decisions."""
        p_head, head = self.f.held_out(test, train)
        rec = run_finetuned(
            self.f.rows,
            self.f.train_mask(test, train),
            np.flatnonzero(test),
            CACHE / f"{self.tag}-{name}.json",
            self.args,
            flag=FLAG,
            keep_family="",
            objective=self.objective,
        )
        p_ft = np.array(rec["proba"])
        self.timings.append(
            {"model": name}
            | {k: rec[k] for k in ("train_rows", "train_seconds", "score_pairs_per_second", "threshold")}
        )
        print(f"{name}: {self.timings[-1]}", flush=True)
        return {
            "shipped_head": (p_head, (p_head >= head.threshold).astype(int)),
            "finetuned": (p_ft, (p_ft >= rec["threshold"]).astype(int)),
            "finetuned_at_0.5": (p_ft, (p_ft >= 0.5).astype(int)),
        }

    @staticmethod
    def measure(y: np.ndarray, scored: dict, mask: np.ndarray | None = None) -> dict[str, Any]:
        """Per model: :func:`prf` of the (``mask``) rows, and with both classes the ranking."""
        m = np.ones(len(y), dtype=bool) if mask is None else mask
        out = {}
        for model, (p, pred) in scored.items():
            out[model] = prf(y[m], pred[m])
            if len(set(y[m])) == 2:
                out[model] |= ranking(y[m], p[m]) | {"safe_flagged": int(np.sum(pred[m][y[m] == 0]))}
        return out

    def by_source(self, allowed: np.ndarray, suffix: str = "") -> dict[str, Any]:
        out = {}
        for src in REQUEST_SOURCES:
            test = self.f.source == src
            scored = self.score(test, by_source_train(self.f, allowed, src), src.replace("/", "_") + suffix)
            out[src] = self.measure(self.f.y[test], scored)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = finetune_parser(__doc__.split("\n\n")[0], per_source=10**6)  # every row
    parser.set_defaults(max_length=64)
    parser.add_argument("--with-xstest", action="store_true", help="also XSTest in training, by unit")
    parser.add_argument(
        "--with-xstest-sources", action="store_true", help="and each set by source with XSTest in training"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    f, never = request_flag(build_training_rows(args.datasets), args.datasets, Encoder(DEFAULT_MODEL))
    side = Side(f, args, run_tag(args))
    result: dict[str, Any] = {"protocol": __doc__, "settings": settings_record(args)}

    test = np.isin(f.source, [XSTEST, "beavertails_eval"])
    scored = side.score(test, ~never, "never")
    y, src = f.y[test], f.source[test]
    result["never_in_training"] = {n: side.measure(y, scored, src == n) for n in (XSTEST, "beavertails_eval")}
    result["by_source"] = side.by_source(~never)

    if args.with_xstest:
        is_xs = f.source == XSTEST
        unit = np.where(is_xs, xstest_units(f.group), "")
        pooled: dict[str, list] = {}
        order = []
        for u in sorted(set(unit[is_xs])):
            t = is_xs & (unit == u)
            order.append(np.flatnonzero(t))
            for model, (p, pred) in side.score(t, (~never | is_xs) & (unit != u), f"unit-{u}").items():
                pooled.setdefault(model, []).append((p, pred))
        idx = np.concatenate(order)
        per_unit = {u: f.y[is_xs & (unit == u)] for u in sorted(set(unit[is_xs]))}
        joined = {m: tuple(map(np.concatenate, zip(*parts, strict=True))) for m, parts in pooled.items()}
        result["xstest_by_unit"] = side.measure(f.y[idx], joined)
        for model, parts in pooled.items():
            result["xstest_by_unit"][model]["per_unit"] = {
                u: round(float(np.mean(pred == per_unit[u])), 3)
                for u, (_, pred) in zip(per_unit, parts, strict=True)
            }
        if args.with_xstest_sources:
            result["by_source_with_xstest"] = side.by_source(~never | is_xs, "-with-xstest")
    result["timings"] = side.timings
    for k, v in result.items():
        if k not in ("protocol", "settings"):
            print(k, json.dumps(v, indent=1), flush=True)
    write_result(args.out or OUT, result, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
