"""Where an evaluation's answers come from: a responses file, or the model itself.

Generation goes through :func:`safetymix.generate.generate`, so the model sees its training
template (read from the adapter's ``train_config.json``) exactly as ``safetymix generate``
would show it; the loss route loads the model the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.eval.config import EvalConfig
from safetymix.schema import Example


def responses_from_file(path: str, prompts: Sequence[str]) -> tuple[dict[str, str], dict[str, Any]]:
    from safetymix.io import sha256_file
    from safetymix.judge.responses import read_responses

    rows = read_responses(path)
    by_prompt: dict[str, str] = {}
    for row in rows:
        key = row["prompt"].strip()
        if key in by_prompt and by_prompt[key] != row["response"]:
            raise DataFormatError(
                f"two different responses to the same prompt (id {row['id']!r}): {key[:80]!r}", path=path
            )
        by_prompt[key] = row["response"]
    missing = sorted({p for p in prompts if p.strip() not in by_prompt})
    if missing:
        raise DataFormatError(
            f"{len(missing)} suite prompt(s) have no response, e.g. {missing[0][:80]!r}; "
            "write the prompts with `safetymix eval --write-prompts FILE`, generate, and pass the result",
            path=path,
        )
    wanted = {p.strip() for p in prompts}
    info = {
        "source": "file",
        "path": str(path),
        "sha256": sha256_file(path),
        "n_records": len(rows),
        "n_used": sum(1 for r in rows if r["prompt"].strip() in wanted),
    }
    return {p: by_prompt[p.strip()] for p in prompts}, info


def generation_config(config: EvalConfig, prompts: str) -> Any:
    from pydantic import ValidationError

    from safetymix.generate import GenerateConfig

    fields: dict[str, Any] = {
        "prompts": prompts,
        "model": config.model,
        "gguf_file": config.gguf_file,
        "adapter": config.adapter,
    }
    fields.update({k: v for k, v in (("device", config.device), ("dtype", config.dtype)) if v is not None})
    fields.update(config.generation)
    try:
        return GenerateConfig(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid generation options: {problems}") from exc


def generate_answers(
    config: EvalConfig, examples: Sequence[Example], show_progress: bool
) -> tuple[list[str], dict[str, Any]]:
    """Answers to ``examples`` from ``safetymix.generate`` (the model's training template)."""
    import tempfile

    from safetymix.generate import generate
    from safetymix.judge.responses import write_jsonl

    with tempfile.TemporaryDirectory(prefix="safetymix-eval-") as tmp:
        path = Path(tmp) / "prompts.jsonl"
        rows = [
            {"id": f"p{i}", "instruction": ex.instruction, "input": ex.input} for i, ex in enumerate(examples)
        ]
        write_jsonl(path, rows)
        records = generate(generation_config(config, str(path)), show_progress=show_progress)
    return [r["response"] for r in records], dict(records[0]["generation"]) if records else {}


def loss_model(config: EvalConfig) -> tuple[Any, Any, str]:
    """``(model, tokenizer, template)`` for the loss route, loaded as generation loads it."""
    from safetymix.generate import load_model, resolve_config

    resolved = resolve_config(generation_config(config, "(loss route)"))
    model, tokenizer = load_model(resolved)
    return model, tokenizer, resolved.template or "alpaca"
