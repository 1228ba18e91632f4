"""Options of ``safetymix generate``, and how a model or adapter folder resolves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safetymix.errors import ConfigError

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


class GenerateConfig(BaseModel):
    """Options of ``safetymix generate`` (YAML keys and CLI flags share these names).

    Parameters
    ----------
    prompts : str
        Prompt file: anything :func:`safetymix.io.read_prompts` reads (XSTest CSV, Bianchi
        JSON, AdvBench, JSONL, ...). Responses in the file are ignored.
    output : str, optional
        JSONL file to write (atomically); None only returns the records.
    model : str, optional
        Base model name or folder, a merged/full model folder, or a ``.gguf`` file (its own
        tokenizer and chat template). A folder written by ``safetymix train`` with LoRA (it
        holds ``adapter_config.json``) counts as ``adapter``. Default: the base model named
        in the adapter's config (a GGUF base is recorded as its ``.gguf`` path).
    gguf_file : str, optional
        A GGUF file name inside the ``model`` folder or Hub repository.
    adapter : str, optional
        LoRA adapter folder; merged into the base weights after loading.
    engine : {"hf", "vllm"}, default "hf"
    template : {"alpaca", "chat"}, optional
        Default: the template in the model's or adapter's ``train_config.json`` (so generation
        uses the training template), else ``"alpaca"``.
    num_beams : int, default 4
        1 is greedy search; the paper generates with 4 beams.
    max_new_tokens : int, default 256
    batch_size : int, default 8
        Prompts per ``generate`` call (vLLM schedules its own batches).
    seed : int, default 0
        Recorded, and passed to vLLM; greedy and beam search do not sample.
    limit : int, optional
        Only the first ``limit`` prompts (quick looks).
    device : {"auto", "cpu", "cuda"}, default "auto"
    dtype : {"auto", "float32", "bfloat16", "float16"}, default "auto"
        ``"auto"``: bfloat16 on a GPU that supports it, float32 otherwise.
    trust_remote_code : bool, default False
    """

    model_config = ConfigDict(extra="forbid")

    prompts: str
    output: str | None = None
    model: str | None = None
    gguf_file: str | None = None
    adapter: str | None = None
    engine: Literal["hf", "vllm"] = "hf"
    template: Literal["alpaca", "chat"] | None = None
    num_beams: int = Field(4, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(8, ge=1)
    seed: int = 0
    limit: int | None = Field(None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    trust_remote_code: bool = False

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


def has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds a saved tokenizer (``safetymix train`` saves one with the adapter)."""
    return (folder / "tokenizer_config.json").is_file()


def _trained_setting(folder: str, key: str) -> Any:
    path = Path(folder) / TRAIN_CONFIG
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8")).get(key)
    return None


def _trained_template(*folders: str | None) -> str | None:
    for folder in folders:
        if folder is None:
            continue
        path = Path(folder) / TRAIN_CONFIG
        if path.is_file():
            template = json.loads(path.read_text(encoding="utf-8")).get("template")
            if template is not None:
                logger.info("template %r from %s", template, path)
                return template
    return None
