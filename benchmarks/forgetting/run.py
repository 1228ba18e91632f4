"""CPU forgetting benchmark: does the choice of safety examples matter after benign fine-tuning?

Stage 1 ("alignment") trains a tiny Llama-style model from scratch on benign instructions
plus Bianchi et al.'s safety examples; stage 2 ("benign fine-tuning") continues from it on
other benign data, alone or with ``k`` picks from a held-out safety pool by each strategy.
Every cell is written as one JSON file as soon as it finishes, so an interrupted run resumes
where it stopped; the cells are then aggregated into ``results.json``, ``results.md`` and
``results.png`` under ``--out``.

Usage::

    python benchmarks/forgetting/run.py --smoke --out /tmp/forgetting-smoke   # minutes
    python benchmarks/forgetting/run.py --quick --out benchmarks/forgetting/results-quick
    python benchmarks/forgetting/run.py                      # default grid -> results/

Only safetymix's own select / label / train / generate / judge code is used (see
bench_data.py and bench_cell.py). Model folders go to ``<out>/_work`` (not for committing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_data import DataConfig, build_splits, make_pool, stage1_examples  # noqa: E402

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
        "seeds": [0, 1, 2],
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


def run_config(grid_name: str) -> dict[str, Any]:
    data = DataConfig()
    model, stage1, stage2, eval_cfg = dict(MODEL), dict(STAGE1), dict(STAGE2), dict(EVAL)
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
        "eval": eval_cfg,
        "eval_limit_per_set": 20 if grid_name == "smoke" else None,
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
        return 0

    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "run_config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        keys = ("grid_name", "grid", "data", "model", "stage1", "stage2", "eval", "eval_limit_per_set")
        changed = [k for k in keys if old.get(k) != cfg.get(k)]
        if changed:
            raise SystemExit(f"{out} holds a run with other settings ({changed}); use another --out")
    _write_json(cfg_path, cfg)
    t0 = time.perf_counter()
    timings = run_all(out, cfg, args)
    timings["total_seconds"] = round(time.perf_counter() - t0, 1)
    _write_json(out / "timings.json", timings)
    bench_report.aggregate(out, cfg)
    logger.info("done in %.1f min; results in %s", timings["total_seconds"] / 60, out)
    return 0


def reuse_stage1(src: Path, out: Path, cfg: dict[str, Any]) -> None:
    """Copy a finished stage 1 (model folder and cell JSON) from ``src``; settings must match.

    Stage 1 is deterministic for its settings, so a run that shares them (the quick and the
    default grid do) need not train it again.
    """
    import shutil

    old = json.loads((src / "run_config.json").read_text())
    changed = [
        k
        for k in ("data", "model", "stage1", "eval", "eval_limit_per_set", "model_seed")
        if old.get(k) != cfg.get(k)
    ]
    if changed:
        raise SystemExit(f"--stage1-from {src}: its settings differ in {changed}")
    model = src / "_work" / "stage1"
    if not (model / "config.json").exists() or not (src / "cells" / "stage1.json").exists():
        raise SystemExit(
            f"--stage1-from {src}: no finished stage 1 there (model folder or cells/stage1.json missing)"
        )
    shutil.copytree(model, out / "_work" / "stage1", dirs_exist_ok=True)
    rec = json.loads((src / "cells" / "stage1.json").read_text())
    rec["reused_from"] = str(src)
    _write_json(out / "cells" / "stage1.json", rec)
    logger.info("stage 1 reused from %s", src)


def run_all(out: Path, cfg: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import bench_cell

    from safetymix.embed import Encoder
    from safetymix.select import get_strategy, picked_examples

    work = out / "_work"
    cells_dir = out / "cells"
    timings: dict[str, Any] = {}
    t = time.perf_counter()
    encoder = Encoder()
    data = build_splits(DataConfig(**cfg["data"]), encoder.encode)
    splits = data["splits"]
    limit = cfg["eval_limit_per_set"]
    eval_sets = {n: rows[:limit] if limit else rows for n, rows in splits["evals"].items()}
    pool, label_report = make_pool(splits["pool"], encoder)
    timings["data_and_labelling_seconds"] = round(time.perf_counter() - t, 1)
    ref_flags, judge_name = bench_cell.refusal_flags(
        [e.prompt for e in splits["dev_safety"]], [e.response for e in splits["dev_safety"]]
    )
    _write_json(
        out / "data.json",
        {
            **data["record"],
            "pool_labelling": label_report,
            "dev_safety_reference_refusal_rate": sum(ref_flags) / len(ref_flags),
            "refusal_judge": judge_name,
        },
    )
    logger.info(
        "data ready (%.0fs): %s; pool behaviours %s",
        timings["data_and_labelling_seconds"],
        data["record"]["sizes"],
        label_report["behaviour_counts"],
    )

    # ---- stage 1 ------------------------------------------------------------------------
    init_dir, stage1_dir = work / "init", work / "stage1"
    stage1_json = cells_dir / "stage1.json"
    # One thread: with other work on the 2 cores, a 2-thread step was ~4x slower than 1-thread.
    n_threads = args.threads
    if args.stage1_from is not None and not stage1_json.exists():
        reuse_stage1(args.stage1_from.resolve(), out, cfg)
    if not (stage1_json.exists() and (stage1_dir / "config.json").exists()):
        stage1_train = stage1_examples(splits, cfg["data"]["benign_repeat"])
        from safetymix.train.templates import alpaca_prompt

        texts = [alpaca_prompt(e) + e.response for e in stage1_train + splits["benign_stage2"]]
        import torch

        torch.set_num_threads(n_threads)
        info = bench_cell.save_initial_model(init_dir, texts, cfg["model"], cfg["model_seed"])
        logger.info("stage 1: %d examples, model %s; training ...", len(stage1_train), info)
        dev_sets = {
            "dev-safety": splits["dev_safety"][:limit] if limit else splits["dev_safety"],
            "dev-benign": splits["dev_benign"][:limit] if limit else splits["dev_benign"],
        }
        task = {
            "threads": n_threads,
            "model": str(init_dir),
            "model_dir": str(stage1_dir),
            "keep_model": True,
            "train": cfg["stage1"],
            "examples": _as_dicts(stage1_train),
            "eval_sets": {n: _as_dicts(v) for n, v in {**eval_sets, **dev_sets}.items()},
            "loss_set": _as_dicts(splits["loss_benign"]),
            "eval": cfg["eval"],
            "cell": {"cell": "stage1", "stage": 1, "variant": "stage1", "k": 0, "seed": 0, "model": info},
            "out_json": str(stage1_json),
        }
        rec = bench_cell.run_cell(task)
        logger.info(
            "stage 1 done: train %.0fs, loss %.3f -> %.3f",
            rec["train"]["seconds"],
            rec["train"]["first_loss"],
            rec["train"]["final_loss"],
        )
    timings["stage1_seconds"] = json.loads(stage1_json.read_text())["train"]["seconds"]

    # ---- stage 2 cells ------------------------------------------------------------------
    grid = cfg["grid"]
    benign2 = splits["benign_stage2"]
    tasks = []
    for seed in grid["seeds"]:
        tasks.append(("none", 0, seed, []))
    for k in grid["ks"]:
        for variant in grid["variants"]:
            for seed in grid["seeds"]:
                tasks.append((variant, k, seed, None))
    todo = []
    for variant, k, seed, picks in tasks:
        name = f"{variant}_k{k}_s{seed}".replace("[", "-").replace("]", "")  # plain file names
        path = cells_dir / f"{name}.json"
        if path.exists():
            continue
        selection_summary = None
        if picks is None:
            strategy_name, params = VARIANTS[variant]
            selection = get_strategy(strategy_name, seed=seed, **params).select(pool, k)
            picks = picked_examples(pool, selection)
            selection_summary = selection.summary()
        train_ex = list(benign2) + list(picks)
        todo.append(
            {
                "threads": args.threads,
                "model": str(stage1_dir),
                "model_dir": str(work / "stage2" / name),
                "train": {**cfg["stage2"], "seed": seed},
                "examples": _as_dicts(train_ex),
                "eval_sets": {n: _as_dicts(v) for n, v in eval_sets.items()},
                "loss_set": _as_dicts(splits["loss_benign"]),
                "eval": cfg["eval"],
                "cell": {
                    "cell": name,
                    "stage": 2,
                    "variant": variant,
                    "strategy": VARIANTS[variant][0] if variant in VARIANTS else None,
                    "params": VARIANTS[variant][1] if variant in VARIANTS else {},
                    "k": k,
                    "seed": seed,
                    "n_benign": len(benign2),
                    "safety_share": round(len(picks) / len(train_ex), 4),
                    "selection": selection_summary,
                    "picks": [
                        {
                            "id": e.id,
                            "behaviour": e.behaviour,
                            "categories": e.categories,
                            "reason": e.extra.get("reason"),
                        }
                        for e in picks
                    ],
                },
                "out_json": str(path),
            }
        )
    logger.info("stage 2: %d cells to run (%d already done)", len(todo), len(tasks) - len(todo))
    t = time.perf_counter()
    if todo:
        env_threads = str(args.threads)
        os.environ.update({"OMP_NUM_THREADS": env_threads, "MKL_NUM_THREADS": env_threads})
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn")) as pool_exec:
            futures = {pool_exec.submit(bench_cell.run_cell, task): task["cell"]["cell"] for task in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                rec = fut.result()
                sets = rec["eval"]["sets"]
                harm = sum(s["refusals"] for n, s in sets.items() if n != "XSTest-safe")
                n_harm = sum(s["n"] for n, s in sets.items() if n != "XSTest-safe")
                logger.info(
                    "[%d/%d] %s: harmful refusal %.1f%%, over-refusal %.1f%%, loss %.3f "
                    "(train %.0fs, gen %.0fs)",
                    i,
                    len(todo),
                    futures[fut],
                    100 * harm / n_harm,
                    100 * sets["XSTest-safe"]["refusals"] / sets["XSTest-safe"]["n"],
                    rec["eval"]["benign_loss"],
                    rec["train"]["seconds"],
                    rec["eval"]["generate_seconds"],
                )
    timings["stage2_seconds"] = round(time.perf_counter() - t, 1)
    timings["stage2_cells_run"] = len(todo)
    return timings


if __name__ == "__main__":
    raise SystemExit(main())
