"""CPU forgetting benchmark: does the choice of safety examples matter after benign fine-tuning?

Stage 1 ("alignment") trains a tiny Llama-style model from scratch on benign instructions
plus Bianchi et al.'s safety examples; stage 2 ("benign fine-tuning") continues from it on
other benign data, alone or with ``k`` picks from a held-out safety pool by each strategy.
Stage 2 is a ``safetymix sweep`` (:func:`safetymix.sweep.run_sweep`) whose model is the
stage-1 checkpoint: every cell selects, mixes, trains and evaluates with safetymix's own
stages, is written to ``<out>/sweep/cells/<cell_id>.json`` when it finishes, and an
interrupted run resumes where it stopped. The cells are then aggregated into
``results.json``, ``results.md`` and ``results.png`` (bench_report.py) and the sweep report
(``safetymix report``: PNGs, Markdown, HTML) under ``<out>/report``.

Usage::

    python benchmarks/forgetting/run.py --smoke --out /tmp/forgetting-smoke   # minutes
    python benchmarks/forgetting/run.py --quick --out benchmarks/forgetting/results-quick
    python benchmarks/forgetting/run.py                      # default grid -> results/

Model folders go to ``<out>/_work`` (not for committing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the repository root: runs work from there (paths in sweep.yaml)
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_data import DataConfig, build_splits, stage1_examples  # noqa: E402

logger = logging.getLogger("forgetting")

#: The tiny model (prototype: width 128, 3 layers, 4,096-token BPE). Sequences are cut at
#: 128 tokens (prompt ~50 + the response's first ~75): at 256 stage 1 took ~13 min here.
MODEL = {"vocab_size": 4096, "d_model": 128, "d_mlp": 352, "n_layers": 3, "n_heads": 4, "max_length": 128}
#: Stage 1: the prototype's recipe (8 epochs, lr 2e-3, cosine decay).
STAGE1 = {"num_train_epochs": 8.0, "learning_rate": 2e-3, "lr_scheduler_type": "cosine", "warmup_steps": 20}
#: Stage 2: 3 epochs at lr 1e-3 (the prototype's; 3e-4 forgets half as much).
STAGE2 = {"num_train_epochs": 3.0, "learning_rate": 1e-3, "lr_scheduler_type": "cosine", "warmup_steps": 0}
COMMON_TRAIN = {
    "method": "full",
    "template": "alpaca",
    "per_device_train_batch_size": 16,
    "max_length": MODEL["max_length"],
    "completion_only_loss": True,
    "logging_steps": 25,
    "device": "cpu",
    "mixed_precision": "no",
    "loss_kernel": "plain",  # 2.9x faster per step than TRL's fused kernel here (benchmarks/perf)
}
EVAL = {"max_new_tokens": 12, "batch_size": 64, "loss_max_length": MODEL["max_length"]}

#: Strategy variants: label -> (registry name, extra parameters).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    "random-b": ("random-b", {}),
    "sss-b": ("sss-b", {}),
    "pss-b": ("pss-b", {}),
    "cossim-b": ("cossim-b", {}),
    "facility-location-b": ("facility-location-b", {}),
    # Refusal-free picks: SSS over the T2 part of the pool (harmful request, complying /
    # explaining safe answer), the prototype's "explanation-type only".
    "sss-b[T2]": ("sss-b", {"behaviours": ["T2"]}),
}

GRIDS: dict[str, dict[str, Any]] = {
    "default": {
        "variants": ["random", "random-b", "sss-b", "pss-b", "cossim-b", "facility-location-b"],
        "ks": [5, 10, 25, 50],
        "seeds": [0, 1, 2, 3, 4],
    },
    "quick": {"variants": ["random", "sss-b", "sss-b[T2]"], "ks": [25], "seeds": [0, 1, 2]},
    # Plumbing check only: tiny data, one epoch, one seed.
    "smoke": {"variants": ["random", "sss-b[T2]"], "ks": [25], "seeds": [0]},
}


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="stage 1 once; none/random/sss-b/sss-b[T2] at k=25 x 3 seeds"
    )
    mode.add_argument("--smoke", action="store_true", help="plumbing check on tiny data (minutes)")
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default benchmarks/forgetting/results[-quick])"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    p.add_argument("--workers", type=int, default=2, help="worker processes side by side (default 2)")
    p.add_argument("--report-only", action="store_true", help="aggregate the finished cells, train nothing")
    p.add_argument(
        "--stage1-from",
        type=Path,
        default=None,
        help="reuse the stage-1 model of an earlier run (same data/model/stage-1 settings, same machine)",
    )
    return p


def eval_fields(grid_name: str, files: dict[str, Path]) -> dict[str, Any]:
    """``EvalConfig`` fields of every evaluation: Bianchi's five harmful suites + XSTest's safe
    prompts (the ``default`` group), greedy answers of 12 tokens judged by ``refusal-match``,
    and the benign held-out loss on ``files["loss"]`` (a user helpfulness suite)."""
    return {
        "suites": ["default"],
        "suite_files": [f"benign-heldout={rel(files['loss'])}:helpfulness"],
        "generation": {
            "num_beams": 1,
            "max_new_tokens": EVAL["max_new_tokens"],
            "batch_size": EVAL["batch_size"],
        },
        "judge": "refusal-match",
        "loss_batch_size": EVAL["batch_size"] // 2,
        "loss_max_length": EVAL["loss_max_length"],
        "device": "cpu",
        "max_prompts": 20 if grid_name == "smoke" else None,
    }


def run_config(grid_name: str) -> dict[str, Any]:
    data = DataConfig()
    model, stage1, stage2 = dict(MODEL), dict(STAGE1), dict(STAGE2)
    if grid_name == "smoke":
        data = dataclasses.replace(data, n_benign=60, n_safety_train=120, n_dev=20, n_loss=20)
        stage1["num_train_epochs"] = 1.0
        stage2["num_train_epochs"] = 1.0
        model["vocab_size"] = 1024
    return {
        "grid_name": grid_name,
        "grid": GRIDS[grid_name],
        "data": dataclasses.asdict(data),
        "model": model,
        "stage1": {**COMMON_TRAIN, **stage1, "seed": 0},
        "stage2": {**COMMON_TRAIN, **stage2},
        "eval": dict(EVAL),
        "model_seed": 0,
    }


def _as_dicts(examples) -> list[dict]:
    return [dataclasses.asdict(e) for e in examples]


def _write_json(path: Path, data: Any) -> None:
    from safetymix.io import atomic_write

    with atomic_write(path) as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False, default=str)
        fh.write("\n")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    os.chdir(ROOT)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    grid_name = "quick" if args.quick else "smoke" if args.smoke else "default"
    out = args.out or HERE / ("results-quick" if grid_name == "quick" else "results")
    out = out.resolve()
    cfg = run_config(grid_name)
    cfg["threads_per_worker"], cfg["workers"] = args.threads, args.workers

    import bench_report

    if args.report_only:
        saved = out / "run_config.json"
        bench_report.aggregate(out, json.loads(saved.read_text()) if saved.exists() else cfg)
        write_sweep_report(out)
        return 0

    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "run_config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        changed = [k for k in SETTINGS if old.get(k) != cfg.get(k)]
        if changed:
            raise SystemExit(f"{out} holds a run with other settings ({changed}); use another --out")
    _write_json(cfg_path, cfg)
    t0 = time.perf_counter()
    timings = run_all(out, cfg, args)
    timings["total_seconds"] = round(time.perf_counter() - t0, 1)
    _write_json(out / "timings.json", timings)
    bench_report.aggregate(out, cfg)
    write_sweep_report(out)
    logger.info("done in %.1f min; results in %s", timings["total_seconds"] / 60, out)
    return 0


def write_sweep_report(out: Path) -> None:
    """``safetymix report`` of the stage-2 sweep into ``<out>/report`` (PNGs, results.md, HTML)."""
    from safetymix.report import ReportConfig, build_report

    result = build_report(out / "sweep", ReportConfig(out=str(out / "report")))
    logger.info("sweep report: %s", result.html)


#: Settings a run folder is tied to (a rerun into it must share them).
SETTINGS = ("grid_name", "grid", "data", "model", "stage1", "stage2", "eval")
#: Settings stage 1 depends on (``--stage1-from`` needs them equal).
STAGE1_SETTINGS = ("data", "model", "stage1", "eval", "model_seed")


def reuse_stage1(src: Path, out: Path, cfg: dict[str, Any]) -> None:
    """Copy a finished stage 1 (model folder and stage1.json) from ``src``; settings must match.

    Stage 1 is deterministic for its settings, so a run that shares them (the quick and the
    default grid do) need not train it again.
    """
    import shutil

    old = json.loads((src / "run_config.json").read_text())
    changed = [k for k in STAGE1_SETTINGS if old.get(k) != cfg.get(k)]
    if changed:
        raise SystemExit(f"--stage1-from {src}: its settings differ in {changed}")
    model = src / "_work" / "stage1"
    if not (model / "config.json").exists() or not (src / "stage1.json").exists():
        raise SystemExit(
            f"--stage1-from {src}: no finished stage 1 there (model folder or stage1.json missing)"
        )
    shutil.copytree(model, out / "_work" / "stage1", dirs_exist_ok=True)
    rec = json.loads((src / "stage1.json").read_text())
    rec["reused_from"] = rel(src)
    _write_json(out / "stage1.json", rec)
    logger.info("stage 1 reused from %s", src)


def write_suite_files(out: Path, splits: dict[str, Any]) -> dict[str, Path]:
    """The held-out loss set and the stage-1 dev sets as JSONL files (user eval suites)."""
    from safetymix.io import write_examples

    files = {"loss": out / "data" / "benign-heldout.jsonl"}
    files["dev_safety"] = out / "data" / "dev-safety.jsonl"
    files["dev_benign"] = out / "data" / "dev-benign.jsonl"
    for key, split in (("loss", "loss_benign"), ("dev_safety", "dev_safety"), ("dev_benign", "dev_benign")):
        files[key].parent.mkdir(parents=True, exist_ok=True)
        write_examples(files[key], splits[split], "jsonl")
    return files


def rel(path: Path) -> str:
    """``path`` relative to the repository root (the working directory of a run)."""
    return os.path.relpath(path, ROOT)


def write_sweep_config(out: Path, cfg: dict[str, Any], splits: dict[str, Any], evaluation: dict) -> Path:
    """Stage 2 as a sweep config file: every variant x k x seed plus the benign-only baseline.

    The benign set and the pool are written next to it as JSONL, so the same stage 2 also
    runs as ``safetymix sweep <out>/sweep.yaml --out <out>/sweep`` from the repository root.
    """
    import yaml

    from safetymix.io import atomic_write, write_examples

    data = out / "data"
    write_examples(data / "benign-stage2.jsonl", splits["benign_stage2"], "jsonl")
    write_examples(data / "pool.jsonl", splits["pool"], "jsonl")
    grid = cfg["grid"]
    config = {
        "benign": {"path": rel(data / "benign-stage2.jsonl")},
        "pool": {"path": rel(data / "pool.jsonl")},
        "strategies": [
            {"name": VARIANTS[v][0], "params": VARIANTS[v][1], "label": v} for v in grid["variants"]
        ],
        "budgets": grid["ks"],
        "seeds": grid["seeds"],
        "models": [rel(out / "_work" / "stage1")],
        "baseline": True,
        "train": cfg["stage2"],
        "eval": evaluation,
    }
    path = out / "sweep.yaml"
    with atomic_write(path) as fh:
        fh.write("# Stage 2 of the CPU forgetting benchmark, written by benchmarks/forgetting/run.py.\n")
        fh.write("# Paths are relative to the repository root.\n")
        yaml.safe_dump(config, fh, sort_keys=False, allow_unicode=True)
    return path


def run_all(out: Path, cfg: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import bench_cell

    from safetymix.embed import Encoder
    from safetymix.judge import get_judge
    from safetymix.sweep import run_sweep

    work = out / "_work"
    timings: dict[str, Any] = {}
    t = time.perf_counter()
    data = build_splits(DataConfig(**cfg["data"]), Encoder().encode)
    splits = data["splits"]
    files = write_suite_files(out, splits)
    evaluation = eval_fields(cfg["grid_name"], files)
    dev = splits["dev_safety"]
    ref = get_judge("refusal-match").judge([e.prompt for e in dev], [e.response for e in dev])
    _write_json(
        out / "data.json",
        {
            **data["record"],
            "dev_safety_reference_refusal_rate": sum(v.refusal is True for v in ref) / len(ref),
            "refusal_judge": "refusal-match",
        },
    )
    timings["data_seconds"] = round(time.perf_counter() - t, 1)
    logger.info("data ready (%.0fs): %s", timings["data_seconds"], data["record"]["sizes"])

    # ---- stage 1 ------------------------------------------------------------------------
    init_dir, stage1_dir = work / "init", work / "stage1"
    stage1_json = out / "stage1.json"
    if args.stage1_from is not None and not stage1_json.exists():
        reuse_stage1(args.stage1_from.resolve(), out, cfg)
    if not (stage1_json.exists() and (stage1_dir / "config.json").exists()):
        stage1_train = stage1_examples(splits, cfg["data"]["benign_repeat"])
        from safetymix.train.templates import alpaca_prompt

        texts = [alpaca_prompt(e) + e.response for e in stage1_train + splits["benign_stage2"]]
        import torch

        torch.set_num_threads(args.threads)
        info = bench_cell.save_initial_model(init_dir, texts, cfg["model"], cfg["model_seed"])
        logger.info("stage 1: %d examples, model %s; training ...", len(stage1_train), info)
        dev_eval = {
            **evaluation,
            "suites": None,  # the user suites alone
            "suite_files": [
                f"dev-safety={rel(files['dev_safety'])}:harmful",
                f"dev-benign={rel(files['dev_benign'])}:over-refusal",
            ],
        }
        rec = bench_cell.run_stage1(
            {
                "threads": args.threads,
                "model": str(init_dir),
                "model_dir": str(stage1_dir),
                "train": cfg["stage1"],
                "examples": _as_dicts(stage1_train),
                "eval": evaluation,
                "dev_eval": dev_eval,
                "cell": {"cell": "stage1", "model": info},
                "out_json": str(stage1_json),
            }
        )
        logger.info(
            "stage 1 done: train %.0fs, loss %.3f -> %.3f; harmful refusal %.1f%%, over-refusal %.1f%%",
            rec["train"]["seconds"],
            rec["train"]["first_loss"],
            rec["train"]["final_loss"],
            100 * rec["eval"]["metrics"]["harmful_refusal"]["value"],
            100 * rec["eval"]["metrics"]["over_refusal"]["value"],
        )
    timings["stage1_seconds"] = json.loads(stage1_json.read_text())["train"]["seconds"]

    # ---- stage 2: a sweep from the stage-1 model ----------------------------------------
    t = time.perf_counter()
    import yaml

    from safetymix.sweep import SweepConfig

    config_path = write_sweep_config(out, cfg, splits, evaluation)
    summary = run_sweep(
        SweepConfig.model_validate(yaml.safe_load(config_path.read_text())),
        out / "sweep",
        workers=args.workers,
        threads_per_worker=args.threads,
        show_progress=True,
    )
    if summary["n_failed"]:
        logger.warning("%d cell(s) failed: %s", summary["n_failed"], summary["failed"])
    timings["stage2_seconds"] = round(time.perf_counter() - t, 1)
    timings["stage2_cells_run"] = summary["n_cells"] - summary["n_skipped"]
    return timings


if __name__ == "__main__":
    raise SystemExit(main())
