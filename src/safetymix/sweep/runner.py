"""``run_sweep``: run every unfinished cell of the grid, each select -> mix -> train -> eval.

The parent process labels the pool (once) and selects each cell's picks; the rest of a cell
(mix, train, evaluate) runs in :func:`execute_cell`, in-process or in a spawned worker, and
ends by writing ``cells/<cell_id>.json`` through a temp file and a rename. A cell counts as
finished only when that file holds status ``"ok"``, so a sweep stopped at any point (Ctrl-C,
SIGKILL, a crash) resumes where it stopped: the half-written work folder of an interrupted
cell is removed and the cell runs again from scratch. A cell that raises is recorded with
status ``"failed"`` and its error, the sweep goes on, and the next run retries it.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetymix.errors import ConfigError, redact_json
from safetymix.io.manifest import record_header, write_json
from safetymix.io.progress import quiet_third_party_bars
from safetymix.schema import Example
from safetymix.sweep.cells import Cell
from safetymix.sweep.config import SweepConfig
from safetymix.sweep.plan import SweepInputs, plan_sweep
from safetymix.sweep.results import (
    SWEEP_FILE,
    WORK_DIR,
    cell_agreement,
    cell_metrics,
    cell_path,
    items_path,
    read_cell,
)
from safetymix.sweep.selection import build_pool, select_cell

#: Warning categories left out of a cell's notes (library deprecation chatter).
_QUIET = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
#: Characters of traceback kept in a failed cell's record.
_TRACEBACK_CHARS = 4000


def _error(exc: BaseException) -> dict[str, str]:
    tb = "".join(traceback.format_exception(exc))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": tb[-_TRACEBACK_CHARS:]}


def _record(cell: dict[str, Any], cell_id: str, **parts: Any) -> dict[str, Any]:
    """A cell result in the contract's key order; parts not reached stay None."""
    rec: dict[str, Any] = {"cell_id": cell_id, "status": "ok", "error": None, "params": cell}
    for key in ("selection", "mix", "train", "metrics", "per_category"):
        rec[key] = parts.get(key)
    if parts.get("agreement") is not None:
        rec["agreement"] = parts["agreement"]
    rec["seconds"] = parts.get("seconds", {})
    rec["notes"] = parts.get("notes", [])
    if parts.get("error") is not None:
        rec["status"], rec["error"] = "failed", parts["error"]
    return rec


# -- one cell: mix, train, evaluate (in-process or in a worker) ---------------------------------


def execute_cell(task: dict[str, Any], benign: Sequence[Example]) -> dict[str, Any]:
    """Mix, train and evaluate one selected cell; write and return its result record.

    Parameters
    ----------
    task : dict
        Plain data (it crosses a process boundary): ``run_dir``, ``cell_id``, ``cell``
        (params), ``selection``, ``picks`` (example dicts), ``seconds`` so far, the cell's
        ``train`` and ``eval`` fields, ``upsample``, ``check_contamination``,
        ``keep_models`` and ``write_items``.
    benign : sequence of Example
        The benign set.

    Returns
    -------
    dict
        The record written to ``cells/<cell_id>.json`` (status ``"ok"`` or ``"failed"``).
        Only ``Exception`` is recorded; ``KeyboardInterrupt`` stops the cell unrecorded.
    """
    from safetymix.eval import EvalConfig, evaluate
    from safetymix.io import atomic_write, write_examples
    from safetymix.mix import mix_examples
    from safetymix.train import TrainConfig, train

    run_dir, cell_id, cell = Path(task["run_dir"]), task["cell_id"], task["cell"]
    work = run_dir / WORK_DIR / cell_id
    if work.exists():
        shutil.rmtree(work)  # the half-written folder of an interrupted run of this cell
    seconds = dict(task["seconds"])
    parts: dict[str, Any] = {"selection": task["selection"], "seconds": seconds}
    notes: list[str] = []
    start = time.perf_counter()
    try:
        picks = [Example(**d) for d in task["picks"]]
        mixed = mix_examples(benign, picks, seed=cell["seed"], upsample=task["upsample"])
        n_safety = len(picks) * task["upsample"]
        parts["mix"] = {
            "n_benign": len(benign),
            "n_safety": n_safety,
            "safety_share": round(n_safety / len(mixed), 6),
        }
        train_config = TrainConfig(
            **task["train"], model=cell["model"], output_dir=str(work / "model"), seed=cell["seed"]
        )
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = train(train_config, examples=mixed)
        notes += [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, _QUIET)]
        parts["train"] = result.summary()
        seconds["train"] = round(time.perf_counter() - t, 3)
        del result  # the model is loaded again by evaluate; free this copy first
        gc.collect()
        eval_fields = dict(task["eval"], model=str(work / "model"))
        if task["check_contamination"]:
            mix_file = work / "mix.jsonl"
            write_examples(mix_file, mixed, format="jsonl")
            eval_fields["train"] = [str(mix_file)]
        t = time.perf_counter()
        with warnings.catch_warnings(), quiet_third_party_bars():  # the sweep has its own bar
            warnings.simplefilter("ignore")  # evaluate records its warnings in the report's notes
            report = evaluate(EvalConfig(**eval_fields))
        seconds["eval"] = round(time.perf_counter() - t, 3)
        notes += report["notes"]
        parts["metrics"], parts["per_category"] = cell_metrics(report)
        parts["agreement"] = cell_agreement(report)
        if task["write_items"]:
            with atomic_write(items_path(run_dir, cell_id)) as fh:
                for row in report["items"]:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    except Exception as exc:  # recorded in the cell's file; the sweep goes on
        parts["error"] = _error(exc)
    finally:
        if not task["keep_models"] and work.exists():
            shutil.rmtree(work, ignore_errors=True)
    seconds["total"] = round(seconds.get("select", 0.0) + time.perf_counter() - start, 3)
    record = _record(cell, cell_id, notes=list(dict.fromkeys(notes)), **parts)
    write_json(cell_path(run_dir, cell_id), record)
    return record


_WORKER: dict[str, Any] = {}


def _init_worker(benign: list[dict[str, Any]], threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _WORKER["benign"] = [Example(**d) for d in benign]


def _execute_in_worker(task: dict[str, Any]) -> dict[str, Any]:
    return execute_cell(task, _WORKER["benign"])


# -- the sweep ------------------------------------------------------------------------------------


def sweep_record(config: SweepConfig, inputs: SweepInputs, cells: Sequence[Cell]) -> dict[str, Any]:
    """What ``sweep.json`` holds: version, resolved config, inputs, every cell with its params."""
    return {
        **record_header("sweep"),
        # train and eval without the fields each cell sets (they would read as settings)
        "config": {
            **redact_json(config.model_dump(mode="json")),
            "train": config.train.cell_fields(),
            "eval": config.eval.cell_fields(),
        },
        "inputs": inputs.record,
        "n_cells": len(cells),
        "cells": [{"cell_id": c.cell_id, **c.params()} for c in cells],
    }


def run_sweep(
    config: SweepConfig,
    run_dir: str | Path,
    *,
    benign: Sequence[Example] | None = None,
    pool: Sequence[Example] | None = None,
    workers: int = 1,
    threads_per_worker: int | None = 1,
    show_progress: bool = False,
    console: Any = None,
) -> dict[str, Any]:
    """Run every cell of the grid that has no finished result in ``run_dir``.

    Parameters
    ----------
    config : SweepConfig
    run_dir : str or Path
        Run folder: ``sweep.json``, ``cells/<cell_id>.json`` (+ ``.items.jsonl``),
        ``pool_labelling.json`` and, while a cell runs, ``work/<cell_id>/``.
    benign, pool : sequence of Example, optional
        In-memory data instead of ``config.benign.path`` / ``config.pool.path``; their
        sha256 is taken over their canonical JSON.
    workers : int, default 1
        Cells trained side by side, each in a spawned process (1: in this process).
        Results do not depend on it.
    threads_per_worker : int or None, default 1
        torch CPU threads of each cell (also in-process; restored afterwards). None leaves
        torch's default. Keep it the same when resuming: float sums depend on it.
    show_progress : bool, default False
        A progress bar over cells and one line per finished cell (the CLI turns it on).
    console : rich.console.Console, optional
        Where the progress goes (default: stderr).

    Returns
    -------
    dict
        ``run_dir``, ``n_cells``, ``n_skipped`` (already finished), ``n_ok``, ``n_failed``
        and ``failed`` (the failed cells' ids and errors).

    Raises
    ------
    ConfigError
        Bad inputs or options (before any cell runs).
    KeyboardInterrupt
        Passed on after stopping; finished cells are kept and a rerun resumes.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if threads_per_worker is not None and threads_per_worker < 1:
        raise ConfigError(f"threads_per_worker must be >= 1 or None, got {threads_per_worker}")
    run_dir = Path(run_dir)
    plan = plan_sweep(config, run_dir, benign=benign, pool=pool, workers=workers)
    inputs = plan.inputs
    write_json(run_dir / SWEEP_FILE, sweep_record(config, inputs, plan.cells))
    for cell in plan.cells:  # a renamed strategy keeps its finished cells; update their label
        if plan.status[cell.cell_id] == "done":
            rec = read_cell(cell_path(run_dir, cell.cell_id))
            if rec["params"]["label"] != cell.label:
                rec["params"]["label"] = cell.label
                write_json(cell_path(run_dir, cell.cell_id), rec)
    todo = plan.todo
    summary: dict[str, Any] = {"run_dir": str(run_dir), "n_cells": len(plan.cells), "n_skipped": plan.n_done}
    summary.update(n_ok=0, n_failed=0, failed=[])
    if not todo:
        return summary
    select_pool = None
    if any(not c.is_baseline for c in todo):
        select_pool, labelling = build_pool(config, inputs, show_progress=show_progress)
        write_json(run_dir / "pool_labelling.json", labelling)
    common = {
        "run_dir": str(run_dir),
        "train": config.train.cell_fields(),
        "eval": config.eval.cell_fields(),
        "upsample": config.upsample,
        "check_contamination": config.check_contamination,
        "keep_models": config.keep_models,
        "write_items": config.write_items,
    }

    def prepare(cell: Cell) -> dict[str, Any] | None:
        """The cell's task, or None when its selection failed (then its failed record is written)."""
        t = time.perf_counter()
        try:
            selection, picks = select_cell(cell, select_pool, len(inputs.pool))
        except Exception as exc:
            seconds = {"select": round(time.perf_counter() - t, 3)}
            seconds["total"] = seconds["select"]
            record = _record(cell.params(), cell.cell_id, error=_error(exc), seconds=seconds)
            write_json(cell_path(run_dir, cell.cell_id), record)
            finish(cell, record)
            return None
        seconds = {"select": round(time.perf_counter() - t, 3)}
        picks_data = [dataclasses.asdict(e) for e in picks]
        return {
            **common,
            "cell_id": cell.cell_id,
            "cell": cell.params(),
            "selection": selection,
            "picks": picks_data,
            "seconds": seconds,
        }

    from safetymix.sweep.progress import SweepProgress

    progress = SweepProgress(len(todo), enabled=show_progress, console=console)

    def finish(cell: Cell, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            summary["n_ok"] += 1
        else:
            summary["n_failed"] += 1
            summary["failed"].append({"cell_id": cell.cell_id, "label": cell.label, **record["error"]})
        progress.done(cell, record)

    with progress:
        if workers == 1:
            _run_here(todo, prepare, finish, inputs.benign, threads_per_worker, progress)
        else:
            _run_in_workers(todo, prepare, finish, inputs.benign, workers, threads_per_worker, progress)
    return summary


def _run_here(todo, prepare, finish, benign, threads, progress) -> None:
    before = None
    if threads is not None:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        for cell in todo:
            progress.start(cell)
            task = prepare(cell)
            if task is not None:
                finish(cell, execute_cell(task, benign))
    finally:
        if before is not None:
            import torch

            torch.set_num_threads(before)


def _run_in_workers(todo, prepare, finish, benign, workers, threads, progress) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    benign_data = [dataclasses.asdict(e) for e in benign]
    executor = ProcessPoolExecutor(
        max_workers=min(workers, len(todo)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(benign_data, threads),
    )
    queue = list(todo)
    running: dict[Any, Cell] = {}
    try:
        while queue or running:
            # Select only as many cells ahead as there are workers: picks stay few in memory.
            while queue and len(running) < workers:
                cell = queue.pop(0)
                progress.start(cell)
                task = prepare(cell)
                if task is not None:
                    running[executor.submit(_execute_in_worker, task)] = cell
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                finish(running.pop(fut), fut.result())
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
