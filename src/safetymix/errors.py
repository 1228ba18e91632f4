"""Exception hierarchy (every error safetymix raises on purpose derives from SafetymixError)
and :func:`redact`, which masks credentials in every message and run record."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


class SafetymixError(Exception):
    """Root of every error safetymix raises on purpose."""


class DataFormatError(SafetymixError, ValueError):
    """Bad input data. Carries the file, the 1-based line and the field at fault.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what would have been valid.
    path : str or Path, optional
        The file being read.
    line : int, optional
        1-based line number in that file (for a JSON array: the line where the record starts).
    field : str, optional
        The field (column, key) at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(SafetymixError, ValueError):
    """An invalid option: unknown name, out-of-range value, conflicting flags."""


def check_name(what: str, table: Mapping[str, Any], name: str) -> None:
    """Raise ConfigError for a ``name`` that ``table`` lacks, listing every valid one."""
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(table)}")


def build_by_name(what: str, table: Mapping[str, Callable[..., Any]], name: str, params: Mapping[str, Any]):
    """``table[name](**params)``: the one lookup of every registry (engines, labellers).

    An unknown name lists every valid one; a parameter the class does not take is a
    ConfigError naming ``what`` and ``name``.
    """
    check_name(what, table, name)
    try:
        return table[name](**params)
    except TypeError as exc:
        raise ConfigError(f"{what} {name!r}: {exc}") from exc


class BudgetError(SafetymixError, ValueError):
    """A budget that cannot be honoured (negative, a share without a benign set, ...)."""


class ContaminationError(SafetymixError):
    """Training data overlaps evaluation prompts.

    Parameters
    ----------
    matches : list of dict
        One dict per offending pair: train id, eval file, eval prompt, kind ("exact"/"embedding"), score.
    """

    def __init__(self, matches: list[dict], note: str | None = None) -> None:
        self.matches = matches
        if note is not None:
            super().__init__(note)
            return
        lines = [
            f"  {m['train_id']} ~ {m['eval_source']}:{m['eval_line']} ({m['kind']}, cos={m['score']:.3f}): "
            f"{m['eval_prompt'][:80]!r}"
            for m in matches[:20]
        ]
        more = f"\n  ... and {len(matches) - 20} more" if len(matches) > 20 else ""
        super().__init__(
            f"{len(matches)} training example(s) overlap evaluation prompts:\n" + "\n".join(lines) + more
        )


class MissingDependencyError(SafetymixError, ImportError):
    """An optional dependency is not installed; the message says how to install it."""


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)[^/@\s]+@")
_TOKENS = re.compile(
    r"(?i)(bearer\s+|api[_-]?key[\"']?\s*[:=]\s*[\"']?|token[\"']?\s*[:=]\s*[\"']?)[\w.~+/-]{4,}"
    r"|\bsk-[\w-]{8,}"
)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with credentials masked: URL userinfo, bearer tokens, ``api_key=...``,
    ``sk-...`` keys and every string of ``secrets`` (the key actually sent). Every message
    and log line that may echo a server's answer or a URL goes through it."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(lambda m: m["scheme"] + "***@", text)
    return _TOKENS.sub(lambda m: (m.group(1) or "") + "***", text)


def redact_json(value: Any) -> Any:
    """``value`` (dicts, lists and scalars, as written to a run record) with :func:`redact`
    applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value
