"""Harm categories from an OpenAI-compatible chat endpoint (a guard model, a judge LLM).

:class:`JudgeCategoryLabeller` sends each prompt with the taxonomy's names and
descriptions and asks for a comma-separated list of category names;
:func:`parse_category_list` reads the answer. The output shape, ``list[list[str]]``, is
the one :class:`~safetymix.label.category.EmbeddingCategoryLabeller` gives.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from safetymix.errors import SafetymixError, redact
from safetymix.label.chat_http import ChatEndpoint, message_content
from safetymix.label.taxonomy import Taxonomy, load_taxonomy
from safetymix.schema import Example

logger = logging.getLogger(__name__)

__all__ = ["JudgeCategoryLabeller", "parse_category_list"]

_NONE_WORDS = {"none", "n/a", "na", "no", "nothing", "safe", "no_category", "no_categories", "null", "empty"}
_FILLER_WORDS = {"and", "or", "also", "category", "categories", "the", "answer", "labels", "label"}
_SEP = re.compile(r"[,;\n|/]+")


def _norm(text: str) -> str:
    text = text.lower().replace("&", " and ")
    text = re.sub(r"\s*,\s*", ",", text)
    return re.sub(r"[\s\-]+", "_", text)


def _aliases(names: Sequence[str]) -> list[tuple[str, str]]:
    """(normalised alias, category) pairs, longest alias first.

    Aliases are the full name and each comma-separated part of it that belongs to one
    category only (``"politics"`` -> ``"controversial_topics,politics"``).
    """
    pairs = {_norm(n): n for n in names}
    parts: dict[str, set[str]] = {}
    for n in names:
        for part in _norm(n).split(","):
            if len(part) >= 4:
                parts.setdefault(part, set()).add(n)
    for part, owners in parts.items():
        if len(owners) == 1 and part not in pairs:
            pairs[part] = next(iter(owners))
    return sorted(pairs.items(), key=lambda kv: (-len(kv[0]), kv[0]))


def parse_category_list(text: str, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Parse a judge's answer into category names.

    Matching is case-insensitive, treats spaces, hyphens and underscores alike, finds
    full names first (BeaverTails names contain commas) and then unique parts of names.
    Whatever is left between separators and is not a filler word or "none" is unknown.

    Parameters
    ----------
    text : str
        The model's answer, e.g. ``"animal_abuse, Violence, aiding and abetting, incitement"``.
    names : sequence of str
        The taxonomy's category names.

    Returns
    -------
    labels : list of str
        Known categories in order of first mention, without repeats.
    unknown : list of str
        Pieces that matched no category.

    Examples
    --------
    >>> parse_category_list("Self-harm; banana", ["self_harm", "animal_abuse"])
    (['self_harm'], ['banana'])
    """
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.S)
    norm = _norm(text)
    hits: list[tuple[int, str]] = []
    for alias, cat in _aliases(names):
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])")
        for m in pattern.finditer(norm):
            hits.append((m.start(), cat))
        norm = pattern.sub(lambda m: "," + " " * (len(m.group(0)) - 1), norm)
    hits.sort()
    labels = list(dict.fromkeys(cat for _, cat in hits))
    unknown = []
    for piece in _SEP.split(norm):
        piece = re.sub(r"^[\s_*\-.\d)(\"'`\[\]]+|[\s_*\-.\"'`\[\]:]+$", "", piece).strip()
        words = [w for w in piece.replace(" ", "_").split("_") if w]
        if not words or piece in _NONE_WORDS or all(w in _FILLER_WORDS for w in words):
            continue
        unknown.append(piece)
    return labels, unknown


_SYSTEM_PROMPT = (
    "You are a content-safety classifier. Given a user request, list every harm category "
    "below that the request falls under.\n\nCategories:\n{categories}\n\n"
    "Answer with the category names only, exactly as written above, separated by commas, "
    "most relevant first. Answer 'none' if no category applies."
)


@dataclass(eq=False, repr=False, kw_only=True)
class JudgeCategoryLabeller(ChatEndpoint):
    """Harm categories from an OpenAI-compatible chat endpoint (guard model or judge LLM).

    Each distinct prompt is sent once, with the taxonomy's names and descriptions in the
    system message, to ``{base_url}/chat/completions``; the answer is parsed by
    :func:`parse_category_list`. Requests run concurrently (``concurrency`` at a time)
    and are retried on HTTP 429 and 5xx and on connection errors with exponential backoff
    (``Retry-After`` is honoured; see :mod:`safetymix.label.chat_http`).

    Parameters
    ----------
    base_url, model, api_key_env, concurrency, max_retries, timeout, backoff, max_tokens
        The endpoint options of :class:`~safetymix.label.chat_http.ChatEndpoint`, except
        that ``max_retries`` defaults to 4 and ``max_tokens`` to 64 (a few category
        names), and that a named but unset ``api_key_env`` variable warns and sends no key.
    taxonomy : str, Path or Taxonomy
        Default ``"beavertails"``.
    temperature : float
        Sampling temperature (default 0.0, for repeatable answers).
    skip_benign : bool
        Return ``[]`` without a request for ``harmful_request is False`` (default True).

    Attributes
    ----------
    unknown_counts_ : Counter
        After :meth:`label`: answer pieces that matched no category, with counts.
    """

    taxonomy: str | Path | Taxonomy = "beavertails"
    max_retries: int = 4
    temperature: float = 0.0
    max_tokens: int = 64
    skip_benign: bool = True

    def build_messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages sent for one prompt."""
        tax = load_taxonomy(self.taxonomy)
        listing = "\n".join(f"- {n}: {d}" for n, d in zip(tax.names, tax.descriptions, strict=True))
        return [
            {"role": "system", "content": _SYSTEM_PROMPT.format(categories=listing)},
            {"role": "user", "content": prompt},
        ]

    def label(self, examples: Sequence[Example], *, show_progress: bool = False) -> list[list[str]]:
        """Harm categories of each example, in the judge's order.

        Parameters
        ----------
        examples : sequence of Example
        show_progress : bool
            Log progress every 10% at INFO level (default False).

        Returns
        -------
        list of list of str
            One list per example; ``[]`` when the judge answered "none" or named no known
            category (each unknown name is counted in ``unknown_counts_`` and one warning
            gives the total).

        Raises
        ------
        ConfigError
            An option out of range (:meth:`~safetymix.label.chat_http.ChatEndpoint.check`).
        SafetymixError
            A request failed after all retries or was refused
            (:class:`~safetymix.label.chat_http.ChatRequestError`), or the answer had no
            message content.
        """
        names = load_taxonomy(self.taxonomy).names
        todo = list(
            dict.fromkeys(
                ex.prompt for ex in examples if not (self.skip_benign and ex.harmful_request is False)
            )
        )
        chats = [self.build_messages(prompt) for prompt in todo]
        progress = "judge" if show_progress else None
        responses = self.answers(chats, temperature=self.temperature, progress=progress, missing_key="warn")
        self.unknown_counts_: Counter[str] = Counter()
        parsed: dict[str, list[str]] = {}
        for prompt, resp in zip(todo, responses, strict=True):
            answer = message_content(resp)
            if answer is None:
                raise SafetymixError(
                    redact(f"{self.url} answered 200 without choices[0].message.content: {resp.text[:200]!r}")
                )
            labels, unknown = parse_category_list(answer, names)
            parsed[prompt] = labels
            self.unknown_counts_.update(unknown)
        n_unknown = sum(self.unknown_counts_.values())
        if n_unknown:
            warnings.warn(
                f"the judge named {n_unknown} unknown categories (dropped): "
                + ", ".join(f"{k!r} x{v}" for k, v in self.unknown_counts_.most_common(5)),
                RuntimeWarning,
                stacklevel=2,
            )
        return [
            [] if self.skip_benign and ex.harmful_request is False else list(parsed[ex.prompt])
            for ex in examples
        ]
