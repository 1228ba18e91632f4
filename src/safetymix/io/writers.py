"""Write examples and LLaMA-Factory registry entries; every write is atomic.

Files are written to a temporary file in the target folder and moved over the target with
:func:`os.replace` only when complete, so a crash or an exception leaves either the old
file or nothing, never half a file. The same examples always give the same bytes:
UTF-8 without BOM, ``"\\n"`` line ends, ``json.dumps`` with ``ensure_ascii=False`` and its
default separators (``", "`` and ``": "``), keys in canonical order.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.io.formats import WRITE_FORMATS, WriteFormat
from safetymix.io.manifest import temp_path
from safetymix.schema import Example

_MODES = ("w", "wb")


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success move it over ``path``.

    Parameters
    ----------
    path : str or Path
        The target file. Missing parent folders are created.
    mode : {"w", "wb"}, default "w"
        Text mode writes UTF-8 with no newline translation (``"\\n"`` stays ``"\\n"`` on
        every platform, so the bytes do not depend on the OS).

    Yields
    ------
    file object
        Write to it inside the ``with`` block.

    Raises
    ------
    ConfigError
        ``mode`` is not ``"w"`` or ``"wb"``.

    Notes
    -----
    If the block raises, the temporary file is deleted and the target is untouched: an
    existing file keeps its old content, a new one is never created. A replaced file keeps
    its permission bits; a new one gets the usual ``0o666 & ~umask``.

    Examples
    --------
    >>> with atomic_write("out/mix.jsonl") as fh:  # doctest: +SKIP
    ...     fh.write('{"id": "a"}\\n')
    """
    if mode not in _MODES:
        raise ConfigError(f"atomic_write mode must be one of {', '.join(_MODES)}; got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)  # .NAME.<pid>-<hex>.tmp: a later run removes it if this one is killed
    # os.open with 0o666 lets the umask decide the permissions, as open() would do.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if mode == "wb":
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_examples(path: str | Path, examples: Iterable[Example], format: str = "jsonl") -> Path:
    """Write examples in one of :data:`WRITE_FORMATS`, atomically and byte-reproducibly.

    Parameters
    ----------
    path : str or Path
        Output file; replaced if it exists.
    examples : iterable of Example
        Written in the given order.
    format : str, default "jsonl"
        ``"jsonl"``: canonical records (:meth:`Example.to_dict`, ``extra`` included) that
        :func:`~safetymix.io.read_examples` reads back unchanged. ``"alpaca"``: one JSON
        array (indent 2) of ``{instruction, input, output}``. ``"alpaca-jsonl"``: the same
        records as JSON Lines. ``"sharegpt"``: JSON Lines of
        ``{"conversations": [{"from": "human", ...}, {"from": "gpt", ...}]}``.
        ``"messages"``: JSON Lines of ``{"messages": [{"role": "user", ...},
        {"role": "assistant", ...}]}``. The chat formats send :attr:`Example.prompt`
        (instruction, ``"\\n"``, input), which is how LLaMA-Factory joins an alpaca
        instruction and input; ids, labels and ``extra`` are not written by them.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        Unknown ``format``.
    DataFormatError
        An example cannot be encoded (a lone surrogate in a text, a value in ``extra``
        that JSON cannot hold); ``line`` is the output line (or array item) of that example.

    Examples
    --------
    >>> write_examples("mix.jsonl", pool[:100])  # doctest: +SKIP
    PosixPath('mix.jsonl')
    """
    target = Path(path)
    return write_encoded(
        target, (encode_example(ex, format, path=target, line=i + 1) for i, ex in enumerate(examples)), format
    )


def encode_example(
    ex: Example, format: str = "jsonl", *, path: str | Path | None = None, line: int | None = None
) -> bytes:
    """The bytes :func:`write_examples` writes for one example, less the array punctuation.

    For JSON Lines formats that is the line with its newline; for ``"alpaca"`` the indented
    array item. :func:`write_encoded` puts such items together, so a writer that has to
    reorder many examples (``safetymix mix``) can encode each once, keep the bytes on disk,
    and still write exactly what :func:`write_examples` would.

    Raises
    ------
    ConfigError
        Unknown ``format``.
    DataFormatError
        The example cannot be encoded; ``path`` and ``line`` locate it in the message.
    """
    spec = _get_write_format(format)
    try:
        if spec.array:
            item = json.dumps(spec.encode(ex), ensure_ascii=False, indent=2, allow_nan=False)
            text = "  " + item.replace("\n", "\n  ")
        else:
            text = json.dumps(spec.encode(ex), ensure_ascii=False, allow_nan=False) + "\n"
        return text.encode("utf-8")
    except (TypeError, ValueError) as err:  # UnicodeEncodeError is a ValueError
        msg = f"example {ex.id!r} cannot be written as {format}: {err}"
        raise DataFormatError(msg, path=path, line=line) from err


def write_encoded(path: str | Path, items: Iterable[bytes], format: str = "jsonl") -> Path:
    """Write items made by :func:`encode_example` (same ``format``), atomically, in the given order.

    Returns
    -------
    Path
        The file written.
    """
    spec = _get_write_format(format)
    target = Path(path)
    with atomic_write(target, "wb") as fh:
        if spec.array:
            fh.write(b"[")
        sep = b"\n" if spec.array else b""
        for data in items:
            fh.write(sep)
            fh.write(data)
            if spec.array:
                sep = b",\n"
        if spec.array:
            fh.write(b"]\n" if fh.tell() == 1 else b"\n]\n")
    return target


def write_dataset_info(path: str | Path, name: str, data_file: str | Path, format: str) -> dict[str, Any]:
    """Add or replace one entry of a LLaMA-Factory ``dataset_info.json``.

    Parameters
    ----------
    path : str or Path
        The ``dataset_info.json`` file, or the folder holding it (LLaMA-Factory's
        ``dataset_dir``). Other entries of an existing file are kept in their order.
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
        matching ``columns.messages`` and role/content tags.

    Returns
    -------
    dict
        The entry written.

    Raises
    ------
    ConfigError
        Unknown ``format`` or an empty ``name``.
    DataFormatError
        The existing file is not a JSON object.

    Examples
    --------
    >>> write_dataset_info("data", "safety_mix", "safety_mix.json", "alpaca")  # doctest: +SKIP
    {'file_name': 'safety_mix.json', 'formatting': 'alpaca', 'columns': {...}}
    """
    spec = _get_write_format(format)
    if not name:
        raise ConfigError("dataset_info entry name must be a non-empty string")
    info_path = Path(path)
    if info_path.is_dir():
        info_path = info_path / "dataset_info.json"
    entry = {"file_name": _file_name(Path(data_file), info_path.parent), **copy.deepcopy(spec.llamafactory)}
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


def _get_write_format(name: str) -> WriteFormat:
    try:
        return WRITE_FORMATS[name]
    except KeyError:
        valid = ", ".join(WRITE_FORMATS)
        raise ConfigError(f"unknown write format {name!r}; valid formats: {valid}") from None
