"""Turn one raw record (a dict from any reader) into a validated :class:`Example`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from safetymix.errors import DataFormatError
from safetymix.io.formats import RESPONSE_KEYS, TURN_KEYS, Layout
from safetymix.io.labels import (
    CSV_WORDS,
    FLAG_ALIASES,
    FLAG_KEYS,
    FLAG_WORDS,
    SOFT_KEYS,
    has_labels,
)
from safetymix.schema import BEAVERTAILS_CATEGORIES, BEHAVIOURS, Example, content_id

_TAXONOMY_RANK = {name: i for i, name in enumerate(BEAVERTAILS_CATEGORIES)}
_NO_LABELS: dict[str, Any] = {"behaviour": None, **dict.fromkeys(FLAG_KEYS), "categories": None}


@dataclass
class RawRecords:
    """The raw records of one input, before parsing.

    Parameters
    ----------
    path : str
        The input, for error messages.
    source : str
        Default ``Example.source`` (the file name).
    records : iterable of (int, dict)
        Each record with its position: a 1-based line, or a 0-based row of a table.
    unit : {"line", "row"}
        What the positions count.
    layout : Layout, optional
        A fixed layout (bare prompt lists); None detects it from the first record.
    strings : bool
        Every value is a string (CSV), so labels are parsed from text.
    header_line : int, optional
        Line of the CSV header, where a layout error (unknown columns) is reported.
    """

    path: str
    source: str
    records: Iterable[tuple[int, Any]]
    unit: str = "line"
    layout: Layout | None = None
    strings: bool = False
    header_line: int | None = None


def located_error(
    message: str, path: str, unit: str, where: int, field: str | None = None
) -> DataFormatError:
    """A :class:`DataFormatError` at a 1-based line, at a 0-based table row (``"row N: ..."``),
    or (``unit="record"``, or ``where`` None) at no position."""
    if unit == "row" and where is not None:
        return DataFormatError(f"row {where}: {message}", path=path, field=field)
    return DataFormatError(message, path=path, line=where if unit == "line" else None, field=field)


_DROP_HINT = "pass duplicates='drop' to keep the first"


class DuplicateIds:
    """The duplicate-id rule of every reader, for one input.

    A second record of an id fails, unless its texts (instruction, input, response) equal
    the first one's and ``policy`` is ``"drop"``: then it is dropped and counted in
    :attr:`dropped`. Only each id and a hash of its texts are kept, never the texts.
    ``unit`` is what positions count (``"line"``, ``"row"``, or ``"record"`` for a count
    of records without a place in a file); ``hint`` says how to keep the first copy.
    """

    def __init__(self, policy: str, path: str, unit: str = "line", hint: str = _DROP_HINT) -> None:
        self.policy, self.path, self.unit, self.hint = policy, path, unit, hint
        self.first: dict[str, tuple[int, int]] = {}
        self.dropped = 0

    def keep(self, where: int, ex: Example) -> bool:
        """True for the first record of its id, False for a dropped copy; raises on a clash."""
        texts = hash((ex.instruction, ex.input, ex.response))
        first = self.first.get(ex.id)
        if first is None:
            self.first[ex.id] = (where, texts)
            return True
        same = first[1] == texts
        if same and self.policy == "drop":
            self.dropped += 1
            return False
        hint = f" (identical texts; {self.hint})" if same else ""
        msg = f"duplicate id {ex.id!r} at {self.unit} {first[0]} and {self.unit} {where}{hint}"
        raise located_error(msg, self.path, self.unit, where, "id")


@dataclass
class RecordParser:
    """Turn raw records of one file into validated :class:`Example` objects.

    Parameters
    ----------
    layout : Layout
        Where the texts live (from :func:`detect_layout`).
    path, source, unit, strings
        As in :class:`RawRecords` (``unit``: what the position passed to ``__call__`` counts).
    allow_missing_response : bool
        Give ``response=""`` instead of raising when a record has no response.
    prompts : bool
        Read a prompt set: the response is always ``""`` and any response key is dropped.
    """

    layout: Layout
    path: str
    source: str
    unit: str = "line"
    allow_missing_response: bool = False
    prompts: bool = False
    strings: bool = False
    _consumed: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lay = self.layout
        keys = {lay.instruction, lay.input, lay.turns, "id", "source", "behaviour", "categories"}
        keys.update(FLAG_KEYS)
        if self.prompts:
            keys.add(lay.response)
        self._consumed = frozenset(k for k in keys if k is not None)

    def error(self, message: str, where: int, field: str | None = None) -> DataFormatError:
        """A :class:`DataFormatError` located at record position ``where``."""
        return located_error(message, self.path, self.unit, where, field)

    def __call__(self, where: int, rec: Mapping[str, Any]) -> Example:
        """Validate one record and build its :class:`Example`."""
        lay = self.layout
        consumed = self._consumed
        extra_consumed: list[str] = []
        if lay.turns is not None:
            instruction, input_, response, turn_extra = self._turns(where, rec)
        else:
            turn_extra = {}
            instruction = self._text(where, rec, lay.instruction)
            input_ = ""
            if lay.input is not None and rec.get(lay.input) is not None:
                input_ = self._text(where, rec, lay.input)
            response = None
            if lay.response is not None and not self.prompts:
                if rec.get(lay.response) is not None:
                    response = self._text(where, rec, lay.response)
                elif not self.allow_missing_response:
                    what = "missing field" if lay.response not in rec else "null in field"
                    msg = f"{what} {lay.response!r} (allow_missing_response=True accepts prompt-only data)"
                    raise self.error(msg, where, lay.response)
                if lay.response in rec:
                    extra_consumed.append(lay.response)
        if not instruction.strip():
            raise self.error("empty instruction", where, lay.instruction or lay.turns)
        if response is None:
            response = self._missing_response(where)

        labels = self._labels(where, rec, extra_consumed) if has_labels(rec) else _NO_LABELS
        ex_id = self._id(where, rec, instruction, input_, response)
        source = self.source
        if "source" in rec:
            source = rec["source"]
            if self.strings:
                source = source or self.source
            elif source is not None and not isinstance(source, str):
                raise self.error(f"expected a string or null, got {_kind(source)}", where, "source")
        extra = {k: v for k, v in rec.items() if k not in consumed and k not in extra_consumed}
        extra.update(turn_extra)
        return Example(ex_id, instruction, input_, response, source=source, extra=extra, **labels)

    # -- pieces ---------------------------------------------------------------------------------

    def _missing_response(self, where: int) -> str:
        if self.prompts or self.allow_missing_response:
            return ""
        lay = self.layout
        if lay.prompts_only:
            msg = "this file is a prompt list without responses"
        elif lay.turns is not None:
            msg = "no assistant turn after the user turn"
        else:
            msg = f"no response field (expected one of {', '.join(RESPONSE_KEYS)})"
        hint = "; use read_prompts() or allow_missing_response=True for prompt-only data"
        raise self.error(msg + hint, where, lay.response or lay.turns)

    def _text(self, where: int, rec: Mapping[str, Any], key: str) -> str:
        try:
            value = rec[key]
        except KeyError:
            raise self.error(f"missing field {key!r}", where, key) from None
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {_kind(value)}", where, key)
        return value

    def _turns(self, where: int, rec: Mapping[str, Any]) -> tuple[str, str, str | None, dict[str, Any]]:
        key = self.layout.turns
        assert key is not None
        role_key, content_key, roles = TURN_KEYS[key]
        turns = rec.get(key)
        if not isinstance(turns, list):
            raise self.error(f"expected a list of turns, got {_kind(turns)}", where, key)
        system = instruction = response = None
        used = 0
        for i, turn in enumerate(turns):
            name = f"{key}[{i}]"
            if not isinstance(turn, dict) or role_key not in turn or content_key not in turn:
                raise self.error(f"expected an object with {role_key!r} and {content_key!r}", where, name)
            role, content = turn[role_key], turn[content_key]
            if role not in roles:
                valid = ", ".join(roles)
                raise self.error(f"unknown role {role!r}; valid roles: {valid}", where, f"{name}.{role_key}")
            if not isinstance(content, str):
                raise self.error(f"expected a string, got {_kind(content)}", where, f"{name}.{content_key}")
            kind = roles[role]
            if kind == "system" and system is None and instruction is None:
                system, used = content, used + 1
            elif kind == "user" and instruction is None:
                instruction, used = content, used + 1
            elif kind == "assistant" and instruction is not None and response is None:
                response, used = content, used + 1
        if instruction is None:
            raise self.error("no user turn in the conversation", where, key)
        extra: dict[str, Any] = {}
        if system is not None:
            extra["system"] = system
        if used < len(turns):  # multi-turn: keep the whole conversation rather than lose turns
            extra[key] = turns
        if self.prompts:
            response = None
        return instruction, "", response, extra

    def _id(self, where: int, rec: Mapping[str, Any], instruction: str, input_: str, response: str) -> str:
        value = rec.get("id")
        if value is None or value == "":
            try:
                return content_id(instruction, input_, response)
            except UnicodeEncodeError:
                texts = {"instruction": instruction, "input": input_, "response": response}
                for name, text in texts.items():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError as err:
                        code = ord(text[err.start])
                        msg = f"lone surrogate U+{code:04X} at character {err.start + 1}: not a valid text"
                        raise self.error(msg, where, name) from None
                raise
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(f"expected a string or integer id, got {_kind(value)}", where, "id")
        return str(value)

    def _labels(self, where: int, rec: Mapping[str, Any], consumed: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        behaviour = rec.get("behaviour")
        if behaviour == "" and self.strings:
            behaviour = None
        if behaviour is not None and behaviour not in BEHAVIOURS:
            valid = ", ".join(BEHAVIOURS)
            raise self.error(f"unknown behaviour {behaviour!r}; valid: {valid} (or null)", where, "behaviour")
        out["behaviour"] = behaviour
        for flag, keys in FLAG_ALIASES.items():
            out[flag] = None
            for key in keys:
                if key not in rec:
                    continue
                value = self._flag(where, rec[key], key, flag, soft=key in SOFT_KEYS)
                if value is _NOT_A_FLAG:
                    continue
                if key != flag:
                    consumed.append(key)
                if value is not None:
                    out[flag] = value
                    break
        if out["harmful_response"] is None and "is_safe" in rec:  # BeaverTails, the paper's file
            is_safe = self._flag(where, rec["is_safe"], "is_safe", None)
            out["harmful_response"] = None if is_safe is None else not is_safe
            consumed.append("is_safe")
        if "categories" in rec:
            out["categories"] = self._categories(where, rec["categories"])
        elif "category" in rec and (self.strings or isinstance(rec["category"], dict)):
            out["categories"] = self._category(where, rec["category"])
            consumed.append("category")
        return out

    def _flag(
        self, where: int, value: Any, key: str, flag: str | None, *, soft: bool = False
    ) -> bool | None | object:
        """Parse one flag value; a ``soft`` key whose value is no flag gives :data:`_NOT_A_FLAG`."""
        if value is None or isinstance(value, bool):
            return value
        words = FLAG_WORDS.get(flag or "", {})
        if isinstance(value, str):
            text = value.strip().lower()
            if text in words:
                return words[text]
            if self.strings:
                if text == "":
                    return None
                if text in CSV_WORDS:
                    return CSV_WORDS[text]
        if soft:
            return _NOT_A_FLAG
        expected = "true/false/1/0 or empty" if self.strings else "true, false or null"
        shown = " or ".join(f'"{w}"' for w in words) if isinstance(value, str) else ""
        expected += f" (or {shown})" if shown else ""
        got = repr(value) if self.strings else _kind(value)
        raise self.error(f"expected {expected}, got {got}", where, key)

    def _categories(self, where: int, value: Any) -> list[str] | None:
        if self.strings and isinstance(value, str):
            if not value.strip():
                return None
            if value.lstrip().startswith("["):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as err:
                    raise self.error(f"malformed JSON list: {err.msg}", where, "categories") from err
            else:
                return [part.strip() for part in value.split(";") if part.strip()]
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise self.error(f"expected a list of strings or null, got {_kind(value)}", where, "categories")
        return value

    def _category(self, where: int, value: Any) -> list[str] | None:
        if isinstance(value, str):  # a CSV ``category`` column: one category per row
            return [value] if value.strip() else None
        if value is None:
            return None
        for name, flag in value.items():
            if not isinstance(flag, bool):
                raise self.error(f"expected true/false for {name!r}, got {_kind(flag)}", where, "category")
        chosen = [name for name, flag in value.items() if flag]
        return sorted(chosen, key=lambda c: (_TAXONOMY_RANK.get(c, len(_TAXONOMY_RANK)), c))


_NOT_A_FLAG = object()


def _kind(value: Any) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{type(value).__name__} ({shown})"
