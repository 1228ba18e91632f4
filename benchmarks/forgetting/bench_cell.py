"""Stage 1 of the benchmark: build the tiny model, train it, evaluate it like a sweep cell.

Training goes through :func:`safetymix.train.train` (method ``"full"``, Alpaca template);
evaluation through :func:`safetymix.eval.evaluate` with the same settings as every stage-2
cell of the sweep, whose metrics :func:`safetymix.sweep.cell_metrics` extracts, so stage 1
and stage 2 are measured identically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from safetymix.schema import Example


def save_initial_model(path: Path, texts: list[str], model_cfg: dict[str, Any], seed: int) -> dict:
    """Train the tokenizer, build a random-weight Llama from ``seed``, save both to ``path``."""
    from safetymix.train.scratch import save_scratch_model

    return save_scratch_model(
        path,
        texts,
        model_cfg["vocab_size"],
        hidden_size=model_cfg["d_model"],
        intermediate_size=model_cfg["d_mlp"],
        num_layers=model_cfg["n_layers"],
        num_heads=model_cfg["n_heads"],
        max_position_embeddings=4 * model_cfg["max_length"],
        tie_word_embeddings=True,
        seed=seed,
    )


def per_suite_refusal(items: list[dict[str, Any]]) -> dict[str, float]:
    """Refusal rate per harmful or over-refusal suite from an evaluation's per-prompt items."""
    by_suite: dict[str, list[bool]] = {}
    for row in items:
        if row.get("refusal_rate") is not None:
            by_suite.setdefault(row["suite"], []).append(bool(row["refusal_rate"]))
    return {s: sum(v) / len(v) for s, v in by_suite.items()}


def evaluate_model(model_dir: Path, eval_fields: dict[str, Any]) -> dict[str, Any]:
    """``safetymix.eval.evaluate`` of a saved model; the sweep's metric blocks plus per-suite rates."""
    from safetymix.eval import EvalConfig, evaluate
    from safetymix.sweep import cell_metrics
    from safetymix.sweep.results import cell_agreement

    start = time.perf_counter()
    report = evaluate(EvalConfig(**eval_fields, model=str(model_dir)))
    metrics, per_category = cell_metrics(report)
    return {
        "metrics": metrics,
        "per_category": per_category,
        "agreement": cell_agreement(report),
        "per_suite_metrics": {name: suite["metrics"]["overall"] for name, suite in report["suites"].items()},
        "per_suite": per_suite_refusal(report["items"]),
        "samples": {
            name: [r["response"] for r in report["items"] if r["suite"] == name][:3]
            for name in report["suites"]
        },
        "seconds": round(time.perf_counter() - start, 1),
    }


def run_stage1(task: dict[str, Any]) -> dict[str, Any]:
    """Train stage 1 (``task["model"]`` -> ``task["model_dir"]``), evaluate, write ``task["out_json"]``."""
    import torch

    from safetymix.io import atomic_write
    from safetymix.train import TrainConfig, train

    torch.set_num_threads(task["threads"])
    examples = [Example(**d) for d in task["examples"]]
    config = TrainConfig(model=task["model"], output_dir=task["model_dir"], overwrite=True, **task["train"])
    result = train(config, examples=examples)
    del result
    record = {
        **task["cell"],
        "train": json.loads((Path(task["model_dir"]) / "training_log.json").read_text()),
        "eval": evaluate_model(Path(task["model_dir"]), task["eval"]),
        "dev": evaluate_model(Path(task["model_dir"]), task["dev_eval"]),
        "threads": task["threads"],
    }
    with atomic_write(task["out_json"]) as fh:
        json.dump(record, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    return record


def answer_lookalikes(model: str, prompts: list[Example], path: Path, cfg: dict[str, Any]) -> list[Example]:
    """The base model's own answers to the benign look-alike prompts (``safetymix.generate``,
    greedy, the stage-1 template), as stage-1 training examples; cached in ``path``.

    A look-alike answer the refusal judge calls a refusal is dropped: stage 1 is to teach
    "answer these", not "refuse these".
    """
    import dataclasses

    from safetymix.generate import GenerateConfig, generate
    from safetymix.io import read_examples, write_examples
    from safetymix.judge import get_judge

    cached = (
        {e.prompt: e for e in read_examples(path, allow_missing_response=True, duplicates="keep")}
        if path.exists()
        else {}
    )
    if any(e.prompt not in cached for e in prompts):  # none yet, or other prompts
        prompt_file = path.with_name(path.stem + ".prompts.jsonl")
        write_examples(prompt_file, prompts, "jsonl")
        gen = cfg["lookalike_generation"]
        config = GenerateConfig(
            prompts=str(prompt_file),
            output=str(path),
            model=model,
            template=cfg["stage1"]["template"],
            device="cpu",
            seed=0,
            **gen,
        )
        generate(config)
        cached = {e.prompt: e for e in read_examples(path, allow_missing_response=True, duplicates="keep")}
    answered = [cached[e.prompt] for e in prompts]  # an earlier run's answers serve a subset
    verdicts = get_judge("refusal-match").judge([e.prompt for e in answered], [e.response for e in answered])
    kept = [
        dataclasses.replace(e, id=f"lookalike-{i}", extra={**e.extra, "lookalike": True})
        for i, (e, v) in enumerate(zip(answered, verdicts, strict=True))
        if e.response.strip() and not v.refusal
    ]
    return kept
