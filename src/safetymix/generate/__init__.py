"""Batched generation with the prompt template the model was trained with.

:func:`generate` reads a prompt file, loads a base model (plus an optional LoRA adapter, or
a merged/full model folder), generates with greedy or beam search, and writes one JSONL
record per prompt. :func:`generate_responses` is the in-memory core that later stages reuse
with a model they already hold. torch, transformers and PEFT (and vLLM) are imported inside
the functions, so importing this package is cheap.
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from safetymix.generate.config import ENGINES, SETTING_KEYS, GenerateConfig, resolve_config
from safetymix.generate.hf import generate_responses, load_model
from safetymix.schema import Example

logger = logging.getLogger(__name__)

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

    Notes
    -----
    Long runs keep their work: with ``output`` set, each batch is appended to
    ``.<output>.partial`` as it finishes; at the end the records are written to ``output``
    in prompt order (atomically) and the partial file is removed. A run that stops halfway
    resumes from the partial file: the same command generates only the prompts it lacks
    (with the same settings; other settings raise).
    """
    from safetymix.hub import check_hub_model
    from safetymix.io import read_prompts
    from safetymix.io.progress import progress_bar, quiet_third_party_bars

    resolved = resolve_config(config)
    prompts = read_prompts(config.prompts)
    if config.limit is not None:
        prompts = prompts[: config.limit]
    settings = resolved.settings()
    partial = partial_path(config.output) if config.output is not None else None
    done = _resume(partial, prompts, settings) if partial is not None else {}
    todo = [ex for ex in prompts if ex.id not in done]
    if todo and resolved.engine == "vllm":
        from safetymix.generate.vllm_engine import generate_vllm

        responses = generate_vllm(resolved, todo, show_progress=show_progress)
        done.update({ex.id: _record(ex, t, settings) for ex, t in zip(todo, responses, strict=True)})
    elif todo:
        check_hub_model(resolved.model)  # offline: fail now, not after a minute of retries
        with quiet_third_party_bars(show_progress):
            model, tokenizer = load_model(resolved)
        bar = progress_bar(
            "generate", len(prompts), enabled=show_progress, unit="prompts", completed=len(done)
        )
        log = open(partial, "a", encoding="utf-8") if partial is not None else nullcontext()  # noqa: SIM115
        with log as fh, bar as advance:

            def keep(batch: list[int], texts: list[str]) -> None:
                for i, text in zip(batch, texts, strict=True):
                    rec = _record(todo[i], text, settings)
                    done[todo[i].id] = rec
                    if fh is not None:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                if fh is not None:
                    fh.flush()
                advance(len(batch))

            generate_responses(
                model,
                tokenizer,
                todo,
                template=resolved.template or "alpaca",
                num_beams=resolved.num_beams,
                max_new_tokens=resolved.max_new_tokens,
                batch_size=resolved.batch_size,
                on_batch=keep,
            )
    records = [done[ex.id] for ex in prompts]
    if config.output is not None:
        _write(Path(config.output), records, resolved)
        if partial is not None:
            partial.unlink(missing_ok=True)
    return records


def partial_path(output: str | Path) -> Path:
    """Where a run writes its batches before the output is complete: ``.<output>.partial``."""
    out = Path(output)
    return out.with_name(f".{out.name}.partial")


def _resume(partial: Path, prompts: list[Example], settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records already generated (by prompt id); a torn last line is cut off."""
    from safetymix.errors import ConfigError

    if not partial.is_file():
        return {}
    data = partial.read_bytes()
    keep_to = data.rfind(b"\n") + 1  # a run killed mid-write leaves a torn last line
    if keep_to < len(data):
        with open(partial, "r+b") as fh:
            fh.truncate(keep_to)
    ids = {ex.id for ex in prompts}
    done: dict[str, dict[str, Any]] = {}
    for line in data[:keep_to].decode("utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("generation") != settings:
            raise ConfigError(
                f"{partial} holds responses made with other settings ({rec.get('generation')}); "
                "rerun with those settings to resume, or delete it to start over"
            )
        if rec.get("id") in ids:
            done[rec["id"]] = rec
    if done:
        logger.info("resuming: %d of %d prompts already in %s", len(done), len(prompts), partial)
    return done


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
    from safetymix.io import write_json
    from safetymix.judge.responses import write_jsonl

    write_jsonl(path, records)
    write_json(
        path.with_name(path.name + ".config.json"),
        {**config.model_dump(mode="json"), "n_prompts": len(records)},
    )
