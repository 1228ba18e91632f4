"""Behaviour flags: three per instruction-response pair, then a T1-T4 type.

Every labeller gives each :class:`~safetymix.schema.Example` three flags, as WildGuard
does (Han et al. 2024): is the request harmful, is the response a refusal, is the response
harmful. ``None`` means the labeller could not tell. :func:`apply_behaviour` writes the
flags and the behaviour type (:func:`~safetymix.schema.behaviour_from_flags`) into copies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from safetymix.schema import Example, behaviour_from_flags

FLAGS: tuple[str, ...] = ("harmful_request", "refusal", "harmful_response")


@dataclass(frozen=True, slots=True)
class BehaviourFlags:
    """The three behaviour flags of one pair; ``None`` means "could not tell"."""

    harmful_request: bool | None
    refusal: bool | None
    harmful_response: bool | None
    #: Probability of each flag where the labeller gives one (``{flag: p}``); else None.
    #: Not part of equality: two labellings with the same flags are the same labels.
    proba: Mapping[str, float] | None = dataclasses.field(default=None, compare=False)

    @property
    def behaviour(self) -> str:
        """``"T1"``..``"T4"`` or ``"unknown"`` (see :func:`~safetymix.schema.behaviour_from_flags`)."""
        return behaviour_from_flags(self.harmful_request, self.refusal)


class BehaviourLabeller:
    """Base class: the constructor only stores parameters; :meth:`label` does the work."""

    name: ClassVar[str] = ""

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[BehaviourFlags]:
        """Return one :class:`BehaviourFlags` per example, in order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


def apply_behaviour(examples: Sequence[Example], flags: Sequence[BehaviourFlags]) -> list[Example]:
    """Copies of ``examples`` with the three flags and the behaviour type filled in.

    Raises
    ------
    ValueError
        When the two sequences differ in length.
    """
    if len(examples) != len(flags):
        raise ValueError(f"apply_behaviour got {len(examples)} examples but {len(flags)} flags")
    out = []
    for ex, f in zip(examples, flags, strict=True):
        out.append(
            dataclasses.replace(
                ex,
                harmful_request=f.harmful_request,
                refusal=f.refusal,
                harmful_response=f.harmful_response,
                behaviour=behaviour_from_flags(f.harmful_request, f.refusal),
                extra=dict(ex.extra),
            )
        )
    return out
