"""Responses files (as ``safetymix generate`` writes them) and verdict files.

A responses file is JSON Lines, one object per response with at least ``prompt`` and
``response`` (strings) and usually ``id``; any other keys (generation settings, suite,
category) are kept and copied to the verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.errors import DataFormatError
from safetymix.judge.base import Verdict


def read_responses(path: str | Path) -> list[dict[str, Any]]:
    """Read a responses JSONL file.

    Returns
    -------
    list of dict
        One per non-blank line, in file order; ``id`` defaults to the 1-based line number
        (as a string) when the record has none.

    Raises
    ------
    DataFormatError
        Missing file, invalid JSON, a line that is not an object, ``prompt`` or
        ``response`` missing or not a string, a duplicate ``id``, or no records at all;
        with the path, line and field.
    """
    from safetymix.io import json_records

    if not Path(path).is_file():
        raise DataFormatError("no such responses file", path=path)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for lineno, row in json_records(path):
        for key in ("prompt", "response"):
            if not isinstance(row.get(key), str):
                got = "missing" if key not in row else type(row[key]).__name__
                raise DataFormatError(
                    f"{key!r} must be a string ({got}); keys found: {sorted(row)}",
                    path=path,
                    line=lineno,
                    field=key,
                )
        row["id"] = str(row["id"]) if row.get("id") is not None else str(lineno)
        if row["id"] in seen:
            raise DataFormatError(
                f"duplicate id {row['id']!r} (first on line {seen[row['id']]})",
                path=path,
                line=lineno,
                field="id",
            )
        seen[row["id"]] = lineno
        rows.append(row)
    if not rows:
        raise DataFormatError("no responses found (empty file)", path=path, line=1)
    return rows


def verdict_records(
    rows: Sequence[dict[str, Any]], verdicts: Sequence[Verdict], judge: str
) -> list[dict[str, Any]]:
    """Each response record with its verdict fields and the judge's name added."""
    return [{**row, **v.to_dict(), "judge": judge} for row, v in zip(rows, verdicts, strict=True)]


def write_jsonl(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """Write records as JSON Lines, atomically (temp file + rename)."""
    from safetymix.io import atomic_write

    with atomic_write(path) as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
