"""Write examples; every write is atomic (LLaMA-Factory registry entries: :mod:`.dataset_info`).

Files are written to a temporary file in the target folder and moved over the target with
:func:`os.replace` only when complete, so a crash or an exception leaves either the old
file or nothing, never half a file. The same examples always give the same bytes:
UTF-8 without BOM, ``"\\n"`` line ends, ``json.dumps`` with ``ensure_ascii=False`` and its
default separators (``", "`` and ``": "``), keys in canonical order.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from safetymix.errors import ConfigError, DataFormatError
from safetymix.io.encoders import (
    SHAREGPT_ROLE_NAMES,
    WRITE_FORMATS,
    Unrepresentable,
    WriteFormat,
    conversation,
    first_exchange,
)
from safetymix.io.manifest import temp_path
from safetymix.schema import Example

#: Columns beyond the texts that a written record may carry and a trainer config must map.
OPTIONAL_COLUMNS: tuple[str, ...] = ("system", "history", "tools")

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


def write_examples(
    path: str | Path,
    examples: Iterable[Example],
    format: str = "jsonl",
    *,
    sharegpt_roles: str = "human/gpt",
    lossy: str = "error",
) -> Path:
    """Write examples in one of :data:`WRITE_FORMATS`, atomically and byte-reproducibly.

    Parameters
    ----------
    path : str or Path
        Output file; replaced if it exists. A ``.json`` name gets one JSON array (indent 2),
        a ``.jsonl`` name JSON Lines, any other name the format's default container.
    examples : iterable of Example
        Written in the given order.
    format : str, default "jsonl"
        ``"jsonl"``: canonical records (:meth:`Example.to_dict`, ``extra`` included) that
        :func:`~safetymix.io.read_examples` reads back unchanged. ``"alpaca"`` (default
        container: a JSON array) and ``"alpaca-jsonl"`` (JSON Lines): ``{instruction, input,
        output}`` plus ``system`` and LLaMA-Factory's ``history`` pairs where present.
        ``"sharegpt"``: ``{"conversations": [{"from", "value"}, ...]}``. ``"messages"``:
        ``{"messages": [{"role", "content"}, ...]}``. ``"prompt-completion"``: TRL's
        conversational ``{"prompt": [...], "completion": [...]}``. The chat formats keep
        the system prompt (as the first turn) and every turn of a multi-turn example, and
        send :attr:`Example.prompt` (instruction, ``"\\n"``, input) as the user turn, which
        is how LLaMA-Factory joins an alpaca instruction and input; ids, labels and other
        ``extra`` keys are written only by ``"jsonl"``.
    sharegpt_roles : {"human/gpt", "user/assistant"}, default "human/gpt"
        Speaker names of ``"sharegpt"`` turns: LLaMA-Factory's, or the chat-template names
        TRL and Axolotl's ``chat_template`` expect.
    lossy : {"error", "first-turn"}, default "error"
        What to do with an example the format cannot hold (turns that do not alternate, for
        alpaca): raise, or write its first exchange (and system prompt) only.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        Unknown ``format``, ``sharegpt_roles`` or ``lossy``.
    DataFormatError
        An example cannot be encoded (a lone surrogate in a text, a value in ``extra``
        that JSON cannot hold, turns the format cannot hold with ``lossy="error"``);
        ``line`` is the output line (or array item) of that example.

    Examples
    --------
    >>> write_examples("mix.jsonl", pool[:100])  # doctest: +SKIP
    PosixPath('mix.jsonl')
    """
    target = Path(path)
    enc = RecordEncoder(format, path=target, sharegpt_roles=sharegpt_roles, lossy=lossy)
    return write_encoded(target, (enc(ex, line=i + 1) for i, ex in enumerate(examples)), format)


def container_is_array(format: str, path: str | Path | None) -> bool:
    """``.json`` -> one JSON array, ``.jsonl``/``.ndjson`` -> JSON Lines, else the format's default."""
    suffix = Path(path).suffix.lower() if path is not None else ""
    if suffix == ".json":
        return True
    if suffix in (".jsonl", ".ndjson"):
        return False
    return _get_write_format(format).array


class RecordEncoder:
    """Encode the examples of one output file; count what the format could not hold.

    Parameters
    ----------
    format : str
        A :data:`WRITE_FORMATS` name.
    path : str or Path, optional
        The file written, for messages and for the container (:func:`container_is_array`);
        None gives the format's default container.
    sharegpt_roles, lossy
        As in :func:`write_examples`.
    array : bool, optional
        Force the container (a streaming writer appending JSON Lines passes ``False``).

    Attributes
    ----------
    columns : set of str
        The :data:`OPTIONAL_COLUMNS` written so far (what a trainer config must map).
    lossy_ids : list of str
        Examples written as their first exchange only, with :attr:`lossy_reasons` counted.
    multi_turn : int
        Examples with more than one exchange.
    """

    def __init__(
        self,
        format: str = "jsonl",
        *,
        path: str | Path | None = None,
        sharegpt_roles: str = "human/gpt",
        lossy: str = "error",
        array: bool | None = None,
    ) -> None:
        self.format = format
        self.spec = _get_write_format(format)
        if sharegpt_roles not in SHAREGPT_ROLE_NAMES:
            valid = ", ".join(SHAREGPT_ROLE_NAMES)
            raise ConfigError(f"unknown sharegpt_roles {sharegpt_roles!r}; valid: {valid}")
        if lossy not in ("error", "first-turn"):
            raise ConfigError(f"lossy must be 'error' or 'first-turn', got {lossy!r}")
        self.path = path
        self.roles = sharegpt_roles
        self.lossy = lossy
        self.array = container_is_array(format, path) if array is None else array
        self.columns: set[str] = set()
        self.lossy_ids: list[str] = []
        self.lossy_reasons: Counter[str] = Counter()
        self.multi_turn = 0

    def __call__(self, ex: Example, line: int | None = None) -> bytes:
        """The bytes of one example: a JSON line with its newline, or an indented array item."""
        try:
            conv = conversation(ex)
            try:
                rec = self.spec.encode(ex, conv, self.roles)
            except Unrepresentable as err:
                if self.lossy == "error":
                    msg = f"example {ex.id!r} has {err.reason}, which {self.format} cannot hold"
                    raise DataFormatError(msg, path=self.path, line=line) from None
                self.lossy_ids.append(ex.id)
                self.lossy_reasons[err.reason] += 1
                rec = self.spec.encode(ex, first_exchange(ex, conv), self.roles)
            self.multi_turn += conv.multi_turn
            self.columns.update(c for c in OPTIONAL_COLUMNS if c in rec)
            if self.array:
                item = json.dumps(rec, ensure_ascii=False, indent=2, allow_nan=False)
                text = "  " + item.replace("\n", "\n  ")
            else:
                text = json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n"
            return text.encode("utf-8")
        except (TypeError, ValueError) as err:  # UnicodeEncodeError is a ValueError
            if isinstance(err, DataFormatError):
                raise
            msg = f"example {ex.id!r} cannot be written as {self.format}: {err}"
            raise DataFormatError(msg, path=self.path, line=line) from err


def encode_example(
    ex: Example, format: str = "jsonl", *, path: str | Path | None = None, line: int | None = None
) -> bytes:
    """The bytes of one example in the format's default container (a JSON line, for streaming).

    Raises
    ------
    ConfigError
        Unknown ``format``.
    DataFormatError
        The example cannot be encoded; ``path`` and ``line`` locate it in the message.
    """
    return RecordEncoder(format, path=path, array=_get_write_format(format).array)(ex, line)


def write_encoded(
    path: str | Path, items: Iterable[bytes], format: str = "jsonl", *, array: bool | None = None
) -> Path:
    """Write items made by a :class:`RecordEncoder` for the same ``path``, atomically, in order.

    Returns
    -------
    Path
        The file written.
    """
    if array is None:  # a staged temp file passes the container of the file it becomes
        array = container_is_array(format, path)
    target = Path(path)
    with atomic_write(target, "wb") as fh:
        if array:
            fh.write(b"[")
        sep = b"\n" if array else b""
        for data in items:
            fh.write(sep)
            fh.write(data)
            if array:
                sep = b",\n"
        if array:
            fh.write(b"]\n" if fh.tell() == 1 else b"\n]\n")
    return target


def _get_write_format(name: str) -> WriteFormat:
    try:
        return WRITE_FORMATS[name]
    except KeyError:
        valid = ", ".join(WRITE_FORMATS)
        raise ConfigError(f"unknown write format {name!r}; valid formats: {valid}") from None
