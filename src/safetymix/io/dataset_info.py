"""LLaMA-Factory's ``dataset_info.json``: add or replace the entry that reads a written file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.io.encoders import llamafactory_entry
from safetymix.io.writers import _get_write_format, atomic_write


def write_dataset_info(
    path: str | Path,
    name: str,
    data_file: str | Path,
    format: str,
    *,
    columns: Iterable[str] = (),
    sharegpt_roles: str = "human/gpt",
) -> dict[str, Any]:
    """Add or replace one entry of a LLaMA-Factory ``dataset_info.json``.

    Parameters
    ----------
    path : str or Path
        The ``dataset_info.json`` file, or the folder holding it (LLaMA-Factory's
        ``dataset_dir``): an existing folder, a name ending in ``/``, or any name other than
        a ``.json`` file is a folder (created if missing). Other entries of an existing file
        are kept in their order.
    name : str
        The data set name to pass to LLaMA-Factory's ``--dataset``.
    data_file : str or Path
        The data file. LLaMA-Factory resolves ``file_name`` against the registry's folder,
        so a path naming a file there is kept as given; a path to an existing file
        elsewhere (relative to the working directory, or absolute) is written relative to
        the registry's folder when inside it, else absolute.
    format : str
        The :data:`WRITE_FORMATS` name the data file was written with: alpaca formats map
        ``prompt/query/response`` columns (``response`` is ``"response"`` for ``"jsonl"``);
        ``"sharegpt"`` and ``"messages"`` use ``"formatting": "sharegpt"`` with the
        matching ``columns.messages`` and role/content/system tags.
    columns : iterable of str
        The optional columns the file holds (``system``, ``history``, ``tools``:
        :attr:`RecordEncoder.columns`); each is mapped in the entry.
    sharegpt_roles : str, default "human/gpt"
        The speaker names the ``"sharegpt"`` file was written with.

    Returns
    -------
    dict
        The entry written.

    Raises
    ------
    ConfigError
        Unknown ``format``, a format LLaMA-Factory cannot read (``"prompt-completion"``) or
        an empty ``name``.
    DataFormatError
        The existing file is not a JSON object.

    Examples
    --------
    >>> write_dataset_info("data", "safety_mix", "safety_mix.json", "alpaca")  # doctest: +SKIP
    {'file_name': 'safety_mix.json', 'formatting': 'alpaca', 'columns': {...}}
    """
    _get_write_format(format)
    if not name:
        raise ConfigError("dataset_info entry name must be a non-empty string")
    spec = llamafactory_entry(format, frozenset(columns), sharegpt_roles)
    if spec is None:
        raise ConfigError(f"LLaMA-Factory cannot read format {format!r}; use alpaca, sharegpt or messages")
    info_path = dataset_info_path(path)
    entry = {"file_name": _file_name(Path(data_file), info_path.parent), **spec}
    registry: dict[str, Any] = {}
    if info_path.exists():
        text = info_path.read_text(encoding="utf-8")
        try:
            registry = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as err:
            raise DataFormatError(f"malformed JSON: {err.msg}", path=info_path, line=err.lineno) from err
        if not isinstance(registry, dict):
            raise DataFormatError(
                f"expected a JSON object of entries, got {type(registry).__name__}", path=info_path, line=1
            )
    registry[name] = entry
    with atomic_write(info_path) as fh:
        fh.write(json.dumps(registry, ensure_ascii=False, indent=2) + "\n")
    return entry


def dataset_info_path(path: str | Path) -> Path:
    """The ``dataset_info.json`` that ``path`` names: the file itself, or the one in that folder."""
    text = str(path)
    p = Path(path)
    if p.is_dir() or text.endswith(("/", os.sep)) or p.suffix.lower() != ".json":
        return p / "dataset_info.json"
    return p


def _file_name(data_file: Path, folder: Path) -> str:
    if data_file.is_absolute() or (folder / data_file).exists() or not data_file.exists():
        candidate = data_file if data_file.is_absolute() else None
    else:
        candidate = data_file.resolve()
    if candidate is None:
        return data_file.as_posix()
    base = folder.resolve()
    if candidate.resolve().is_relative_to(base):
        return candidate.resolve().relative_to(base).as_posix()
    return candidate.as_posix()
