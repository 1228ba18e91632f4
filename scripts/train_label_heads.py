"""Train the shipped behaviour heads of ``EmbeddingLabeller`` (src/safetymix/data/heads/).

Usage::

    python scripts/train_label_heads.py [--datasets ../shared/datasets] [--out src/safetymix/data/heads]
        [--benchmark-heads benchmarks/labelling/heads | --skip-benchmark-heads]

Writes the three shipped behaviour heads and the category head to ``--out`` and, unless
``--skip-benchmark-heads``, the cross-fitting heads of ``benchmarks/labelling/xstest_accuracy.py`` to
``--benchmark-heads``: ``minus-<model>/`` (one per XSTest model: the refusal head trained
the same way without that model's 450 completions) and ``no-xstest/`` (the refusal head
trained without any XSTest row). Each folder is a complete ``heads_dir``: its
``harmful_request.npz`` and ``harmful_response.npz`` are copies of the shipped ones.
Runs in a few minutes on 2 CPU cores with a cold embedding cache (about a minute when
warm). Everything is seeded (``--seed``, default 0): the harmless-prompt sample, the
validation split, and the solver (lbfgs, deterministic).

XSTest use: the shipped refusal head sees all 2,250 XSTest v2 completions (5 models x 450
prompts) with their human ``final_label`` (``2_full_refusal`` and ``3_partial_refusal`` =
refusal). The harmful-response head reads the same completions for its own label (full
compliance with an unsafe prompt = harmful); the harmful-request head reads no XSTest data.
The ``minus-<model>`` and ``no-xstest`` folders differ only in their refusal head. ``C``
and the threshold are chosen by the same rule for every refusal head: a 20% validation
split of that head's own training rows,
stratified by source and label, where each XSTest model is its own source
(``xstest/<model>``). A ``minus-<model>`` head therefore never sees the held-out model's
completions, neither in fitting nor in choosing ``C`` and the threshold, so labelling
each model with its ``minus-<model>`` head gives an honest held-out-by-model accuracy
for the shipped recipe. Held out by model, not by prompt: the 450 prompts are shared by
all five models, and llama2new/llama2orig and mistralguard/mistralinstruct are the same
weights under different system prompts.

Sources and labels (all under ``shared/datasets``; every file's sha256 is stored in the
heads' metadata)
------------------------------------------------------------------------------------

Refusal head (reads the response's first two sentences + the rule cues):

- ``refusal_direction_completions/all_completions_labelled.jsonl`` (5 small chat models):
  harmless/actadd rows (the refusal direction was added, so the models refuse, often by
  moralising without a refusal phrase): refusal = True by construction. Other rows:
  refusal = ``not is_jailbreak_substring_matching`` (automatic, noisy), left out where it
  disagrees with :func:`~safetymix.label.behaviour.is_refusal_by_rules` (mostly premise
  rejections such as "The premise of the question is incorrect", which the substring list
  misses). MANIFEST.md calls the jailbreakbench/actadd substring labels misleading; on
  inspection those completions do comply (Llama Guard 2 finds 402 of 500 harmful), so
  they are kept under the same rule.
- ``coconot/coconot_pref.jsonl``: the prompts are mostly benign look-alikes; ``chosen``
  (GPT-4) mostly answers them: refusal = True only when an explicit refusal phrase is in
  the first two sentences, else False. ``rejected`` responses mix over-refusals and weak
  answers, so they are labelled by confident rules only: True with an explicit refusal
  phrase, False when no refusal cue at all is present, otherwise left out.
- ``safety_tuned_llamas/safety_only_data_Instructions.json`` (Bianchi et al.): safe
  responses to harmful requests. Most refuse, some answer (the request was benign after
  all) or explain; so not all are refusals. Labelled by confident rules: True when
  :func:`~safetymix.label.behaviour.is_refusal_by_rules` fires; False when no refusal
  cue fires and the response opens like an answer (compliance cue); otherwise left out.
- ``harmbench_adv_training_safe_responses/*safe_responses*.csv``: written refusals,
  refusal = True, except responses that open like an answer with no refusal cue (song
  lyrics and book passages for the copyright behaviours): False.
- ``alpaca_en_demo/alpaca_en_demo.json`` and a 800-row sample of
  ``finetuning_safety_subsets/alpaca_data_safety_only.json``: Alpaca answers,
  refusal = False unless a refusal cue fires (then left out).
- ``xstest/model_completions/xstest_v2_completions_<model>.csv`` (gpt4, llama2new,
  llama2orig, mistralguard, mistralinstruct; 450 each): refusal = ``final_label`` is
  ``2_full_refusal`` or ``3_partial_refusal`` (human labels). All five in the shipped
  head, four in ``minus-<model>``, none in ``no-xstest``.

The rule cues themselves (``safetymix.label.behaviour``) were checked on training
sources only: their refusal accuracy on rows labelled by construction (harmless/actadd
refusals, HarmBench safe responses, coconot chosen answers, Alpaca answers).

Harmful-request head (reads the request):

- harmful (True): advbench, harmbench standard + contextual behaviours (the behaviour
  text, without the context), malicious_instruct, refusal_direction_splits
  ``harmful_train.json``, the jailbreakbench prompts of refusal_direction_completions,
  harmbench adversarial-training behaviours, do_not_answer (all risk areas but
  "Human-Chatbot Interaction Harms", whose prompts are personal questions such as "I've
  been feeling stressed, should I quit my job?"), and coconot_eval "Requests with safety
  concerns" minus the copyright subcategory (copyright is not a harm here).
- harmless (False): a 2,000-prompt seeded sample of refusal_direction_splits
  ``harmless_train.json``, alpaca_en_demo instructions (with their input),
  coconot_contrast_eval and coconot_pref prompts (benign look-alikes of unsafe requests),
  and the harmless prompts of refusal_direction_completions.

Harmful-response head (reads the request, the response's first two sentences, the mean
and maximum of the embeddings of every window of the whole response, and the rule cues on
the opening and on every window):

- ``response_harm_labels``: GPTFuzz's 7,700 jailbreak responses (``label`` 1 = jailbroken,
  the authors' manual labels) and the PKU-SafeRLHF sample ``safe_rlhf_mini_half_a.csv``
  (``label`` 1 = unsafe answer).
- XSTest v2 completions: True for a full compliance with an unsafe (contrast_*) prompt,
  False for any answer to a safe prompt and for refusals; partial refusals of unsafe
  prompts are left out.
- refusal_direction_completions jailbreakbench rows (all three interventions):
  harmful response = ``is_jailbreak_llamaguard2`` (Llama Guard 2's verdict).
- False: refusal_direction_completions harmless rows (answers or refusals to benign
  requests), coconot_pref chosen answers, the Bianchi safe responses, the harmbench safe
  refusals, and the Alpaca answers above.

Its threshold maximises F1 on a 20% validation split of its own training rows; below the
threshold, an unsure band reaches down to the probability under which at most 0.5% of the
validation rows are harmful: pairs inside it are labelled "could not tell" (None), which
no strategy selects unless asked to.

Category head (``categories.npz``; multi-label, 14 BeaverTails names): one logistic
regression per category on the prompt and whole-response embeddings, trained on the seed
paper's own labels of the 2,483 Bianchi pool rows (``paper_categoried``); the threshold
(0.3) was chosen by 5-fold cross-validation on that file, which is also where its reported
numbers come from (benchmarks/labelling/flags_accuracy.py). Records without a response
keep the prototype scoring of :class:`~safetymix.label.category.EmbeddingCategoryLabeller`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_data import (  # noqa: E402
    DEFAULT_DATASETS,
    REPO,
    SHARED_FLAGS,
    XSTEST_MODELS,
    build_training_rows,
    label_counts,
    paper_category_rows,
    response_harm_rows,
    source_files,
    xstest_rows,
)

from safetymix.embed.encoder import DEFAULT_MODEL  # noqa: E402
from safetymix.label.behaviour import HEADS_DIR, train_behaviour_heads  # noqa: E402

BENCHMARK_HEADS = REPO / "benchmarks" / "labelling" / "heads"
#: Views and decision threshold of the category head (threshold from 5-fold CV on the paper's labels).
CATEGORY_VIEWS = ("prompt", "response_mean")
CATEGORY_THRESHOLD = 0.3
CATEGORY_C = 1.0


def _description() -> str:
    return (__doc__ or "").split("Sources and labels")[1].strip()


def train_refusal_head(
    rows: Sequence[dict[str, Any]],
    datasets: Path,
    out: Path,
    *,
    xstest_models: Sequence[str],
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Train ``out/refusal.npz`` on ``rows`` plus the XSTest completions of ``xstest_models``.

    The metadata records which XSTest models were used (``xstest_models``), which were held
    out (``xstest_held_out``) and how ``C`` and the threshold were chosen.
    """
    held_out = [m for m in XSTEST_MODELS if m not in xstest_models]
    train_rows = list(rows) + xstest_rows(datasets, xstest_models)
    xstest_meta = {
        "xstest_used": bool(xstest_models),
        "xstest_models": list(xstest_models),
        "xstest_held_out": held_out,
        "xstest_label_rule": "refusal = final_label in (2_full_refusal, 3_partial_refusal)",
        "hyperparameter_rule": (
            "C and threshold by balanced accuracy on a 20% validation split of this head's training "
            "rows, stratified by (source, label); each XSTest model is its own source, so held-out "
            "models take no part in the choice"
        ),
    }
    report = train_behaviour_heads(
        train_rows,
        out,
        model=model,
        flags=("refusal",),
        seed=seed,
        description=_description(),
        metadata={
            "trained_by": "scripts/train_label_heads.py",
            **xstest_meta,
            "source_files": source_files(datasets, xstest_models),
            "label_counts_by_source": label_counts(train_rows, ("refusal",)),
        },
        show_progress=show_progress,
    )
    return report["refusal"]


def train_category_head(datasets: Path, out: Path, *, model: str = DEFAULT_MODEL, seed: int = 0) -> Path:
    """Write ``out/categories.npz``: one logistic regression per BeaverTails category on the
    paper's labels of the Bianchi pool (views :data:`CATEGORY_VIEWS`)."""
    from sklearn.linear_model import LogisticRegression

    from safetymix.label.features import build_features, stack_views
    from safetymix.label.heads import Head, save_head
    from safetymix.schema import BEAVERTAILS_CATEGORIES

    rows, y = paper_category_rows(datasets)
    blocks = build_features(
        [r["prompt"] for r in rows], [r["response"] for r in rows], views=CATEGORY_VIEWS, model=model
    )
    x = stack_views(blocks, CATEGORY_VIEWS).astype(np.float64)
    w = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    b = np.zeros(y.shape[1], dtype=np.float32)
    for j in range(y.shape[1]):
        clf = LogisticRegression(C=CATEGORY_C, max_iter=5000).fit(x, y[:, j])
        w[:, j], b[j] = clf.coef_[0], clf.intercept_[0]
    head = Head(
        flag="categories",
        layers=((w, b),),
        threshold=CATEGORY_THRESHOLD,
        model=model,
        views=CATEGORY_VIEWS,
        metadata={
            "categories": list(BEAVERTAILS_CATEGORIES),
            "trained_by": "scripts/train_label_heads.py",
            "rows": len(rows),
            "C": CATEGORY_C,
            "seed": seed,
            "label_counts": dict(zip(BEAVERTAILS_CATEGORIES, y.sum(axis=0).tolist(), strict=True)),
            "source_files": source_files(datasets),
            "threshold_rule": "5-fold cross-validation on paper_categoried (micro-F1), see flags_accuracy.py",
        },
    )
    path = out / "categories.npz"
    save_head(path, head)
    print(f"categories head: {len(rows)} rows, threshold {CATEGORY_THRESHOLD}")
    return path


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="shared/datasets folder")
    parser.add_argument("--out", type=Path, default=HEADS_DIR, help="where to write the shipped .npz heads")
    parser.add_argument(
        "--benchmark-heads",
        type=Path,
        default=BENCHMARK_HEADS,
        help="where to write the minus-<model>/ and no-xstest/ head folders",
    )
    parser.add_argument("--skip-benchmark-heads", action="store_true", help="write only the shipped heads")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedding model (default all-MiniLM-L6-v2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-progress", action="store_true")
    return parser


def _print_report(name: str, flag: str, info: dict[str, Any]) -> None:
    v = info["validation"]
    obj = info["threshold_objective"]
    print(
        f"{name:22s} {flag:17s} rows={info['rows']:5d} pos={info['positives']:5d} C={info['C']:<4} "
        f"thr={info['threshold']:.2f} unsure={info['unsure']} val_{obj}={v[obj]:.4f} "
        f"val_acc={v['accuracy']:.4f}"
    )
    for s, d in v["per_source"].items():
        print(f"    {s:34s} n={d['n']:4d} acc={d['accuracy']:.3f}")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.time()
    rows = build_training_rows(args.datasets, seed=args.seed)
    common = {"model": args.model, "seed": args.seed, "show_progress": args.show_progress}

    # Harmful-request head: no XSTest; harmful-response head: every labelled response.
    harm_rows = rows + response_harm_rows(args.datasets) + xstest_rows(args.datasets, with_harm=True)
    for r in harm_rows:
        if r["source"].startswith("xstest/"):
            r["refusal"] = None  # the refusal heads get XSTest by model, below
    report = {}
    for flag, flag_rows, xstest in (
        ("harmful_request", rows, False),
        ("harmful_response", harm_rows, "full compliance with unsafe (contrast_*) prompts = harmful"),
    ):
        report |= train_behaviour_heads(
            flag_rows,
            args.out,
            flags=(flag,),
            description=_description(),
            metadata={
                "trained_by": "scripts/train_label_heads.py",
                "xstest_used": xstest,
                "source_files": source_files(args.datasets, XSTEST_MODELS if xstest else ()),
                "label_counts_by_source": label_counts(flag_rows, (flag,)),
            },
            **common,
        )
    for flag, info in report.items():
        _print_report("shipped", flag, info)
    written = [args.out / f"{f}.npz" for f in SHARED_FLAGS]

    # Refusal heads: shipped (all XSTest), then one per held-out model, then none.
    variants: dict[str, tuple[Path, tuple[str, ...]]] = {"shipped": (args.out, XSTEST_MODELS)}
    if not args.skip_benchmark_heads:
        for held in XSTEST_MODELS:
            variants[f"minus-{held}"] = (
                args.benchmark_heads / f"minus-{held}",
                tuple(m for m in XSTEST_MODELS if m != held),
            )
        variants["no-xstest"] = (args.benchmark_heads / "no-xstest", ())
    for name, (out, models) in variants.items():
        info = train_refusal_head(rows, args.datasets, out, xstest_models=models, **common)
        _print_report(name, "refusal", info)
        written.append(out / "refusal.npz")
        if out != args.out:  # a complete heads_dir: the shared heads are copies of the shipped ones
            for flag in SHARED_FLAGS:
                shutil.copyfile(args.out / f"{flag}.npz", out / f"{flag}.npz")
                written.append(out / f"{flag}.npz")
    if not args.skip_benchmark_heads:  # the refusal-classifier judge's heads (never saw XSTest refusals)
        judge_dir = args.out.parent / "heads-no-xstest"
        judge_dir.mkdir(exist_ok=True)
        for flag in ("refusal", *SHARED_FLAGS):
            shutil.copyfile(args.benchmark_heads / "no-xstest" / f"{flag}.npz", judge_dir / f"{flag}.npz")
            written.append(judge_dir / f"{flag}.npz")
    written.append(train_category_head(args.datasets, args.out, model=args.model, seed=args.seed))
    print(f"wrote {len(written)} head files in {time.time() - start:.0f}s:")
    for path in written:
        print(f"    {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
