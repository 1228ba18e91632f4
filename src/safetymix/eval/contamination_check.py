"""Refuse to score a model on prompts it was trained on.

The training set comes from ``--train`` files and/or a mix manifest (``--manifest``, the
``<mix>.manifest.json`` that ``safetymix mix`` writes: its ``inputs`` name the benign set
and the safety picks). Every suite prompt is compared with every training prompt by
:func:`safetymix.contamination.find_overlaps` (exact after normalisation, or embedding
cosine >= threshold).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.contamination import EvalPrompt, find_overlaps
from safetymix.errors import ContaminationError, DataFormatError
from safetymix.eval.suites import EvalItem
from safetymix.schema import Example


def manifest_inputs(manifest: str | Path) -> list[dict[str, Any]]:
    """The mix file a mix manifest names: ``[{"role": "mix", "path", "sha256", "sha256_matches",
    "overridden"}]``.

    The check runs on the training file itself (the manifest's ``output``), not on the
    inputs it was mixed from, which may have been edited since. A relative path is looked up
    from the working directory, then from the manifest's folder. A mix whose sha256 differs
    from the recorded one is used with a ``RuntimeWarning``. ``overridden`` is True when the
    mix was written with ``--allow-contamination`` despite matches.

    Raises
    ------
    DataFormatError
        Unreadable manifest, no ``output`` entry, or a mix file that cannot be found.
    """
    from safetymix.io import sha256_file

    mpath = Path(manifest)
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise DataFormatError(f"cannot read the mix manifest: {exc}", path=manifest) from None
    entry = data.get("output") if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise DataFormatError("the manifest has no 'output.path' (is it a mix manifest?)", path=manifest)
    candidates = [Path(entry["path"]), mpath.parent / Path(entry["path"]).name]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = ", ".join(str(c) for c in candidates)
        raise DataFormatError(f"the mix file is not found (tried {tried})", path=manifest, field="output")
    digest = sha256_file(found)
    matches = entry.get("sha256") in (None, digest)
    if not matches:
        warnings.warn(
            f"{found} changed since the mix was written (sha256 differs from {mpath.name}); "
            "checking contamination against its current content",
            RuntimeWarning,
            stacklevel=2,
        )
    contamination = data.get("contamination") if isinstance(data.get("contamination"), dict) else {}
    overridden = bool(contamination.get("overridden"))
    return [
        {
            "role": "mix",
            "path": str(found),
            "sha256": digest,
            "sha256_matches": matches,
            "overridden": overridden,
        }
    ]


def read_training_set(train: Sequence[str], manifest: str | None) -> tuple[list[Example], dict[str, Any]]:
    """Training examples from ``train`` files and a manifest's inputs, and what was read.

    Returns
    -------
    examples : list of Example
    sources : dict
        ``{"train_files": [...], "manifest": path or None, "manifest_inputs": [...]}``.
    """
    from safetymix.io import read_examples, sha256_file

    files = [{"role": "train", "path": str(p), "sha256": sha256_file(p)} for p in train]
    m_inputs = manifest_inputs(manifest) if manifest else []
    examples: list[Example] = []
    for entry in files + m_inputs:
        # Mixed sets repeat upsampled picks; the check needs each prompt once.
        examples += read_examples(entry["path"], allow_missing_response=True, duplicates="drop")
    return examples, {"train_files": files, "manifest": manifest, "manifest_inputs": m_inputs}


def check_contamination(
    items: Sequence[EvalItem],
    train: Sequence[str] = (),
    manifest: str | None = None,
    *,
    threshold: float = 0.95,
    embedding_model: str | None = None,
    allow: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Compare every suite prompt with the training set; raise on overlap unless allowed.

    Parameters
    ----------
    items : sequence of EvalItem
        The prompts to be evaluated.
    train : sequence of str
        Training files (any format :func:`safetymix.io.read_examples` reads).
    manifest : str, optional
        A mix manifest whose inputs are the training set.
    threshold : float
        Embedding cosine of a near duplicate (default 0.95).
    embedding_model : str, optional
        Model of the near-duplicate test; default the package's embedding model.
    allow : bool
        Record the overlaps instead of raising (``--allow-contamination``).

    Returns
    -------
    dict
        ``checked``, the training sources, ``n_train``, ``n_eval_prompts``, ``threshold``,
        ``matches`` (each pair), ``n_matches``, ``overridden``, ``contaminated_suites``.

    Raises
    ------
    ContaminationError
        When a pair matches and ``allow`` is False.
    """
    if not train and not manifest:
        return {
            "checked": False,
            "reason": "no --train or --manifest given",
            "matches": [],
            "overridden": False,
        }
    from safetymix.embed import DEFAULT_MODEL, Encoder

    examples, sources = read_training_set(train, manifest)
    prompts = [EvalPrompt(it.prompt, it.suite, it.index) for it in items]
    encoder = Encoder(embedding_model or DEFAULT_MODEL, show_progress=show_progress)
    matches = find_overlaps(examples, prompts, threshold=threshold, encode=encoder.encode)
    report = {
        "checked": True,
        **sources,
        "n_train": len(examples),
        "n_eval_prompts": len(prompts),
        "threshold": threshold,
        "embedding_model": encoder.model,
        "n_matches": len(matches),
        "matches": matches,
        "contaminated_suites": sorted({m["eval_source"] for m in matches}),
        "overridden": bool(matches) and allow,
    }
    # A mix written with --allow-contamination stays contaminated for every later check.
    overridden_mix = any(m.get("overridden") for m in sources["manifest_inputs"])
    report["manifest_overridden"] = overridden_mix
    if overridden_mix and not matches and not allow:
        raise ContaminationError(
            [], note=f"{manifest} records that its mix was written with --allow-contamination"
        )
    if matches and not allow:
        raise ContaminationError(matches)
    return report
