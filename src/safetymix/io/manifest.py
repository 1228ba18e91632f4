"""One run-record writer: the sidecar JSON of every output, written together with the output.

A :class:`RunRecord` wraps one command that reads inputs and writes one main output plus
its sidecar (``picks.jsonl.selection.json``, ``train.json.manifest.json``, ...):

- ``--out`` naming an input, or an existing directory, is refused before any work;
- every reader of :mod:`safetymix.io` hashes the bytes it reads while it reads them and
  reports the digest here (:func:`note_read`), so the recorded sha256 is that of the data
  used, never of a file re-opened afterwards (which may be the output by then);
- the main output is staged under a temporary name; :meth:`RunRecord.commit` writes the
  sidecar to a temporary name, removes the old sidecar, renames the output, then the
  sidecar. A kill at any point leaves the old output alone, or an output without a
  sidecar: never an output beside another run's sidecar;
- temporary files (``.OUT.<pid>-<hex>.tmp`` and ``.spill``) are removed on failure, and
  those a killed run left behind are removed by the next run to the same output.

:func:`write_json` is the atomic JSON writer used for every report.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError

__all__ = [
    "RunRecord",
    "note_read",
    "record_header",
    "recording_reads",
    "sha256_file",
    "temp_path",
    "write_json",
]

_ACTIVE: contextvars.ContextVar[RunRecord | None] = contextvars.ContextVar("safetymix_run", default=None)
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{12}\.(tmp|spill)$")


def _key(path: str | Path) -> str:
    return os.path.realpath(path)


def note_read(path: str | Path, sha256: str) -> None:
    """Record that a reader finished reading ``path`` and saw bytes with this sha256."""
    run = _ACTIVE.get()
    if run is not None:
        run.reads[_key(path)] = sha256


class _Reads:
    def __init__(self) -> None:
        self.reads: dict[str, str] = {}

    def sha256(self, path: str | Path) -> str | None:
        """The sha256 of what the readers saw of ``path`` (None: not read to the end)."""
        return self.reads.get(_key(path))


@contextlib.contextmanager
def recording_reads() -> Iterator[_Reads]:
    """Collect the sha256 of every file read to the end inside the block (no output needed)."""
    reads = _Reads()
    token = _ACTIVE.set(reads)  # type: ignore[arg-type]
    try:
        yield reads
    finally:
        _ACTIVE.reset(token)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, or of a folder (each file's relative name and bytes, sorted by name).

    Examples
    --------
    >>> sha256_file("mix.jsonl")  # doctest: +SKIP
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    """
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            digest.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def temp_path(target: str | Path, suffix: str = "tmp") -> Path:
    """A fresh temporary name beside ``target`` that :class:`RunRecord` cleans up."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.{suffix}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(target: str | Path) -> list[Path]:
    """Delete temporary files of ``target`` left by processes that are no longer running."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    for f in target.parent.iterdir():
        m = _TEMP.match(f.name)
        if m and m["name"].startswith(target.name) and not _pid_alive(int(m["pid"])):
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


def record_header(command: str) -> dict[str, str]:
    """The first keys of every run record: the safetymix version and the command."""
    from safetymix import __version__

    return {"safetymix_version": __version__, "command": command}


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented UTF-8 JSON through a temporary file and a rename."""
    from safetymix.io.writers import atomic_write

    with atomic_write(path) as fh:
        fh.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    return Path(path)


class RunRecord:
    """Inputs, main output and sidecar of one command (see the module docstring).

    Parameters
    ----------
    command : str
        The command name recorded (``"select"``, ``"mix"``, ``"label"``).
    out : str or Path
        The main output file.
    sidecar : str or Path
        The run record written beside it.
    inputs : dict of str to path or None
        Role -> input path (None entries are skipped). ``out`` may equal none of them.

    Examples
    --------
    >>> with RunRecord("select", out, sidecar, inputs={"pool": pool}) as run:  # doctest: +SKIP
    ...     examples = read_examples(pool)
    ...     write_examples(run.staged, picks)
    ...     run.commit({"config": cfg.model_dump()})
    """

    def __init__(
        self, command: str, out: str | Path, sidecar: str | Path, inputs: dict[str, Any] | None = None
    ) -> None:
        self.command, self.out, self.sidecar = command, Path(out), Path(sidecar)
        self.inputs = {k: str(v) for k, v in (inputs or {}).items() if v is not None}
        self.reads: dict[str, str] = {}
        self.staged = temp_path(self.out)
        self._token: contextvars.Token | None = None
        if self.out.is_dir():
            raise ConfigError(f"--out {self.out} is an existing directory; name a file")
        for role, path in self.inputs.items():
            for target in (self.out, self.sidecar):
                same = Path(path).exists() and target.exists() and os.path.samefile(path, target)
                if same or _key(path) == _key(target):
                    raise ConfigError(f"--out {target} is the {role} input; write to another file")

    def __enter__(self) -> RunRecord:
        remove_stale_temps(self.out)
        remove_stale_temps(self.sidecar)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
        self.staged.unlink(missing_ok=True)

    def input_records(self) -> dict[str, dict[str, Any]]:
        """Role -> ``{"path", "sha256"}``; the hash of what the readers saw (None: not read)."""
        return {role: {"path": p, "sha256": self.reads.get(_key(p))} for role, p in self.inputs.items()}

    def commit(self, record: dict[str, Any], *, staged: str | Path | None = None) -> dict[str, Any]:
        """Publish the staged output and its sidecar; returns the record written.

        ``record`` is completed with the version, the command, the inputs and the output's
        path and sha256 (``record["output"]`` may add fields such as the format).
        """
        staged = Path(staged) if staged is not None else self.staged
        full = {
            **record_header(self.command),
            **record,
            "inputs": {**self.input_records(), **record.get("inputs", {})},
            "output": {"path": str(self.out), **record.get("output", {}), "sha256": sha256_file(staged)},
        }
        side_tmp = temp_path(self.sidecar)
        try:
            write_json(side_tmp, full)
            self.sidecar.unlink(missing_ok=True)
            os.replace(staged, self.out)
            os.replace(side_tmp, self.sidecar)
        finally:
            side_tmp.unlink(missing_ok=True)
        return full
