"""Label a whole file chunk by chunk, in bounded memory, resuming a killed run.

:func:`label_file` first reads the input once to check every record and every id (a
truncated last line fails before any model runs), then labels it chunk by chunk and
appends each labelled chunk to ``<out>.partial``. After every chunk it records in
``<out>.partial.json`` how many records are done, together with a fingerprint of the input
(size, modification time, inode) and of the labelling settings. A rerun with the same
input and settings continues after the last finished chunk; anything else starts over.
When the last chunk is done, ``<out>.partial`` is renamed to ``out``: the same bytes
:func:`safetymix.io.write_examples` would write for the whole labelled list.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetymix import __version__
from safetymix.errors import redact
from safetymix.label.pool import label_pool, resolve_labeller
from safetymix.label.registry import LabellerSpec
from safetymix.schema import Example

logger = logging.getLogger(__name__)

#: ``label_chunk(examples) -> (labelled examples, label_pool-style report)``.
ChunkLabeller = Callable[[list[Example]], tuple[list[Example], dict[str, Any]]]


def local_chunk_labeller(behaviour: Any, category: Any, *, overwrite: bool = False) -> ChunkLabeller:
    """``label_chunk`` running :func:`~safetymix.label.label_pool` in this process.

    The labellers (names, specs or objects, as for ``label_pool``) are built once here, so
    their models load once for the whole file.
    """
    beh = resolve_labeller(behaviour, "behaviour") if behaviour is not None else None
    cat = resolve_labeller(category, "category") if category is not None else None

    def label_chunk(examples: list[Example]) -> tuple[list[Example], dict[str, Any]]:
        return label_pool(examples, behaviour_labeller=beh, category_labeller=cat, overwrite=overwrite)

    return label_chunk


def gold_refusal(value: object) -> bool | None:
    """Read a human refusal label: a bool, or XSTest's ``final_label`` strings
    (``2_full_refusal`` and ``3_partial_refusal`` are refusals, ``1_full_compliance`` is not)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if "refusal" in text:
        return True
    if "compliance" in text:
        return False
    return None


def checkpoint_paths(out: str | Path) -> tuple[Path, Path]:
    """``(<out>.partial, <out>.partial.json)``: the labelled records so far and their state."""
    out = Path(out)
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")


def describe_labeller(labeller: Any) -> Any:
    """A JSON-ready description of a labeller that is the same in every run with the same settings."""
    if labeller is None or isinstance(labeller, str):
        return labeller
    if isinstance(labeller, LabellerSpec):
        return labeller.describe()
    params = {k: redact(str(v)) for k, v in sorted(vars(labeller).items()) if not k.startswith("_")}
    return {"class": f"{type(labeller).__module__}.{type(labeller).__qualname__}", "params": params}


def label_file(
    path: str | Path,
    out: str | Path,
    *,
    behaviour_labeller: Any = "embedding",
    category_labeller: Any = "embedding",
    overwrite: bool = False,
    label_chunk: ChunkLabeller | None = None,
    chunk_size: int = 4096,
    gold: str | None = None,
    resume: bool = True,
    format: str | None = None,
    split: str | None = None,
    max_line_bytes: int | None = None,
    show_progress: bool = False,
    publish: bool = True,
) -> dict[str, Any]:
    """Label every record of ``path`` and write canonical JSONL to ``out``, chunk by chunk.

    Parameters
    ----------
    path : str or Path
        Any input :func:`safetymix.io.iter_chunks` reads. Ids must be unique.
    out : str or Path
        Labelled records, canonical JSONL, in input order.
    behaviour_labeller, category_labeller : str, LabellerSpec, labeller object or None
        As in :func:`~safetymix.label.label_pool`; built once for the whole file.
    overwrite : bool
        Relabel records that already carry labels (default False).
    label_chunk : callable, optional
        ``label_chunk(examples) -> (labelled, report)`` doing the labelling of one chunk,
        e.g. a distributed engine's (:meth:`safetymix.engine.RayEngine.chunk_labeller`);
        it must label as :func:`~safetymix.label.label_pool` with the two labellers would.
        Default: ``label_pool`` in this process.
    chunk_size : int
        Records per chunk (default 4096): the unit of memory, progress and resumption.
    gold : str, optional
        Field holding a human refusal label (:func:`gold_refusal`); the report then gives
        refusal accuracy against it.
    resume : bool
        Continue from ``<out>.partial`` when its state matches this input and these
        settings (default True); False always starts over.
    format, split, max_line_bytes
        As in :func:`safetymix.io.iter_chunks`.
    show_progress : bool
        Rich progress bars.
    publish : bool
        Rename ``<out>.partial`` to ``out`` at the end (default True). False leaves the
        finished file at ``<out>.partial`` for a :class:`~safetymix.io.RunRecord` to publish
        together with its sidecar.

    Returns
    -------
    dict
        The report: ``n_records``, ``resumed_from`` (records taken from a killed run),
        ``behaviour_labelled``, ``categories_labelled``, the labeller names,
        ``behaviour_counts`` and, with ``gold``, ``gold`` (``field``, ``n``, ``accuracy``,
        ``undecided``, ``missing``).

    Raises
    ------
    DataFormatError
        A bad record or a duplicate id (before any labelling), or the input changed while
        it was read.

    Examples
    --------
    >>> report = label_file("pool.jsonl", "pool.labelled.jsonl", chunk_size=1024)  # doctest: +SKIP
    >>> report["behaviour_counts"]  # doctest: +SKIP
    {'T1': 812, 'T2': 140, 'T3': 31, 'T4': 17}
    """
    from safetymix.io import DEFAULT_MAX_LINE_BYTES, FileSnapshot, scan_examples
    from safetymix.io.progress import progress_bar

    read: dict[str, Any] = {"format": format, "split": split}
    read["max_line_bytes"] = max_line_bytes or DEFAULT_MAX_LINE_BYTES
    snapshot = FileSnapshot.take(path) if Path(path).is_file() else None
    read["snapshot"] = snapshot
    with progress_bar("checking", None, enabled=show_progress) as advance:
        n = scan_examples(path, **read)
        advance(n)

    if label_chunk is None:
        label_chunk = local_chunk_labeller(behaviour_labeller, category_labeller, overwrite=overwrite)
    fingerprint = {
        "safetymix_version": __version__,
        "input": {"path": str(Path(path).resolve()), **(vars(snapshot) if snapshot else {})},
        "read": {"format": format, "split": split},
        "behaviour_labeller": describe_labeller(behaviour_labeller),
        "category_labeller": describe_labeller(category_labeller),
        "overwrite": overwrite,
        "gold": gold,
    }
    partial, state_path = checkpoint_paths(out)
    state = _load_state(state_path, partial, fingerprint) if resume else None
    if state is None:
        state = {"fingerprint": fingerprint, "n_done": 0, "bytes": 0, "counts": _new_counts()}
        partial.unlink(missing_ok=True)
    resumed_from = state["n_done"]
    if resumed_from:
        logger.info("%s: resuming after %d labelled records", out, resumed_from)
    counts = state["counts"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    try:
        _label_chunks(
            path, out, partial, state_path, state, n, label_chunk, chunk_size, read, gold, show_progress
        )
    except BaseException:
        if state["n_done"] == 0:  # nothing labelled (a dead endpoint): leave nothing behind
            partial.unlink(missing_ok=True)
            state_path.unlink(missing_ok=True)
        raise
    if publish:
        os.replace(partial, out)
    state_path.unlink(missing_ok=True)
    return _report(n, resumed_from, counts, gold)


def _label_chunks(
    path, out, partial, state_path, state, n, label_chunk, chunk_size, read, gold, show_progress
):
    from safetymix.io import iter_chunks, write_json
    from safetymix.io.progress import progress_bar
    from safetymix.io.writers import encode_example

    counts = state["counts"]
    resumed_from = state["n_done"]
    with open(partial, "ab") as fh, progress_bar("labelling", n, enabled=show_progress) as advance:
        fh.truncate(state["bytes"])  # drop a chunk torn by the kill
        fh.seek(state["bytes"])
        advance(resumed_from)
        seen = 0
        for chunk in iter_chunks(path, chunk_size=chunk_size, **read):
            todo = chunk[max(0, state["n_done"] - seen) :]
            seen += len(chunk)
            if not todo:
                continue
            labelled, rep = label_chunk(todo)
            for i, ex in enumerate(labelled):
                fh.write(encode_example(ex, "jsonl", path=out, line=state["n_done"] + i + 1))
            fh.flush()
            os.fsync(fh.fileno())
            _count(counts, labelled, rep, gold)
            state["n_done"] += len(labelled)
            state["bytes"] = fh.tell()
            write_json(state_path, state)
            advance(len(labelled))


def _new_counts() -> dict[str, Any]:
    return {
        "behaviour_labelled": 0,
        "categories_labelled": 0,
        "labellers": {},
        "label_origin": {},
        "behaviour": {},
        "gold": {"n": 0, "correct": 0, "undecided": 0, "missing": 0},
    }


def _count(counts: dict[str, Any], labelled: list[Example], rep: dict[str, Any], gold: str | None) -> None:
    counts["behaviour_labelled"] += rep.get("behaviour_labelled", 0)
    counts["categories_labelled"] += rep.get("categories_labelled", 0)
    for key in ("behaviour_labeller", "category_labeller"):
        if key in rep:
            counts["labellers"][key] = rep[key]
    origin = counts.setdefault("label_origin", {})
    for name, by_origin in rep.get("label_origin", {}).items():
        merged = Counter(origin.get(name, {}))
        merged.update(by_origin)
        origin[name] = dict(sorted(merged.items()))
    behaviour = Counter(counts["behaviour"])
    behaviour.update(str(e.behaviour) if e.behaviour is not None else "null" for e in labelled)
    counts["behaviour"] = dict(behaviour)
    if gold is not None:
        g = counts["gold"]
        for e in labelled:
            truth = gold_refusal(e.extra.get(gold))
            if truth is None:
                g["missing"] += 1
                continue
            g["n"] += 1
            g["correct"] += truth == e.refusal
            g["undecided"] += e.refusal is None


def _report(n: int, resumed_from: int, counts: dict[str, Any], gold: str | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "n_records": n,
        "resumed_from": resumed_from,
        "behaviour_labelled": counts["behaviour_labelled"],
        "categories_labelled": counts["categories_labelled"],
        **counts["labellers"],
        "label_origin": counts.get("label_origin", {}),
        "behaviour_counts": dict(sorted(counts["behaviour"].items())),
    }
    if gold is not None:
        g = counts["gold"]
        accuracy = round(g["correct"] / g["n"], 4) if g["n"] else None
        report["gold"] = {"field": gold, "n": g["n"], "accuracy": accuracy}
        report["gold"].update(correct=g["correct"], undecided=g["undecided"], missing=g["missing"])
    return report


def _load_state(state_path: Path, partial: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("fingerprint") != fingerprint:
        logger.warning("%s: input or settings differ from the interrupted run; starting over", state_path)
        return None
    if not partial.exists() or partial.stat().st_size < state.get("bytes", 0):
        return None
    return state
