"""Options of ``safetymix generate``, and how a model or adapter folder resolves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from safetymix.errors import ConfigError
from safetymix.stage_config import StageConfig

logger = logging.getLogger(__name__)

#: Engine names and what they need.
ENGINES: dict[str, str] = {
    "hf": "transformers generate(), batched with left padding (default; CPU or GPU)",
    "vllm": "vLLM offline engine (GPU; pip install 'safetymix[vllm]')",
}
#: Generation settings recorded in every output record, in this order.
SETTING_KEYS: tuple[str, ...] = (
    "engine",
    "model",
    "adapter",
    "template",
    "num_beams",
    "max_new_tokens",
    "batch_size",
    "seed",
)
ADAPTER_CONFIG = "adapter_config.json"
TRAIN_CONFIG = "train_config.json"  # written by safetymix train


class GenerateConfig(StageConfig):
    """Options of ``safetymix generate`` (YAML keys are the field names, CLI flags their kebab case).

    A folder written by ``safetymix train`` with LoRA (it holds ``adapter_config.json``) given
    as ``model`` counts as ``adapter``; without ``model`` the base is the one named in the
    adapter's config (a GGUF base is recorded as its ``.gguf`` path). Greedy and beam search
    do not sample: ``seed`` is recorded, and passed to vLLM.
    """

    prompts: str = Field(
        description="prompt file: anything safetymix.io.read_prompts reads (XSTest CSV, Bianchi JSON, "
        "AdvBench, JSONL, ...); responses in it are ignored"
    )
    output: str | None = Field(
        None,
        description="JSONL of id, prompt, response and generation settings, written atomically "
        "(required by the CLI; in Python None only returns the records)",
        json_schema_extra={"flags": ["--out", "-o"]},
    )
    model: str | None = Field(
        None,
        description="base model name or folder, a merged / full model folder, or a .gguf file (its own "
        "tokenizer and chat template); default: the base model of the adapter",
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside the model folder or Hub repo")
    adapter: str | None = Field(
        None, description="LoRA adapter folder, merged into the base weights after loading"
    )
    engine: Literal["hf", "vllm"] = Field("hf", description="transformers generate(), or vLLM (GPU)")
    template: Literal["alpaca", "chat"] | None = Field(
        None, description="prompt format (default: the template in train_config.json, else alpaca)"
    )
    num_beams: int = Field(4, ge=1, description="beams; 1 is greedy (the paper generates with 4)")
    max_new_tokens: int = Field(256, ge=1, description="tokens generated per prompt at most")
    batch_size: int = Field(8, ge=1, description="prompts per generate call (vLLM schedules its own)")
    seed: int = Field(0, description="seed (recorded; passed to vLLM)")
    limit: int | None = Field(None, ge=1, description="only the first N prompts (quick looks)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where the model runs")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on a GPU that supports it, float32 otherwise"
    )
    trust_remote_code: bool = Field(False, description="run code shipped with the model (Hub models)")

    @model_validator(mode="after")
    def _model_or_adapter(self) -> GenerateConfig:
        if self.model is None and self.adapter is None:
            raise ValueError("give a model (name or folder) or an adapter folder")
        return self

    def settings(self) -> dict[str, Any]:
        """The generation settings recorded with every output record."""
        return {key: getattr(self, key) for key in SETTING_KEYS}


def resolve_config(config: GenerateConfig) -> GenerateConfig:
    """Find the base model of an adapter and the training template; fail early on bad folders.

    - ``model`` is a LoRA output folder and no ``adapter``: it becomes the adapter.
    - ``adapter`` without ``model``: the base is ``base_model_name_or_path`` of its config.
    - ``template`` None: the template of ``train_config.json`` in the adapter (or model)
      folder, else ``"alpaca"``.
    - a GGUF model (``.gguf`` path, or ``gguf_file``) becomes its absolute ``.gguf`` path
      (:func:`safetymix.models.model_ref`); an adapter trained on a file in a Hub
      repository takes ``gguf_file`` from its ``train_config.json``.
    """
    from safetymix.models import is_gguf_path, model_ref

    model, adapter, gguf_file = config.model, config.adapter, config.gguf_file
    if adapter is None and model is not None and (Path(model) / ADAPTER_CONFIG).is_file():
        adapter, model = model, None
    if adapter is not None:
        adapter_config = Path(adapter) / ADAPTER_CONFIG
        if not adapter_config.is_file():
            raise ConfigError(
                f"adapter folder {adapter!r} has no {ADAPTER_CONFIG} (is it a LoRA output folder?)"
            )
        if model is None:
            model = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
            if not model:
                raise ConfigError(f"{adapter_config} names no base model; pass model= (--model)")
            if gguf_file is None and not is_gguf_path(model):
                gguf_file = _trained_setting(adapter, "gguf_file")
    if model is not None and (gguf_file is not None or is_gguf_path(model)):
        model = model_ref(model, gguf_file).spec
        gguf_file = None if is_gguf_path(model) else gguf_file
    template = config.template
    if template is None:
        template = _trained_template(adapter, model) or "alpaca"
    update = {"model": model, "gguf_file": gguf_file, "adapter": adapter, "template": template}
    return config.model_copy(update=update)


def tokenizer_folder(config: GenerateConfig) -> str | None:
    """The adapter folder when it holds a saved tokenizer (``safetymix train`` saves one there)."""
    adapter = config.adapter
    return adapter if adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file() else None


def _trained_setting(folder: str, key: str) -> Any:
    path = Path(folder) / TRAIN_CONFIG
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8")).get(key)
    return None


def _trained_template(*folders: str | None) -> str | None:
    for folder in folders:
        template = None if folder is None else _trained_setting(folder, "template")
        if template is not None:
            logger.info("template %r from %s", template, Path(folder) / TRAIN_CONFIG)
            return template
    return None
