"""Trainer config fragments that read a file written by ``safetymix mix`` (``--emit-config``).

Each fragment is YAML for the trainer's own config file: LLaMA-Factory's ``dataset`` /
``dataset_dir`` / ``template`` keys (the entry itself goes to ``dataset_info.json``),
Axolotl's ``datasets:`` block with the right ``type`` and field mappings, and the
``datasets:`` mixture plus ``SFTConfig`` fields of TRL's ``trl sft --config``. A format
the trainer cannot read raises :class:`~safetymix.errors.ConfigError` naming the formats it
can; what a format writes but the trainer would not read (an alpaca ``history`` in Axolotl)
is returned as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, check_name
from safetymix.io.formats import TURN_KEYS

#: Trainers ``--emit-config`` writes a fragment for, and the formats each reads.
TRAINERS: dict[str, tuple[str, ...]] = {
    "llamafactory": ("alpaca", "alpaca-jsonl", "sharegpt", "messages", "jsonl"),
    "axolotl": ("alpaca", "alpaca-jsonl", "sharegpt", "messages"),
    "trl": ("messages", "prompt-completion", "sharegpt"),
}

_ALPACA_FORMAT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
_ALPACA_NO_INPUT = "### Instruction:\n{instruction}\n\n### Response:\n"


def config_path(out: str | Path, trainer: str) -> Path:
    """Where the fragment for ``trainer`` goes: ``<out>.<trainer>.yaml``."""
    out = Path(out)
    return out.with_name(f"{out.name}.{trainer}.yaml")


def trainer_config(
    trainer: str,
    data_file: str | Path,
    format: str,
    *,
    columns: Iterable[str] = (),
    sharegpt_roles: str = "human/gpt",
    dataset_dir: str | Path | None = None,
    dataset_name: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The config fragment for ``trainer`` that reads ``data_file``, and any warnings.

    Parameters
    ----------
    trainer : {"llamafactory", "axolotl", "trl"}
    data_file : str or Path
        The mixed file (written into the fragment as an absolute path).
    format : str
        The ``safetymix mix`` format it was written in.
    columns : iterable of str
        Optional columns the file holds (``system``, ``history``, ``tools``).
    sharegpt_roles : str
        Speaker names of a ``"sharegpt"`` file.
    dataset_dir, dataset_name : optional
        LLaMA-Factory's registry folder and entry name (required for ``"llamafactory"``).

    Returns
    -------
    fragment : dict
        YAML-ready keys for the trainer's config file.
    warnings : list of str

    Raises
    ------
    ConfigError
        Unknown trainer, or a format that trainer does not read.
    """
    check_trainer(trainer, format, sharegpt_roles)
    cols = set(columns)
    path = str(Path(data_file).resolve())
    warnings: list[str] = []
    if trainer == "llamafactory":
        if dataset_dir is None or dataset_name is None:
            raise ConfigError("the llamafactory fragment needs the dataset_info.json folder and entry name")
        frag: dict[str, Any] = {"dataset": dataset_name, "dataset_dir": str(Path(dataset_dir).resolve())}
        # alpaca files are trained with the paper's Alpaca prompt; chat files with the model's own.
        frag["template"] = "alpaca" if format in ("alpaca", "alpaca-jsonl", "jsonl") else "default"
        if frag["template"] == "default":
            warnings.append("llamafactory: set `template` to your model's chat template (llama3, qwen, ...)")
        return frag, warnings
    if trainer == "axolotl":
        frag = {"datasets": [_axolotl_dataset(path, format, cols, sharegpt_roles, warnings)]}
        if format in ("sharegpt", "messages"):
            frag["chat_template"] = "tokenizer_default"  # the model's own template
        return frag, warnings
    frag = {"datasets": [{"path": "json", "data_files": path, "split": "train"}]}
    if format == "prompt-completion":
        frag["completion_only_loss"] = True
    elif format == "sharegpt":
        # TRL checks assistant_only_loss before it turns `conversations` into `messages`
        warnings.append(
            "trl: a sharegpt file is trained on every token (assistant_only_loss needs a "
            "`messages` column); use --format messages for loss on the assistant turns only"
        )
    else:
        # needs a chat template with {% generation %} markers; without one, drop this key
        frag["assistant_only_loss"] = True
    return frag, warnings


def check_trainer(trainer: str, format: str, sharegpt_roles: str = "human/gpt") -> None:
    """Raise :class:`ConfigError` unless ``trainer`` reads files of ``format`` (checked before mixing)."""
    check_name("trainer", TRAINERS, trainer)
    if format not in TRAINERS[trainer]:
        valid = ", ".join(TRAINERS[trainer])
        raise ConfigError(f"{trainer} does not read --format {format}; use one of: {valid}")
    if trainer == "trl" and format == "sharegpt" and sharegpt_roles != "user/assistant":
        msg = "trl renders human/gpt roles verbatim; write the file with --sharegpt-roles user/assistant"
        raise ConfigError(msg)


def _axolotl_dataset(
    path: str, format: str, cols: set[str], roles: str, warnings: list[str]
) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "ds_type": "json"}
    if format in ("alpaca", "alpaca-jsonl"):
        if "history" in cols:
            warnings.append(
                "axolotl: alpaca types ignore `history` (earlier turns); use --format messages "
                "for Axolotl's chat_template"
            )
        if "system" in cols:
            entry["type"] = {
                "field_system": "system",
                "field_instruction": "instruction",
                "field_input": "input",
                "field_output": "output",
                "system_format": "{system}\n\n",
                "format": _ALPACA_FORMAT,
                "no_input_format": _ALPACA_NO_INPUT,
            }
        else:
            entry["type"] = "alpaca"
        return entry
    key = "conversations" if format == "sharegpt" else "messages"
    role_key, content_key, _ = TURN_KEYS[key]
    entry.update(
        {
            "type": "chat_template",
            "field_messages": key,
            "message_property_mappings": {"role": role_key, "content": content_key},
            "roles_to_train": ["assistant"],
        }
    )
    if format == "sharegpt" and roles == "human/gpt":
        entry["roles"] = {"user": ["human"], "assistant": ["gpt"], "system": ["system"]}
    return entry


def fragment_yaml(trainer: str, fragment: dict[str, Any], source: str | Path) -> str:
    """The fragment as YAML text, with a header naming the file it reads."""
    import yaml

    head = f"# {trainer} config fragment written by safetymix mix for {Path(source).name}\n"
    return head + yaml.safe_dump(fragment, sort_keys=False, allow_unicode=True, width=100)
