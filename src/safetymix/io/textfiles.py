"""Records of text files (JSON, JSON Lines, CSV, plain text) with the line where each starts.

Files are read as bytes and split on ``b"\\n"`` only, then decoded line by line, so a
non-UTF-8 byte is reported on its own line and a JSON string holding U+2028 or a CSV field
holding a newline does not shift the count.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from safetymix.errors import DataFormatError
from safetymix.io.formats import INSTRUCTION_KEYS, PROMPT_LIST_LAYOUT
from safetymix.io.guard import CHECK_EVERY_LINES, ReadGuard, last_key
from safetymix.io.records import RawRecords

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_TOO_DEEP = "JSON nested too deeply to be a record (more levels than Python's recursion limit)"
# -- text decoding ------------------------------------------------------------------------------


def _decode_line(raw: bytes, lineno: int, path: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"not valid UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}"
        raise DataFormatError(msg, path=path, line=lineno) from None
    return text[1:] if lineno == 1 and text.startswith("\ufeff") else text


def _lines(fh: BinaryIO, guard: ReadGuard) -> Iterator[str]:
    # Split on b"\n" only: str.splitlines would also break inside JSON strings at U+2028 etc.
    # readline(limit + 1) never holds more than the limit of one broken line in memory.
    limit, path = guard.max_line_bytes, guard.path
    lineno = 0
    while raw := fh.readline(limit + 1):
        lineno += 1
        guard.seen(raw)
        if len(raw) > limit and not raw.endswith(b"\n"):
            field = last_key(raw)
            msg = (
                f"line longer than {limit} bytes (max_line_bytes); no record should be this long: "
                "the file may lack newlines or hold binary data (raise max_line_bytes if it is real)"
            )
            raise DataFormatError(msg, path=path, line=lineno, field=field)
        if lineno % CHECK_EVERY_LINES == 0:
            guard.check(lineno)
        yield _decode_line(raw, lineno, path)
    guard.finish(lineno)


def jsonl_file_records(p: Path, guard: ReadGuard) -> Iterator[tuple[int, Any]]:
    """Stream ``(line, object)`` from a JSON Lines file; blank lines are skipped.

    Parameters
    ----------
    p : Path
        The file.
    guard : ReadGuard
        Line limit, change detection and the name to show in errors.
    """
    with open(p, "rb") as fh:
        yield from _jsonl_records(_lines(fh, guard), guard.path)


def _jsonl_records(lines: Iterable[str], path: str) -> Iterator[tuple[int, Any]]:
    loads = json.loads
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = loads(line)
        except RecursionError:
            raise DataFormatError(_TOO_DEEP, path=path, line=lineno) from None
        except json.JSONDecodeError as err:
            if not line.endswith("\n"):  # only the last line of a file can lack its newline
                msg = (
                    f"malformed JSON in the final line, which has no newline: the file looks truncated "
                    f"(cut off while being written or copied): {err.msg} (column {err.colno})"
                )
                raise DataFormatError(msg, path=path, line=lineno, field=last_key(line)) from None
            msg = f"malformed JSON: {err.msg} (column {err.colno})"
            raise DataFormatError(msg, path=path, line=lineno) from None
        if not isinstance(rec, dict):
            msg = f"expected a JSON object, got {type(rec).__name__}"
            raise DataFormatError(msg, path=path, line=lineno)
        yield lineno, rec


def json_records(path: str | Path, max_line_bytes: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, object)`` of a JSON Lines file, or of a ``.json`` document (array of objects,
    one object, or JSON Lines): the one JSON reader for files that are not example sets
    (labelled head data, judged responses, taxonomy references). Errors name file and line."""
    from safetymix.io.guard import DEFAULT_MAX_LINE_BYTES

    p = Path(path)
    if not p.is_file():
        raise DataFormatError("no such file", path=str(path))
    guard = ReadGuard.open(p, str(path), max_line_bytes or DEFAULT_MAX_LINE_BYTES)
    if p.suffix.lower() == ".json":
        yield from json_document(p, guard).records
    else:
        yield from jsonl_file_records(p, guard)


def txt_records(p: Path, guard: ReadGuard) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream ``(line, {"instruction": prompt})`` from a text file, one stripped prompt per line."""
    with open(p, "rb") as fh:
        for lineno, line in enumerate(_lines(fh, guard), 1):
            if line.strip():
                yield lineno, {"instruction": line.strip()}


# -- JSON documents -----------------------------------------------------------------------------


def json_document(p: Path, guard: ReadGuard) -> RawRecords:
    """Records of a ``.json`` file, each with the line where it starts.

    A JSON array of objects (records) or strings (prompts); one object of parallel lists
    with an ``instructions`` key (Bianchi et al.); one record object; or, when several
    objects follow each other, JSON Lines. Element offsets come from walking the array
    with :meth:`json.JSONDecoder.raw_decode`, so no position is lost.

    The whole document is read into memory (a JSON array cannot be parsed piecewise with
    the standard library); use JSON Lines or Parquet for inputs larger than memory.

    Raises
    ------
    DataFormatError
        Non-UTF-8 bytes, malformed JSON (at the decoder's line), elements of the wrong type,
        an empty document or array, a file that changed while being read.
    """
    path = guard.path
    data = p.read_bytes()
    guard.seen(data)
    guard.finish(None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFormatError(
            f"not valid UTF-8: byte 0x{data[err.start]:02x}", path=path, line=line
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        return _json_text_plan(text, p, path)
    except RecursionError:
        raise DataFormatError(_TOO_DEEP, path=path) from None
    except json.JSONDecodeError as err:
        raise DataFormatError(
            f"malformed JSON: {err.msg} (column {err.colno})", path=path, line=err.lineno
        ) from None


def _json_text_plan(text: str, p: Path, path: str) -> RawRecords:
    pos = _WS.match(text, 0).end()
    if pos == len(text):
        raise DataFormatError("no records found (empty file)", path=path, line=1)
    if text[pos] == "[":
        items, end = _parse_array(text, pos)
        _expect_end(text, end, "array")
        lines = _lines_at(text, [p for p, _ in items])
        records = [(line, v) for line, (_, v) in zip(lines, items, strict=True)]
        if not records:
            raise DataFormatError("no records found (empty JSON array)", path=path, line=_line_at(text, pos))
        if isinstance(records[0][1], str):  # a JSON list of prompts
            return RawRecords(path, p.name, _string_records(records, path), layout=PROMPT_LIST_LAYOUT)
        for line, rec in records:
            if not isinstance(rec, dict):
                raise DataFormatError(
                    f"expected a JSON object, got {type(rec).__name__}", path=path, line=line
                )
        return RawRecords(path, p.name, records)
    if text[pos] != "{":
        raise DataFormatError("expected a JSON array or object", path=path, line=_line_at(text, pos))
    first, end = _DECODER.raw_decode(text, pos)
    if _WS.match(text, end).end() < len(text):  # more objects follow: JSON Lines in a .json file
        return RawRecords(path, p.name, list(_jsonl_records(text.split("\n"), path)))
    if isinstance(first.get("instructions"), list):
        return _parallel_lists_plan(text, pos, p, path)
    return RawRecords(path, p.name, [(_line_at(text, pos), first)])


def _string_records(records: list[tuple[int, Any]], path: str) -> Iterator[tuple[int, dict[str, str]]]:
    for line, value in records:
        if not isinstance(value, str):
            raise DataFormatError(
                f"expected a string prompt, got {type(value).__name__}", path=path, line=line
            )
        yield line, {"instruction": value}


def _parallel_lists_plan(text: str, pos: int, p: Path, path: str) -> RawRecords:
    """Bianchi et al.'s evaluation files: ``{"instructions": [...], "inputs": [...], "tags": [...]}``."""
    members, _ = _parse_object(text, pos)
    prompts, positions = members["instructions"]
    n = len(prompts)
    columns: dict[str, list[Any]] = {}
    for key, (value, _) in members.items():
        if key == "instructions" or (key == "inputs" and value == []):
            continue
        if not isinstance(value, list) or len(value) != n:
            size = f"{len(value)} items" if isinstance(value, list) else type(value).__name__
            raise DataFormatError(
                f"expected a list of {n} items parallel to 'instructions', got {size}",
                path=path,
                line=_line_at(text, pos),
                field=key,
            )
        columns["input" if key == "inputs" else key] = value
    records = []
    for i, line in enumerate(_lines_at(text, positions)):
        if not isinstance(prompts[i], str):
            kind = type(prompts[i]).__name__
            raise DataFormatError(
                f"expected a string, got {kind}", path=path, line=line, field="instructions"
            )
        records.append((line, {"instruction": prompts[i], **{k: col[i] for k, col in columns.items()}}))
    return RawRecords(path, p.name, records, layout=PROMPT_LIST_LAYOUT)


def _parse_array(text: str, pos: int) -> tuple[list[tuple[int, Any]], int]:
    """Decode the array at ``text[pos] == "["``; return (start offset, value) per element and the end."""
    items: list[tuple[int, Any]] = []
    pos = _WS.match(text, pos + 1).end()
    if text.startswith("]", pos):
        return items, pos + 1
    decode = _DECODER.raw_decode
    while True:
        value, end = decode(text, pos)
        items.append((pos, value))
        pos = _WS.match(text, end).end()
        delimiter = text[pos : pos + 1]
        if delimiter == "]":
            return items, pos + 1
        if delimiter != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _WS.match(text, pos + 1).end()


def _parse_object(text: str, pos: int) -> tuple[dict[str, tuple[Any, list[int]]], int]:
    """Decode the (already validated) object at ``pos``, keeping element offsets of arrays."""
    out: dict[str, tuple[Any, list[int]]] = {}
    pos = _WS.match(text, pos + 1).end()
    while not text.startswith("}", pos):
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _WS.match(text, _WS.match(text, pos).end() + 1).end()  # skip ':'
        if text.startswith("[", pos):
            items, pos = _parse_array(text, pos)
            out[key] = ([v for _, v in items], [p for p, _ in items])
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            out[key] = (value, [])
        pos = _WS.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()
    return out, pos + 1


def _expect_end(text: str, end: int, what: str) -> None:
    end = _WS.match(text, end).end()
    if end < len(text):
        raise json.JSONDecodeError(f"Extra data after the JSON {what}", text, end)


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _lines_at(text: str, positions: list[int]) -> list[int]:
    lines, line, last = [], 1, 0
    for pos in positions:
        line += text.count("\n", last, pos)
        last = pos
        lines.append(line)
    return lines


# -- CSV ----------------------------------------------------------------------------------------


def csv_table(p: Path, guard: ReadGuard, delimiter: str, prompt_list: bool) -> RawRecords:
    """Records of a CSV/TSV file with a header row, each with the line where it starts.

    ``p`` and ``guard`` as in :func:`jsonl_file_records`; ``delimiter`` is ``","`` or
    ``"\\t"``; ``prompt_list`` reads a one-column file whose first line names no known
    column as a prompt list without a header (AdvBench's ``harmful_behaviors.csv``).

    Notes
    -----
    Parsed with ``csv.reader(strict=True)``, so an unterminated quote or a stray quote is
    an error; a record whose field count differs from the header's is an error too.
    """
    path = guard.path
    fh = open(p, "rb")  # noqa: SIM115 - closed by _csv_records once the rows are consumed
    reader = csv.reader(_lines(fh, guard), delimiter=delimiter, strict=True)
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as err:
        fh.close()
        raise DataFormatError(f"malformed CSV header: {err}", path=path, line=reader.line_num) from None
    if header is None:
        fh.close()
        raise DataFormatError("no records found (empty file)", path=path, line=1)
    header_line = reader.line_num
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        fh.close()
        raise DataFormatError(
            f"duplicate column name(s) {dupes}", path=path, line=header_line, field=dupes[0]
        )
    headerless = prompt_list and len(header) == 1 and header[0] not in INSTRUCTION_KEYS
    records = _csv_records(fh, reader, header, header_line, path, headerless)
    if headerless:  # AdvBench: one column of prompts, no header row
        return RawRecords(path, p.name, records, layout=PROMPT_LIST_LAYOUT, strings=True)
    return RawRecords(path, p.name, records, strings=True, header_line=header_line)


def _csv_records(
    fh: BinaryIO, reader: Any, header: list[str], header_line: int, path: str, headerless: bool
) -> Iterator[tuple[int, dict[str, str]]]:
    with fh:
        if headerless:
            yield header_line, {"instruction": header[0]}
        columns = ["instruction"] if headerless else header
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataFormatError(f"malformed CSV: {err}", path=path, line=start) from None
            if row:
                if len(row) != len(columns):
                    raise DataFormatError(
                        f"expected {len(columns)} columns as in the header, found {len(row)}",
                        path=path,
                        line=start,
                    )
                yield start, dict(zip(columns, row, strict=True))
            start = reader.line_num + 1
