"""I/O stage: read any supported data format into :class:`~safetymix.schema.Example` and write
examples back out (canonical JSONL or LLaMA-Factory's alpaca / sharegpt / messages files).

Readers
    :func:`read_examples`, :func:`iter_examples` (streaming), :func:`read_prompts`.
    Formats: :data:`READ_FORMATS`.
Writers
    :func:`write_examples`, :func:`write_dataset_info`, :func:`atomic_write`,
    :func:`sha256_file`. Formats: :data:`WRITE_FORMATS`.
"""

from __future__ import annotations

from safetymix.io.formats import READ_FORMATS, WRITE_FORMATS
from safetymix.io.readers import MissingFileError, iter_examples, read_examples, read_prompts
from safetymix.io.writers import atomic_write, sha256_file, write_dataset_info, write_examples

__all__ = [
    "READ_FORMATS",
    "WRITE_FORMATS",
    "MissingFileError",
    "atomic_write",
    "iter_examples",
    "read_examples",
    "read_prompts",
    "sha256_file",
    "write_dataset_info",
    "write_examples",
]
