"""Where a causal LM comes from, and loading it: one helper for train, generate and judges.

A model is named by a Hugging Face name or folder (``meta-llama/Llama-2-7b-hf``,
``runs/stage1``) or by a GGUF file: a ``.gguf`` path, or a folder (or Hub repository) plus
``gguf_file``. transformers reads a GGUF file with ``from_pretrained(folder,
gguf_file=name)`` (it needs the ``gguf`` package): the weights are de-quantized to float32,
and the tokenizer and chat template come from the file's metadata. torch and transformers
are imported inside the functions.

A LoRA adapter trained on a GGUF base records the full ``.gguf`` path as its base
(``adapter_config.json``, ``base_model_name_or_path``), so ``safetymix generate --adapter``
finds it again.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

GGUF_SUFFIX = ".gguf"
_INSTALL_HINT = "pip install 'safetymix[train]'"


@dataclass(frozen=True)
class ModelRef:
    """A resolved model source: ``name`` (Hub name or folder) and, for GGUF, the file in it.

    Build it with :func:`model_ref`.
    """

    name: str
    gguf_file: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None

    @property
    def spec(self) -> str:
        """One string that names the model again: the ``.gguf`` path of a local GGUF file, else ``name``."""
        if self.gguf_file is not None and Path(self.name).is_dir():
            return str(Path(self.name) / self.gguf_file)
        return self.name

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        """``{"gguf_file": ...}`` for a GGUF model, else ``{}``."""
        return {"gguf_file": self.gguf_file} if self.gguf_file is not None else {}


def is_gguf_path(model: str | None) -> bool:
    """Whether ``model`` names a ``.gguf`` file (by its suffix)."""
    return model is not None and model.lower().endswith(GGUF_SUFFIX)


def model_ref(model: str, gguf_file: str | None = None) -> ModelRef:
    """Resolve a model name, folder or ``.gguf`` path (plus an optional ``gguf_file``).

    - ``"path/to/model.gguf"``: the file must exist; becomes its (absolute) folder + name.
    - ``"folder"`` + ``gguf_file="model.gguf"``: the file must exist in the folder.
    - ``"org/repo"`` + ``gguf_file``: a GGUF file in a Hub repository (checked on loading).
    - anything else: a Hugging Face name or folder, as given (a local folder made absolute).

    Raises
    ------
    ConfigError
        A ``.gguf`` path that is not a file; ``gguf_file`` given with a ``.gguf`` path, or
        not ending in ``.gguf``, or missing from a local folder.
    """
    if not model or not model.strip():
        raise ConfigError("no model given (a Hugging Face name or folder, or a .gguf file)")
    if is_gguf_path(model):
        if gguf_file is not None:
            raise ConfigError(f"model {model!r} is already a .gguf file; drop gguf_file ({gguf_file!r})")
        path = Path(model)
        if not path.is_file():
            raise ConfigError(f"no such GGUF file: {model!r}")
        path = path.resolve()
        return ModelRef(str(path.parent), path.name)
    if gguf_file is not None:
        if not is_gguf_path(gguf_file) or Path(gguf_file).name != gguf_file:
            raise ConfigError(f"gguf_file must be a file name ending in .gguf, got {gguf_file!r}")
        folder = Path(model)
        if folder.is_dir():
            if not (folder / gguf_file).is_file():
                found = sorted(p.name for p in folder.glob("*.gguf"))
                raise ConfigError(
                    f"no {gguf_file!r} in {model!r}" + (f"; GGUF files there: {found}" if found else "")
                )
            return ModelRef(str(folder.resolve()), gguf_file)
        return ModelRef(model, gguf_file)
    if Path(model).is_dir():
        return ModelRef(str(Path(model).resolve()))
    return ModelRef(model)


def _check_gguf_support(ref: ModelRef) -> None:
    if ref.is_gguf and importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError(f"loading a GGUF model needs the gguf package; {_INSTALL_HINT}")


def load_tokenizer(ref: ModelRef, *, trust_remote_code: bool = False, who: str = "safetymix") -> Any:
    """The model's tokenizer (for GGUF: built from the file's metadata, chat template included).

    Raises
    ------
    ConfigError
        When it cannot be loaded (not found, no network, not a tokenizer).
    MissingDependencyError
        transformers (or, for GGUF, the ``gguf`` package) is not installed.
    """
    _, transformers = import_torch_transformers(who)
    _check_gguf_support(ref)
    try:
        return transformers.AutoTokenizer.from_pretrained(
            ref.name, trust_remote_code=trust_remote_code, **ref.from_pretrained_kwargs()
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{who}: cannot load the tokenizer of {ref.spec!r}: {exc}") from exc


def load_pretrained(
    ref: ModelRef,
    *,
    auto_class: str = "AutoModelForCausalLM",
    dtype: str | None = None,
    trust_remote_code: bool = False,
    who: str = "safetymix",
) -> Any:
    """``transformers.<auto_class>.from_pretrained`` of ``ref`` (GGUF: de-quantized).

    Parameters
    ----------
    ref : ModelRef
    auto_class : str, default "AutoModelForCausalLM"
        Any transformers auto class (judges load sequence classifiers).
    dtype : str, optional
        A torch dtype name (``"float32"``, ``"bfloat16"``); None keeps the checkpoint's own.
    trust_remote_code : bool, default False
    who : str
        Names the caller in error messages.

    Raises
    ------
    ConfigError
        Unknown dtype, or the model cannot be loaded.
    MissingDependencyError
        transformers (or, for GGUF, the ``gguf`` package) is not installed.
    """
    torch, transformers = import_torch_transformers(who)
    _check_gguf_support(ref)

    kwargs: dict[str, Any] = dict(ref.from_pretrained_kwargs())
    if dtype is not None:
        value = getattr(torch, dtype, None)
        if not isinstance(value, torch.dtype):
            raise ConfigError(f"unknown torch dtype {dtype!r}; e.g. float32, bfloat16, float16")
        kwargs["dtype"] = value
    if trust_remote_code:
        kwargs["trust_remote_code"] = True
    try:
        model = getattr(transformers, auto_class).from_pretrained(ref.name, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{who}: cannot load {ref.spec!r} as {auto_class}: {exc}") from exc
    if ref.is_gguf:
        _forget_gguf_quantization(model)
    logger.info("%s: loaded %s", who, ref.spec)
    return model


def _forget_gguf_quantization(model: Any) -> None:
    """Drop transformers' "quantized with GGUF" marks from a de-quantized model.

    The weights are plain float tensors after loading, but transformers keeps a GGUF
    quantizer on the model, so the Trainer refuses to fine-tune it ("quantization method
    does not support training") and ``save_pretrained`` writes a GGUF quantization config
    that a later ``from_pretrained`` of the saved folder cannot honour.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def import_torch_transformers(who: str) -> tuple[Any, Any]:
    """``(torch, transformers)``, or a MissingDependencyError naming ``who`` and the extra to install."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(f"{who} needs torch and transformers ({exc}); {_INSTALL_HINT}") from exc
    return torch, transformers


def cpu_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (``avx512_bf16`` or ``amx_bf16`` among the
    /proc/cpuinfo flags; False where that file is missing). Without them torch emulates
    bfloat16 on the CPU, and bf16 autocast runs many times slower than float32
    (benchmarks/perf/smollm2_speed.py measures both side by side)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def warn_if_emulated_bf16(device: str, what: str) -> None:
    """Warn (RuntimeWarning) that ``what`` runs in bfloat16 on a CPU that emulates it.

    The one check behind ``safetymix train --mixed-precision bf16``, ``generate --dtype
    bfloat16`` and the forgetting benchmark's bf16 profile; silent on a GPU or on a CPU with
    :func:`cpu_native_bf16`.
    """
    if device == "cpu" and not cpu_native_bf16():
        warnings.warn(
            f"{what}: bfloat16 on a CPU without native bfloat16 (no avx512_bf16/amx_bf16); torch "
            "emulates it, many times slower than float32",
            RuntimeWarning,
            stacklevel=3,
        )


def resolve_device(name: str | None) -> str:
    """``"auto"`` or None: ``"cuda"`` when a GPU is visible, else ``"cpu"``; ``"cuda"`` without one raises."""
    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA device is visible; use 'cpu' or 'auto'")
    return name
