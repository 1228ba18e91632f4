"""The optional ``vllm`` engine (GPU), fed the same prompt token ids as the ``hf`` engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.errors import MissingDependencyError
from safetymix.generate.config import ADAPTER_CONFIG, GenerateConfig, tokenizer_folder
from safetymix.schema import Example
from safetymix.train.templates import check_template, encode_prompt

#: LoRA ranks vLLM preallocates slots for.
_VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def generate_vllm(config: GenerateConfig, prompts: Sequence[Example], *, show_progress: bool) -> list[str]:
    """Generate with vLLM from the same prompt token ids the ``hf`` engine uses."""
    try:
        from vllm import LLM, SamplingParams
        from vllm.lora.request import LoRARequest
        from vllm.sampling_params import BeamSearchParams
    except ImportError as exc:
        raise MissingDependencyError(
            f"engine 'vllm' needs vLLM ({exc}); pip install 'safetymix[vllm]'"
        ) from exc
    from transformers import AutoTokenizer

    tokenizer_source = tokenizer_folder(config) or config.model
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=config.trust_remote_code)
    template = config.template or "alpaca"
    check_template(template, tokenizer)
    encoded = [encode_prompt(tokenizer, ex, template) for ex in prompts]
    lora_kwargs: dict[str, Any] = {}
    if config.adapter is not None:
        rank = json.loads((Path(config.adapter) / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("r", 16)
        # vLLM preallocates LoRA slots for a fixed set of ranks (default 16).
        lora_kwargs = {
            "enable_lora": True,
            "max_lora_rank": next((r for r in _VLLM_RANKS if r >= rank), rank),
        }
    llm = LLM(
        model=config.model,
        tokenizer=tokenizer_source,
        seed=config.seed,
        dtype=config.dtype,
        trust_remote_code=config.trust_remote_code,
        **lora_kwargs,
    )
    lora = LoRARequest("adapter", 1, config.adapter) if config.adapter is not None else None
    token_prompts = [{"prompt_token_ids": ids} for ids in encoded]
    if config.num_beams == 1:
        params = SamplingParams(temperature=0.0, max_tokens=config.max_new_tokens, seed=config.seed)
        outputs = llm.generate(token_prompts, params, lora_request=lora, use_tqdm=show_progress)
        return [o.outputs[0].text.strip() for o in outputs]
    beam = BeamSearchParams(beam_width=config.num_beams, max_tokens=config.max_new_tokens)
    kwargs = {"lora_request": lora} if lora is not None else {}
    outputs = llm.beam_search(token_prompts, beam, **kwargs)
    # A beam's tokens include the prompt; decode only what was generated.
    return [
        tokenizer.decode(o.sequences[0].tokens[len(ids) :], skip_special_tokens=True).strip()
        for o, ids in zip(outputs, encoded, strict=True)
    ]
