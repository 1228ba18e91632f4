"""One unit of work each: build the tiny model, train a stage, evaluate a model.

Training goes through :func:`safetymix.train.train` (method ``"full"``, Alpaca template),
generation through :func:`safetymix.generate.generate_responses` (greedy), refusal through
safetymix's ``refusal-match`` judge (or, if :mod:`safetymix.judge` is missing, the same
rules from :mod:`safetymix.label.behaviour`). Worker processes run :func:`run_cell` with one
torch thread each.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from safetymix.schema import Example

# -- tiny model -----------------------------------------------------------------------------


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


# -- evaluation -------------------------------------------------------------------------------


def refusal_flags(prompts: list[str], responses: list[str]) -> tuple[list[bool], str]:
    """Refusal per response by phrase match; an empty response counts as no refusal."""
    try:
        from safetymix.judge import get_judge
    except ImportError:
        from safetymix.label.behaviour import is_refusal_by_rules

        return [
            bool(r.strip()) and is_refusal_by_rules(r) for r in responses
        ], "label.behaviour.is_refusal_by_rules"
    verdicts = get_judge("refusal-match").judge(prompts, responses)
    return [v.refusal is True for v in verdicts], "judge:refusal-match(rules)"


def response_loss(
    model: Any, tokenizer: Any, examples: list[Example], batch_size: int, max_length: int
) -> float:
    """Mean over examples of the per-token NLL of the reference response (Alpaca prompt)."""
    try:
        from safetymix.eval.helpfulness import response_losses
    except ImportError:
        response_losses = _response_losses
    losses = response_losses(
        model, tokenizer, examples, template="alpaca", batch_size=batch_size, max_length=max_length
    )
    vals = [x for x in losses if x is not None]
    return float(sum(vals) / len(vals))


def _response_losses(model, tokenizer, examples, *, template, batch_size, max_length):
    """Fallback when safetymix.eval is absent: loss on the tokens the trainer would count."""
    import torch

    from safetymix.train.templates import encode_example

    out = []
    for ex in examples:
        ids, n_prompt = encode_example(tokenizer, ex, template)
        ids = ids[:max_length]
        if len(ids) <= n_prompt:
            out.append(None)
            continue
        x = torch.tensor([ids])
        with torch.inference_mode():
            logits = model(input_ids=x).logits[0, :-1].float()
        target = x[0, 1:]
        nll = torch.nn.functional.cross_entropy(logits, target, reduction="none")[n_prompt - 1 :]
        out.append(float(nll.mean()))
    return out


def evaluate(
    model: Any, tokenizer: Any, sets: dict[str, list[Example]], loss_set: list[Example], ev: dict
) -> dict:
    """Greedy answers to every prompt set, refusal flags per set, and benign held-out loss."""
    from safetymix.generate import generate_responses

    names = list(sets)
    prompts = [e for n in names for e in sets[n]]
    start = time.perf_counter()
    responses = generate_responses(
        model,
        tokenizer,
        prompts,
        template="alpaca",
        num_beams=1,
        max_new_tokens=ev["max_new_tokens"],
        batch_size=ev["batch_size"],
    )
    gen_s = time.perf_counter() - start
    flags, judge = refusal_flags([p.prompt for p in prompts], responses)
    out: dict[str, Any] = {"judge": judge, "sets": {}, "generate_seconds": round(gen_s, 2)}
    i = 0
    for n in names:
        m = len(sets[n])
        f, r = flags[i : i + m], responses[i : i + m]
        out["sets"][n] = {
            "n": m,
            "refusals": int(sum(f)),
            "empty": int(sum(1 for x in r if not x.strip())),
            "flags": "".join("1" if x else "0" for x in f),
            "samples": r[:3],
        }
        i += m
    start = time.perf_counter()
    out["benign_loss"] = response_loss(
        model, tokenizer, loss_set, ev["batch_size"] // 2, ev["loss_max_length"]
    )
    out["loss_seconds"] = round(time.perf_counter() - start, 2)
    return out


# -- a training stage plus its evaluation -----------------------------------------------------


def run_cell(task: dict) -> dict:
    """Train one stage (continuing from ``task["model"]``), evaluate, write ``task["out_json"]``.

    ``task`` is plain data (it crosses a process boundary): model path, output folder,
    TrainConfig fields, examples as dicts, evaluation sets, and the cell's description.
    Returns the record written.
    """
    import torch

    from safetymix.train import TrainConfig, train

    torch.set_num_threads(task["threads"])
    examples = [Example(**d) for d in task["examples"]]
    sets = {n: [Example(**d) for d in rows] for n, rows in task["eval_sets"].items()}
    loss_set = [Example(**d) for d in task["loss_set"]]
    model_dir = Path(task["model_dir"])
    if model_dir.exists():
        shutil.rmtree(model_dir)  # a half-written folder of an interrupted run
    config = TrainConfig(model=task["model"], output_dir=str(model_dir), **task["train"])
    result = train(config, examples=examples)
    ev = evaluate(result.model, result.tokenizer, sets, loss_set, task["eval"])
    record = {
        **task["cell"],
        "train": {**result.summary(), "config": config.model_dump(mode="json")},
        "eval": ev,
        "threads": task["threads"],
        "loss_log": [
            {"step": h.get("step"), "loss": round(h["loss"], 4)} for h in result.log_history if "loss" in h
        ],
    }
    if not task.get("keep_model", False):
        shutil.rmtree(model_dir, ignore_errors=True)
    out = Path(task["out_json"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return record
