"""I/O stage: read any supported data format into :class:`~safetymix.schema.Example` and write
examples back out (canonical JSONL or LLaMA-Factory's alpaca / sharegpt / messages files).

Readers
    :func:`read_examples`, :func:`iter_examples` and :func:`iter_chunks` (streaming),
    :func:`scan_examples` (check a whole input in bounded memory), :func:`read_prompts`.
    Formats: :data:`READ_FORMATS`. :class:`FileSnapshot` pins the version of a file read
    in several passes; :data:`DEFAULT_MAX_LINE_BYTES` caps a line.
Writers
    :func:`write_examples`, :func:`write_dataset_info`, :func:`atomic_write`,
    :func:`sha256_file`. Formats: :data:`WRITE_FORMATS`.
"""

from __future__ import annotations

from safetymix.io.dataset_info import write_dataset_info
from safetymix.io.encoders import WRITE_FORMATS
from safetymix.io.formats import READ_FORMATS
from safetymix.io.guard import DEFAULT_MAX_LINE_BYTES, FileSnapshot
from safetymix.io.readers import MissingFileError, iter_examples, read_examples, read_prompts
from safetymix.io.stream import iter_chunks, scan_examples
from safetymix.io.writers import atomic_write, sha256_file, write_examples

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "READ_FORMATS",
    "WRITE_FORMATS",
    "FileSnapshot",
    "MissingFileError",
    "atomic_write",
    "iter_chunks",
    "iter_examples",
    "read_examples",
    "read_prompts",
    "scan_examples",
    "sha256_file",
    "write_dataset_info",
    "write_examples",
]
