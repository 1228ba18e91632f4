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

    start = time.perf_counter()
    report = evaluate(EvalConfig(**eval_fields, model=str(model_dir)))
    metrics, per_category = cell_metrics(report)
    return {
        "metrics": metrics,
        "per_category": per_category,
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
