"""Embeddings of a whole file, streamed into a memory-mapped ``.npy`` array.

:func:`embed_file` reads its input twice, chunk by chunk: a first pass checks every record
and hashes each text (32 bytes per text stay in memory), a second pass encodes the texts
that the cache lacks and writes every row straight into an ``.npy`` file opened with
:func:`numpy.lib.format.open_memmap`. Neither the texts nor the vectors of the whole input
are ever in memory, so a million-row pool needs its n x d floats once, on disk. The file
appears under its name only when complete (temp file + rename); the cache keeps every
finished chunk, so a killed run resumes where it stopped.

Read the result with :func:`open_embeddings` (``np.load(path, mmap_mode="r")``).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

import numpy as np

from safetymix.embed.cache import text_keys
from safetymix.embed.encoder import Encoder
from safetymix.errors import ConfigError, DataFormatError
from safetymix.io.progress import progress_bar

#: Output dtypes of :func:`embed_file`; the cache always holds float32.
DTYPES: tuple[str, ...] = ("float32", "float16")
FIELDS: tuple[str, ...] = ("prompt", "response")


def open_embeddings(path: str | Path) -> np.ndarray:
    """Open an ``.npy`` written by :func:`embed_file` read-only, memory-mapped.

    Rows are read from disk when touched, so a 1M x 384 float32 file (1.5 GB) costs no RAM
    until used.

    Raises
    ------
    DataFormatError
        Not a 2-D float array.
    """
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataFormatError(f"not a readable .npy array: {err}", path=path) from err
    if arr.ndim != 2 or arr.dtype.kind != "f":
        raise DataFormatError(f"expected a 2-D float array, got {arr.dtype} {arr.shape}", path=path)
    return arr


def embed_file(
    path: str | Path,
    out: str | Path,
    *,
    encoder: Encoder | None = None,
    field: Literal["prompt", "response"] = "prompt",
    dtype: Literal["float32", "float16"] = "float32",
    format: str | None = None,
    split: str | None = None,
    max_line_bytes: int | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Embed every record of ``path`` into the ``.npy`` file ``out``, in bounded memory.

    Parameters
    ----------
    path : str or Path
        Any input :func:`safetymix.io.iter_chunks` reads (JSON Lines, CSV, Parquet,
        ``datasets`` folder, ...).
    out : str or Path
        ``.npy`` file of shape ``(n, d)``, rows in input order, L2-normalised; replaced
        atomically when complete.
    encoder : Encoder, optional
        Model, batch size, chunk size, cache and backend (e.g. a Ray cluster); default
        ``Encoder()`` (all-MiniLM-L6-v2, the on-disk cache).
    field : {"prompt", "response"}
        Which text to embed: :attr:`Example.prompt` (instruction + input) or the response.
    dtype : {"float32", "float16"}
        Stored precision. float16 halves the file (cosines change by about 1e-3); the
        cache keeps float32 either way.
    format, split : str, optional
        As in :func:`safetymix.io.read_examples`.
    max_line_bytes : int, optional
        Longest accepted input line (default 64 MiB).
    show_progress : bool
        Rich progress bars for both passes.

    Returns
    -------
    dict
        ``path``, ``out``, ``shape``, ``dtype``, ``field``, the encoder ``settings`` and
        the :class:`~safetymix.embed.encoder.EncodeStats` counts (``n_cached`` > 0 on a
        resumed run).

    Raises
    ------
    ConfigError
        Unknown ``field`` or ``dtype``.
    DataFormatError
        Any bad record (found in the first pass, before any encoding), or the input
        changed between or during the passes.

    Examples
    --------
    >>> report = embed_file("pool.jsonl", "pool.npy", dtype="float16")  # doctest: +SKIP
    >>> open_embeddings("pool.npy").shape  # doctest: +SKIP
    (1000000, 384)
    """
    from safetymix.io import DEFAULT_MAX_LINE_BYTES, FileSnapshot, iter_chunks

    if field not in FIELDS:
        raise ConfigError(f"field must be one of {', '.join(FIELDS)}; got {field!r}")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    encoder = encoder or Encoder()
    snapshot = FileSnapshot.take(path) if Path(path).is_file() else None
    read = {
        "format": format,
        "split": split,
        "allow_missing_response": field == "prompt",
        "max_line_bytes": max_line_bytes or DEFAULT_MAX_LINE_BYTES,
        "snapshot": snapshot,
        "chunk_size": encoder.chunk_size,
    }

    def texts_of(chunk: list) -> list[str]:
        return [e.prompt if field == "prompt" else e.response for e in chunk]

    # Pass 1: check every record and hash every text (32 bytes each stay in memory).
    keys: list[np.ndarray] = []
    with progress_bar("reading", None, enabled=show_progress) as advance:
        for chunk in iter_chunks(path, **read):
            keys.append(text_keys(texts_of(chunk)))
            advance(len(chunk))
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype="S32")
    if len(all_keys) == 0:
        raise DataFormatError("no records to embed", path=path)

    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp.npy")
    holder: list[np.ndarray] = []

    def allocate(n: int, d: int) -> np.ndarray:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(n, d))
        holder.append(arr)
        return arr

    # Pass 2: encode what the cache lacks, writing rows into the memory-mapped file.
    try:
        with progress_bar("embedding", len(all_keys), enabled=show_progress, unit="texts") as advance:
            before = encoder.show_progress
            encoder.show_progress = False  # one bar for the whole file instead of one per chunk
            try:
                arr, stats = encoder.encode_chunks(
                    (texts_of(c) for c in iter_chunks(path, **read)), all_keys, allocate, on_chunk=advance
                )
            finally:
                encoder.show_progress = before
        arr.flush()
        shape = tuple(int(x) for x in arr.shape)
        del arr
        holder.clear()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        holder.clear()
        tmp.unlink(missing_ok=True)
        raise
    return {
        "path": str(path),
        "out": str(target),
        "shape": list(shape),
        "dtype": dtype,
        "field": field,
        "settings": encoder.settings,
        **stats.as_dict(),
    }


def write_embed_report(path: str | Path, report: dict[str, Any]) -> None:
    """Write the JSON record of an :func:`embed_file` run (atomically)."""
    from safetymix.io import atomic_write

    with atomic_write(path) as fh:
        fh.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
