"""Guards for reading big files: a line-length cap and detection of files that change while read.

A :class:`FileSnapshot` identifies one version of a file (size, modification time, inode,
device); a :class:`ReadGuard` carries the snapshot and the line limit through a reader,
which checks the file against the snapshot every :data:`CHECK_EVERY_LINES` lines, at each
Parquet batch and at the end. :func:`last_key` names the JSON field where a broken line
stops.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetymix.errors import DataFormatError
from safetymix.io.records import located_error

_KEY = re.compile(rb'"((?:[^"\\]|\\.){1,200})"\s*:')

#: Longest line (in bytes) the text readers accept by default: 64 MiB. Lines are read with
#: ``readline(limit + 1)``, so a broken multi-GB "line" (a file without newlines, binary
#: data) fails after reading the limit instead of exhausting memory.
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
#: Lines read between two checks that the file has not changed (a stat call each).
CHECK_EVERY_LINES = 4096


# -- guarding against broken and changing files -------------------------------------------------


@dataclass(frozen=True)
class FileSnapshot:
    """What identifies one version of a file: size, modification time, inode and device.

    Take one before reading and compare it with the file afterwards (and in between): a
    writer that appends, truncates, rewrites in place or replaces the file by rename changes
    at least one of them. Take a single snapshot for several passes over the same file (count
    first, then process) so that every pass provably reads the same bytes.

    Examples
    --------
    >>> snap = FileSnapshot.take("pool.jsonl")  # doctest: +SKIP
    >>> snap.changes(FileSnapshot.take("pool.jsonl"))  # doctest: +SKIP
    ''
    """

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def take(cls, path: str | Path) -> FileSnapshot:
        """Snapshot of ``path`` now (raises ``OSError`` when it cannot be stat'ed)."""
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)

    def changes(self, other: FileSnapshot) -> str:
        """Human-readable differences to ``other`` ("" when none)."""
        out = []
        if (self.inode, self.device) != (other.inode, other.device):
            out.append("replaced by another file")
        if self.size != other.size:
            out.append(f"size {self.size} -> {other.size} bytes")
        if self.mtime_ns != other.mtime_ns:
            out.append("modification time changed")
        return ", ".join(out)


@dataclass(frozen=True)
class ReadGuard:
    """Limits and change detection for one file being read.

    Parameters
    ----------
    file : Path
        The file on disk.
    path : str
        Its name in error messages (as the caller gave it).
    max_line_bytes : int
        Longest accepted line, newline excluded (see :data:`DEFAULT_MAX_LINE_BYTES`).
    snapshot : FileSnapshot
        The version of the file that every read must see.
    unit : {"line", "row"}
        What :meth:`check` positions count.
    """

    file: Path
    path: str
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    snapshot: FileSnapshot | None = None
    unit: str = "line"
    #: sha256 of the bytes read so far (readers call :meth:`seen`); see :mod:`safetymix.io.manifest`.
    digest: Any = field(default_factory=hashlib.sha256, compare=False, repr=False)

    def seen(self, data: bytes) -> None:
        """Add bytes the reader consumed to the running sha256."""
        self.digest.update(data)

    def finish(self, where: int | None) -> None:
        """End of the file: check it is unchanged, then report the sha256 of what was read."""
        from safetymix.io.manifest import note_read

        self.check(where)
        note_read(self.file, self.digest.hexdigest())

    @classmethod
    def open(
        cls,
        file: Path,
        path: str,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        snapshot: FileSnapshot | None = None,
        unit: str = "line",
    ) -> ReadGuard:
        """A guard for ``file``; checks at once that it still matches ``snapshot`` when one is given."""
        if max_line_bytes < 1:
            raise DataFormatError(f"max_line_bytes must be >= 1, got {max_line_bytes}", path=path)
        guard = cls(file, path, max_line_bytes, snapshot or FileSnapshot.take(file), unit)
        if snapshot is not None:
            guard.check(None)
        return guard

    def check(self, where: int | None) -> None:
        """Raise :class:`DataFormatError` (at ``where``) when the file differs from the snapshot."""
        try:
            now = FileSnapshot.take(self.file)
            diff = self.snapshot.changes(now) if self.snapshot is not None else ""
        except OSError:
            diff = "deleted"
        if diff:
            msg = (
                f"the file changed while being read ({diff}); records already read may not match "
                "the rest. Read a copy that no process is writing to"
            )
            raise located_error(msg, self.path, self.unit, where)


def last_key(raw: bytes | str) -> str | None:
    """The last ``"key":`` in a piece of JSON text: the field being read where the text breaks off."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    found = None
    for found in _KEY.finditer(data):  # noqa: B007 - only the last match is wanted
        pass
    return found.group(1).decode("utf-8", "replace") if found else None
