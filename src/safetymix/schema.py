"""The canonical record, behaviour types and the BeaverTails taxonomy.

Every reader turns its format into :class:`Example`; every later stage reads and writes
only this shape. ``None`` in a label field means "not labelled yet", which is different
from a label of ``False`` or an empty category list.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Behaviour(str, Enum):
    """Behaviour type of an instruction-response pair (see DESIGN.md)."""

    T1 = "T1"  # harmful request + refusal
    T2 = "T2"  # harmful request + compliance (in a safe pool: explanation, correction)
    T3 = "T3"  # benign request + compliance
    T4 = "T4"  # benign request + refusal (teaches over-refusal)
    UNKNOWN = "unknown"


BEHAVIOURS: tuple[str, ...] = tuple(b.value for b in Behaviour)

#: BeaverTails' 14 harm categories, in their published order.
BEAVERTAILS_CATEGORIES: tuple[str, ...] = (
    "animal_abuse",
    "child_abuse",
    "controversial_topics,politics",
    "discrimination,stereotype,injustice",
    "drug_abuse,weapons,banned_substance",
    "financial_crime,property_crime,theft",
    "hate_speech,offensive_language",
    "misinformation_regarding_ethics,laws_and_safety",
    "non_violent_unethical_behavior",
    "privacy_violation",
    "self_harm",
    "sexually_explicit,adult_content",
    "terrorism,organized_crime",
    "violence,aiding_and_abetting,incitement",
)

#: Column order of the canonical record, as written to JSONL.
CANONICAL_FIELDS: tuple[str, ...] = (
    "id",
    "instruction",
    "input",
    "response",
    "behaviour",
    "refusal",
    "harmful_request",
    "harmful_response",
    "categories",
    "source",
)


def behaviour_from_flags(harmful_request: bool | None, refusal: bool | None) -> str:
    """Map the two flags to a behaviour type; any missing flag gives ``"unknown"``."""
    if harmful_request is None or refusal is None:
        return Behaviour.UNKNOWN.value
    if harmful_request:
        return Behaviour.T1.value if refusal else Behaviour.T2.value
    return Behaviour.T4.value if refusal else Behaviour.T3.value


def content_id(instruction: str, input: str, response: str) -> str:
    """Stable id from content: the first 16 hex digits of sha256 over the three texts."""
    payload = json.dumps([instruction, input, response], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class Example:
    """One instruction-response pair in canonical form.

    Parameters
    ----------
    id : str
        Stable identifier; readers give the content hash (:func:`content_id`) unless the
        file carries an id.
    instruction, input, response : str
        The request (instruction plus optional input) and the answer.
    behaviour : str or None
        ``"T1"``..``"T4"`` or ``"unknown"``; ``None`` when not labelled.
    refusal, harmful_request, harmful_response : bool or None
        The three behaviour flags; ``None`` when not labelled.
    categories : list of str or None
        Harm categories (multi-label); ``None`` when not labelled, ``[]`` for none.
    source : str or None
        Where the record came from (file name or data set name).
    """

    id: str
    instruction: str
    input: str = ""
    response: str = ""
    behaviour: str | None = None
    refusal: bool | None = None
    harmful_request: bool | None = None
    harmful_response: bool | None = None
    categories: list[str] | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The full request: instruction, then the input on a new line when there is one."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction

    def to_dict(self, *, with_extra: bool = True) -> dict[str, Any]:
        """Canonical fields in canonical order (plus ``extra`` keys after them)."""
        d = asdict(self)
        extra = d.pop("extra")
        out = {k: d[k] for k in CANONICAL_FIELDS}
        if with_extra:
            for k, v in extra.items():
                if k not in out:
                    out[k] = v
        return out


def make_example(
    instruction: str,
    response: str = "",
    input: str = "",
    id: str | None = None,
    **labels: Any,
) -> Example:
    """Build an :class:`Example`, giving it a content id when ``id`` is None."""
    return Example(
        id=id if id is not None else content_id(instruction, input, response),
        instruction=instruction,
        input=input,
        response=response,
        **labels,
    )
