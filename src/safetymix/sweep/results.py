"""Cell result files: their metric blocks (from an eval report), validation, reading them back.

``RUN_DIR/cells/<cell_id>.json`` holds one cell: ``cell_id``, ``status`` (``"ok"`` or
``"failed"``), ``error``, ``params``, ``selection``, ``mix``, ``train``, ``metrics``,
``per_category``, ``seconds`` and ``notes``. Metrics are pooled over the suites of each kind:

- ``harmful_refusal``: refusal rate on harmful suites (Wilson interval);
- ``harmfulness``: the harm judge's harmful rate when one gives it, else 1 - refusal rate
  (interval flipped); ``source`` says which;
- ``over_refusal``: refusal rate on over-refusal suites;
- ``helpfulness``: mean reward (``kind: "reward"``) or mean loss on reference responses
  (``kind: "loss"``) of helpfulness suites (bootstrap interval).

A metric whose suites are not configured is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from safetymix.errors import DataFormatError

CELLS_DIR = "cells"
SWEEP_FILE = "sweep.json"
WORK_DIR = "work"


def cell_path(run_dir: str | Path, cell_id: str) -> Path:
    """``RUN_DIR/cells/<cell_id>.json``."""
    return Path(run_dir) / CELLS_DIR / f"{cell_id}.json"


def items_path(run_dir: str | Path, cell_id: str) -> Path:
    """``RUN_DIR/cells/<cell_id>.items.jsonl``: the cell's per-prompt records."""
    return Path(run_dir) / CELLS_DIR / f"{cell_id}.items.jsonl"


# -- metrics from an eval report ----------------------------------------------------------------


def _rate(summary: dict[str, Any] | None, key: str = "rate") -> dict[str, Any] | None:
    """A rate summary (or, ``key="mean"``, a mean summary) as a cell's metric block."""
    if not summary or summary.get(key) is None:
        return None
    return {
        "value": summary[key],
        "low": summary["ci_low"],
        "high": summary["ci_high"],
        "n": summary["n_judged"],
    }


def _flipped(metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": 1.0 - metric["value"],
        "low": 1.0 - metric["high"],
        "high": 1.0 - metric["low"],
        "n": metric["n"],
    }


def cell_metrics(report: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``metrics`` and ``per_category`` blocks of a cell from an evaluation report.

    Parameters
    ----------
    report : dict
        What :func:`safetymix.eval.evaluate` returns.

    Returns
    -------
    metrics : dict
        See the module docstring.
    per_category : dict
        ``{"harmfulness": {category: {value, low, high, n}}, "harmful_refusal": {...}}``:
        harmful suites pooled by category (counts added across suites, Wilson interval).
    """
    from safetymix.eval.stats import wilson_interval

    summary = report.get("summary", {})
    harmful = summary.get("harmful", {}).get("metrics", {})
    metrics: dict[str, Any] = {}
    refusal = _rate(harmful.get("refusal_rate"))
    judged_harm = _rate(harmful.get("harmful_rate"))
    if refusal is not None:
        metrics["harmful_refusal"] = refusal
    if judged_harm is not None:
        metrics["harmfulness"] = {**judged_harm, "source": "harm judge"}
    elif refusal is not None:
        metrics["harmfulness"] = {**_flipped(refusal), "source": "1 - refusal rate"}
    over = _rate(summary.get("over-refusal", {}).get("metrics", {}).get("refusal_rate"))
    if over is not None:
        metrics["over_refusal"] = over
    # Extra judges' rates (metric[label] in the report), under the cell's names.
    for kind, name in (("harmful", "harmful_refusal"), ("over-refusal", "over_refusal")):
        for key, m in summary.get(kind, {}).get("metrics", {}).items():
            base, _, label = key.partition("[")
            if label and base in ("refusal_rate", "harmful_rate") and _rate(m) is not None:
                cell_name = name if base == "refusal_rate" else "harmfulness"
                metrics[f"{cell_name}[{label}"] = _rate(m)
    helpful = summary.get("helpfulness", {}).get("metrics", {})
    for kind, higher in (("reward", True), ("loss", False)):
        if (m := _rate(helpful.get(kind), "mean")) is not None:
            metrics["helpfulness"] = {**m, "kind": kind, "higher_is_better": higher}
            break

    # Pool the harmful suites by category: add the counts, then one Wilson interval each.
    use_judge = judged_harm is not None
    counts: dict[str, dict[str, list[int]]] = {"harmfulness": {}, "harmful_refusal": {}}

    def add(metric: str, cat: str, k: int, n: int) -> None:
        c = counts[metric].setdefault(cat, [0, 0])
        c[0], c[1] = c[0] + k, c[1] + n

    for suite in report.get("suites", {}).values():
        if suite.get("kind") != "harmful":
            continue
        for cat, m in suite["metrics"].get("per_category", {}).items():
            ref = m.get("refusal_rate")
            if ref and ref["n_judged"]:
                add("harmful_refusal", cat, ref["count"], ref["n_judged"])
            harm = m.get("harmful_rate") if use_judge else None
            if harm and harm["n_judged"]:
                add("harmfulness", cat, harm["count"], harm["n_judged"])
            elif not use_judge and ref and ref["n_judged"]:
                add("harmfulness", cat, ref["n_judged"] - ref["count"], ref["n_judged"])
    per_category: dict[str, Any] = {}
    for metric, cats in counts.items():
        if not cats:
            continue
        per_category[metric] = {}
        for cat in sorted(cats):
            k, n = cats[cat]
            low, high = wilson_interval(k, n)
            per_category[metric][cat] = {"value": k / n, "low": low, "high": high, "n": n}
    return metrics, per_category


def cell_agreement(report: dict[str, Any]) -> dict[str, Any] | None:
    """Judge agreement of a cell's evaluation: ``{"pooled": {kind: block}, "suites": {suite: block}}``
    (blocks of :func:`safetymix.eval.agreement.judge_agreement`); None with fewer than two judges."""
    pooled = {k: v["agreement"] for k, v in report.get("summary", {}).items() if "agreement" in v}
    suites = {k: v["agreement"] for k, v in report.get("suites", {}).items() if "agreement" in v}
    return {"pooled": pooled, "suites": suites} if pooled or suites else None


# -- validation -----------------------------------------------------------------------------------


class _Metric(BaseModel):
    model_config = ConfigDict(extra="allow")

    value: float
    low: float
    high: float
    n: int


class _Error(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    message: str
    traceback: str


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    strategy: str
    label: str
    strategy_params: dict[str, Any]
    budget: int
    seed: int


class _Selection(BaseModel):
    model_config = ConfigDict(extra="allow")

    summary: dict[str, Any]
    picks: list[dict[str, Any]]


class CellRecord(BaseModel):
    """Schema of a cell result file (what :func:`load_cells` checks)."""

    model_config = ConfigDict(extra="allow")

    cell_id: str
    status: Literal["ok", "failed"]
    error: _Error | None
    params: _Params
    selection: _Selection | None
    mix: dict[str, Any] | None
    train: dict[str, Any] | None
    metrics: dict[str, _Metric] | None
    per_category: dict[str, dict[str, dict[str, Any]]] | None
    seconds: dict[str, float]

    @model_validator(mode="after")
    def _complete(self) -> CellRecord:
        if self.status == "ok":
            missing = [
                k
                for k in ("selection", "mix", "train", "metrics", "per_category")
                if getattr(self, k) is None
            ]
            if missing or self.error is not None:
                raise ValueError(f"an 'ok' cell needs {missing} and no error")
        elif self.error is None:
            raise ValueError("a 'failed' cell needs its error")
        return self


def read_cell(path: str | Path) -> dict[str, Any]:
    """Read and validate one cell file.

    Raises
    ------
    DataFormatError
        Unreadable JSON, a record that does not match :class:`CellRecord`, or a file name
        that is not its ``cell_id``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"cannot read cell result: {exc}", path=path) from exc
    try:
        CellRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or None
        raise DataFormatError(f"not a cell result: {err['msg']}", path=path, field=where) from exc
    if data["cell_id"] != path.stem:
        raise DataFormatError(f"cell_id {data['cell_id']!r} does not match the file name", path=path)
    return data


def load_cells(run_dir: str | Path, *, current_only: bool = True) -> list[dict[str, Any]]:
    """Every cell result of a sweep, validated, sorted by cell id.

    Parameters
    ----------
    run_dir : str or Path
        The sweep's run folder (holds ``sweep.json`` and ``cells/``).
    current_only : bool, default True
        Only the cells of the grid in ``sweep.json`` (a run folder can also hold cells of
        an earlier grid); False returns every cell file.

    Returns
    -------
    list of dict
        One record per cell (``"ok"`` and ``"failed"``), as written.

    Raises
    ------
    DataFormatError
        No ``cells/`` folder, or a cell file that is not a valid result.

    Examples
    --------
    >>> cells = load_cells("runs/demo")  # doctest: +SKIP
    >>> [c["metrics"]["harmfulness"]["value"] for c in cells if c["status"] == "ok"]  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    folder = run_dir / CELLS_DIR
    if not folder.is_dir():
        raise DataFormatError("no cell results here (is it a sweep run folder?)", path=folder)
    wanted: set[str] | None = None
    sweep_file = run_dir / SWEEP_FILE
    if current_only and sweep_file.is_file():
        try:
            wanted = {c["cell_id"] for c in json.loads(sweep_file.read_text(encoding="utf-8"))["cells"]}
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataFormatError(f"cannot read the cell list: {exc}", path=sweep_file) from exc
    records = [
        read_cell(p)
        for p in sorted(folder.glob("*.json"))
        if not p.name.startswith(".") and (wanted is None or p.stem in wanted)
    ]
    return sorted(records, key=lambda r: r["cell_id"])
