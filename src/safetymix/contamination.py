"""Contamination guard: training prompts must not match evaluation prompts.

Every text a model is trained on that could carry an evaluation prompt is checked: the
prompt (instruction + input), the system prompt and every user and system turn of a
multi-turn conversation. Three tests:

- **exact**: equal after :func:`match_key`, which folds what does not change a prompt's
  meaning to a reader: Unicode NFKC, case, punctuation and spacing, look-alike letters
  from other scripts (the Unicode TR39 confusables table of the maintained
  ``confusable-homoglyphs`` package: Cyrillic ``а`` is Latin ``a``) and leetspeak
  (``h4ck``, ``k!ll``, ``$teal``: digits, and symbols before a letter, read as the letters
  they stand for, and ``i``/``l``/``1`` as one letter);
- **contained**: the whole evaluation prompt (4 words or more) appears, word for word
  after :func:`match_key`, inside a longer training text: a polite prefix or a long
  suffix does not hide it;
- **embedding**: a near duplicate by embedding cosine >= ``threshold`` (default 0.95),
  blocked on both sides (:func:`safetymix.select.search.max_similarity`), so memory stays
  linear in both sets.

Out of reach offline: a translation of an evaluation prompt into another language (the
multilingual embedding models that would catch it are not bundled).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safetymix.schema import Example

DEFAULT_THRESHOLD = 0.95
#: Shortest evaluation prompt (in words) looked for inside longer training texts.
MIN_CONTAINED_WORDS = 4
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
# Leetspeak: a symbol that stands for a letter when a word character follows it.
_LEET_SYMBOLS = re.compile(r"[@$!|+](?=\w)")
_LEET = str.maketrans({"@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "0": "o", "1": "i", "3": "e"})
_LEET_DIGITS = str.maketrans({"4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "l": "i"})


def normalize_prompt(text: str) -> str:
    """NFKC, case-fold, drop punctuation, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Character -> ASCII look-alike, from Unicode's confusables (TR39) as packaged."""
    import json
    from importlib import resources

    data = json.loads((resources.files("confusable_homoglyphs") / "confusables.json").read_text("utf-8"))
    table = {}
    for char, homoglyphs in data.items():
        if len(char) == 1 and not char.isascii():
            ascii_ = [
                h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()
            ]
            if ascii_:
                table[char] = ascii_[0]
    return table


def match_key(text: str) -> str:
    """The form two prompts are compared in (see the module docstring); words joined by spaces."""
    table = _confusables()
    text = unicodedata.normalize("NFKC", text)
    text = "".join(table.get(c, c) for c in text).casefold()
    text = _LEET_SYMBOLS.sub(lambda m: m.group(0).translate(_LEET), text)
    text = _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()
    # digits read as letters everywhere: both sides fold the same way, so "3 eggs" still
    # equals "3 eggs", while "h0w c4n 1" equals "how can i"
    return text.translate(_LEET).translate(_LEET_DIGITS)


@dataclass(frozen=True, slots=True)
class EvalPrompt:
    """One evaluation prompt and where it came from (file and 1-based line)."""

    text: str
    source: str
    line: int


def training_texts(ex: Example) -> list[str]:
    """Every text of ``ex`` a model is trained to read: prompt, system prompt, user and system turns."""
    texts = [ex.prompt]
    system = ex.extra.get("system")
    if isinstance(system, str) and system.strip():
        texts.append(system)
    for key, role_key, content_key in (("conversations", "from", "value"), ("messages", "role", "content")):
        for turn in ex.extra.get(key) or ():
            if isinstance(turn, dict) and turn.get(role_key) in ("human", "user", "system"):
                content = turn.get(content_key)
                if isinstance(content, str) and content not in texts:
                    texts.append(content)
    return texts


def read_eval_prompts(path: str | Path) -> list[EvalPrompt]:
    """Evaluation prompts of a file in any supported layout, with the line of each record.

    Prompt sets (XSTest, AdvBench, Bianchi's JSON, .txt lists) and every training layout
    (alpaca, ShareGPT, messages, ...) are accepted; every user and system turn counts.
    """
    from safetymix.errors import DataFormatError
    from safetymix.io.readers import located_examples

    try:
        located = located_examples(path, "prompts")
    except DataFormatError as first:
        try:
            located = located_examples(path, None, allow_missing_response=True)
        except DataFormatError:
            raise first from None
    return [EvalPrompt(t, str(path), line) for line, ex in located for t in training_texts(ex)]


def _contained(
    keys: list[str], evals: Sequence[EvalPrompt], eval_keys: list[str]
) -> Iterator[tuple[int, int]]:
    """(train text index, eval index) where the eval prompt's words appear inside the text."""
    by_start: dict[tuple[str, ...], list[tuple[int, list[str]]]] = {}
    n = MIN_CONTAINED_WORDS
    for j, key in enumerate(eval_keys):
        words = key.split()
        if len(words) >= n:
            by_start.setdefault(tuple(words[:n]), []).append((j, words))
    if not by_start:
        return
    for i, key in enumerate(keys):
        words = key.split()
        for s in range(len(words) - n + 1):
            for j, target in by_start.get(tuple(words[s : s + n]), ()):
                if words[s : s + len(target)] == target:
                    yield i, j


def find_overlaps(
    train: Sequence[Example],
    evals: Sequence[EvalPrompt],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> list[dict]:
    """Every (training example, evaluation prompt) pair that matches.

    Parameters
    ----------
    train : sequence of Example
        Training examples; every text of :func:`training_texts` is compared.
    evals : sequence of EvalPrompt
        Evaluation prompts.
    threshold : float
        Cosine at or above which two prompts count as near duplicates (default 0.95).
        Pass ``float("inf")`` to skip the embedding test.
    encode : callable, optional
        ``encode(texts) -> (n, d)`` normalised embeddings; default :func:`safetymix.embed.embed`.

    Returns
    -------
    list of dict
        ``train_id, train_prompt, eval_source, eval_line, eval_prompt, kind, score``; one
        entry per training example (its best match): ``exact``, then ``contained``, then
        ``embedding``.
    """
    if not train or not evals:
        return []
    owner: list[int] = []
    texts: list[str] = []
    for i, ex in enumerate(train):
        for t in training_texts(ex):
            owner.append(i)
            texts.append(t)
    keys = [match_key(t) for t in texts]
    eval_keys = [match_key(e.text) for e in evals]
    exact_index: dict[str, int] = {}
    for j, k in enumerate(eval_keys):
        exact_index.setdefault(k, j)
    matches: dict[int, dict] = {}
    for t, k in enumerate(keys):
        j = exact_index.get(k)
        if j is not None and owner[t] not in matches:
            matches[owner[t]] = _match(train[owner[t]], texts[t], evals[j], "exact", 1.0)
    for t, j in _contained(keys, evals, eval_keys):
        if owner[t] not in matches:
            matches[owner[t]] = _match(train[owner[t]], texts[t], evals[j], "contained", 1.0)
    if np.isfinite(threshold):
        if encode is None:
            from safetymix.embed import embed as encode
        from safetymix.select.search import max_similarity

        tv = np.asarray(encode(texts))
        ev = np.asarray(encode([e.text for e in evals]))
        # Blocked on both sides: one tile of at most 16M floats, whatever the set sizes.
        best, arg = max_similarity(tv, ev, return_index=True)
        for t in np.flatnonzero(best >= threshold):
            i = owner[int(t)]
            if i not in matches:
                matches[i] = _match(train[i], texts[int(t)], evals[arg[t]], "embedding", float(best[t]))
    order = {"exact": 0, "contained": 1, "embedding": 2}
    return sorted(matches.values(), key=lambda m: (order[m["kind"]], -m["score"], m["train_id"]))


def _match(ex: Example, text: str, ev: EvalPrompt, kind: str, score: float) -> dict:
    return {
        "train_id": ex.id,
        "train_prompt": text,
        "eval_source": ev.source,
        "eval_line": ev.line,
        "eval_prompt": ev.text,
        "kind": kind,
        "score": round(score, 6),
    }
