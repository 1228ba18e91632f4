"""Batched generation with the prompt template the model was trained with.

:func:`generate` reads a prompt file, loads a base model (plus an optional LoRA adapter, or
a merged/full model folder), generates with greedy or beam search, and writes one JSONL
record per prompt. :func:`generate_responses` is the in-memory core that later stages reuse
with a model they already hold. torch, transformers and PEFT (and vLLM) are imported inside
the functions, so importing this package is cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetymix.generate.config import ENGINES, SETTING_KEYS, GenerateConfig, resolve_config
from safetymix.generate.hf import generate_responses, load_model
from safetymix.schema import Example

__all__ = [
    "ENGINES",
    "SETTING_KEYS",
    "GenerateConfig",
    "generate",
    "generate_responses",
    "load_model",
    "resolve_config",
]


def generate(config: GenerateConfig, *, show_progress: bool = False) -> list[dict[str, Any]]:
    """Generate one response per prompt of ``config.prompts``; write them when ``config.output``.

    Parameters
    ----------
    config : GenerateConfig
    show_progress : bool, default False
        Progress bar over batches.

    Returns
    -------
    list of dict
        One record per prompt, in file order: ``id``, ``prompt``, ``instruction``, ``input``,
        ``response``, the prompt's ``categories`` and ``source`` when it has them, and
        ``generation`` (the settings of :data:`SETTING_KEYS`, resolved). The JSONL file holds
        the same records (``read_examples`` reads it back as instruction/input/response).
        ``<output>.config.json`` records the resolved config.

    Raises
    ------
    ConfigError
        Adapter folder without ``adapter_config.json``; ``"chat"`` without a chat template;
        CUDA asked for but absent.
    MissingDependencyError
        transformers/PEFT (engine ``hf``) or vLLM (engine ``vllm``) not installed.

    Examples
    --------
    >>> cfg = GenerateConfig(prompts="xstest.csv", adapter="out/lora", output="answers.jsonl")
    >>> records = generate(cfg)  # doctest: +SKIP
    >>> records[0]["generation"]["num_beams"]  # doctest: +SKIP
    4
    """
    from safetymix.io import read_prompts

    resolved = resolve_config(config)
    prompts = read_prompts(config.prompts)
    if config.limit is not None:
        prompts = prompts[: config.limit]
    if resolved.engine == "vllm":
        from safetymix.generate.vllm_engine import generate_vllm

        responses = generate_vllm(resolved, prompts, show_progress=show_progress)
    else:
        model, tokenizer = load_model(resolved)
        responses = generate_responses(
            model,
            tokenizer,
            prompts,
            template=resolved.template or "alpaca",
            num_beams=resolved.num_beams,
            max_new_tokens=resolved.max_new_tokens,
            batch_size=resolved.batch_size,
            show_progress=show_progress,
        )
    settings = resolved.settings()
    records = [_record(ex, text, settings) for ex, text in zip(prompts, responses, strict=True)]
    if config.output is not None:
        _write(Path(config.output), records, resolved)
    return records


def _record(ex: Example, response: str, settings: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": ex.id,
        "prompt": ex.prompt,
        "instruction": ex.instruction,
        "input": ex.input,
        "response": response,
    }
    if ex.categories is not None:
        rec["categories"] = ex.categories
    if ex.source is not None:
        rec["source"] = ex.source
    rec["generation"] = dict(settings)
    return rec


def _write(path: Path, records: list[dict[str, Any]], config: GenerateConfig) -> None:
    from safetymix.io import atomic_write

    with atomic_write(path) as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with atomic_write(path.with_name(path.name + ".config.json")) as fh:
        json.dump({**config.model_dump(mode="json"), "n_prompts": len(records)}, fh, indent=2)
        fh.write("\n")
