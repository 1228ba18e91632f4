"""Chunked reading and whole-file checks in bounded memory, for inputs larger than RAM.

:func:`iter_chunks` yields lists of examples; :func:`scan_examples` reads a whole input
once to check every record and every id before expensive work starts. Both take a
:class:`~safetymix.io.guard.FileSnapshot` so that several passes over one file provably read
the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError
from safetymix.io.guard import DEFAULT_MAX_LINE_BYTES, FileSnapshot
from safetymix.io.readers import _parse, _plan, iter_examples
from safetymix.io.records import located_error
from safetymix.schema import Example


def iter_chunks(
    path: str | Path, format: str | None = None, *, chunk_size: int = 4096, **options: Any
) -> Iterator[list[Example]]:
    """Yield the examples of a file in lists of ``chunk_size``, holding one chunk at a time.

    Memory stays bounded by the chunk for JSON Lines, CSV, .txt (read line by line, lines
    capped at ``max_line_bytes``), Parquet (``pyarrow`` ``iter_batches``) and ``datasets``
    folders (memory-mapped Arrow, read in batches); Hub data sets stream. A ``.json``
    document is parsed whole first. The file is checked for changes every few thousand
    lines and at its end.

    Parameters
    ----------
    chunk_size : int, default 4096
        Examples per list (the last one may be shorter).
    **options
        ``split``, ``allow_missing_response``, ``max_line_bytes`` and ``snapshot``, as in
        :func:`iter_examples`.

    Raises
    ------
    ConfigError
        ``chunk_size < 1``.
    DataFormatError
        As in :func:`read_examples`, raised when the chunk holding the bad record is read.

    Examples
    --------
    >>> for chunk in iter_chunks("pool.jsonl", chunk_size=1024):  # doctest: +SKIP
    ...     process(chunk)
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    return _batched(iter_examples(path, format, **options), chunk_size)


def _batched(items: Iterator[Example], size: int) -> Iterator[list[Example]]:
    chunk: list[Example] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def scan_examples(
    path: str | Path,
    format: str | None = None,
    *,
    split: str | None = None,
    allow_missing_response: bool = False,
    duplicates: str = "error",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    snapshot: FileSnapshot | None = None,
) -> int:
    """Read a whole input once, checking every record, and return how many there are.

    Run it before expensive work over a large file: a bad record at the very end (a
    truncated final line) then fails in seconds instead of after hours of labelling.
    Memory stays bounded: records are parsed one at a time and ids are kept as 8-byte
    hashes (8 MB per million records), not as strings.

    Parameters
    ----------
    duplicates : {"error", "keep"}, default "error"
        ``"error"`` raises, as :func:`read_examples` does, when two records share an id;
        ``"keep"`` skips the check.
    Other parameters
        As in :func:`iter_examples`.

    Returns
    -------
    int
        The number of records.

    Raises
    ------
    DataFormatError
        As :func:`read_examples`; a duplicate id names both records' lines.

    Examples
    --------
    >>> snap = FileSnapshot.take("pool.jsonl")  # doctest: +SKIP
    >>> n = scan_examples("pool.jsonl", snapshot=snap)  # doctest: +SKIP
    """
    if duplicates not in ("error", "keep"):
        raise ConfigError(f"scan_examples duplicates must be 'error' or 'keep'; got {duplicates!r}")
    plan = _plan(path, format, split, allow_missing_response, max_line_bytes, snapshot, streaming=True)
    if duplicates == "keep":
        return sum(1 for _ in _parse(plan, format, allow_missing_response))
    import numpy as np

    parsed = _parse(plan, format, allow_missing_response)
    flat = np.fromiter((_id_hash(ex.id) for _, ex in parsed), dtype=np.uint64)
    order = np.argsort(flat, kind="stable")
    same = np.flatnonzero(flat[order][1:] == flat[order][:-1])
    if same.size:
        # Rare: read again to name the records (an id hash collision is not a duplicate).
        suspects = {int(flat[order[i]]) for i in same}
        plan = _plan(path, format, split, allow_missing_response, max_line_bytes, snapshot, streaming=True)
        first: dict[str, int] = {}
        for where, ex in _parse(plan, format, allow_missing_response):
            if _id_hash(ex.id) not in suspects:
                continue
            if ex.id in first:
                msg = f"duplicate id {ex.id!r} at {plan.unit} {first[ex.id]} and {plan.unit} {where}"
                raise located_error(msg, plan.path, plan.unit, where, "id")
            first[ex.id] = where
    return int(flat.size)


def _id_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest())
