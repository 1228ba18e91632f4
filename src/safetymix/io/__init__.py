"""I/O stage: read any supported data format into :class:`~safetymix.schema.Example` and write
examples back out (canonical JSONL or LLaMA-Factory's alpaca / sharegpt / messages files).

Readers
    :func:`read_examples`, :func:`iter_examples` and :func:`iter_chunks` (streaming),
    :func:`scan_examples` (check a whole input in bounded memory), :func:`read_prompts`.
    Formats: :data:`READ_FORMATS`. :class:`FileSnapshot` pins the version of a file read
    in several passes; :data:`DEFAULT_MAX_LINE_BYTES` caps a line.
Writers
    :func:`write_examples`, :func:`write_dataset_info`, :func:`atomic_write`,
    :func:`sha256_file`, :func:`write_json`. Formats: :data:`WRITE_FORMATS`.
Run records
    :class:`RunRecord`: ``--out`` checks, input hashes taken while reading, the sidecar
    written together with the output (:mod:`safetymix.io.manifest`).
"""

from __future__ import annotations

from safetymix.io.formats import READ_FORMATS, WRITE_FORMATS
from safetymix.io.guard import DEFAULT_MAX_LINE_BYTES, FileSnapshot
from safetymix.io.manifest import RunRecord, sha256_file, write_json
from safetymix.io.readers import MissingFileError, iter_examples, read_examples, read_prompts
from safetymix.io.stream import iter_chunks, scan_examples
from safetymix.io.textfiles import json_records
from safetymix.io.writers import atomic_write, write_dataset_info, write_examples

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "READ_FORMATS",
    "RunRecord",
    "WRITE_FORMATS",
    "FileSnapshot",
    "MissingFileError",
    "atomic_write",
    "iter_chunks",
    "iter_examples",
    "json_records",
    "read_examples",
    "read_prompts",
    "scan_examples",
    "sha256_file",
    "write_dataset_info",
    "write_examples",
    "write_json",
]
