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

from bench_data import DataConfig, build_splits, data_record, stage1_examples  # noqa: E402
from bench_files import rel, write_suite_files, write_sweep_config  # noqa: E402
from bench_models import PROFILES, smollm2_gguf  # noqa: E402

logger = logging.getLogger("forgetting")


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        choices=sorted(PROFILES),
        default="tiny",
        help="tiny: 1.1M Llama from scratch (default); smollm2: SmolLM2-135M-Instruct (GGUF, LoRA)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="stage 1 once; the quick grid of the model")
    mode.add_argument("--smoke", action="store_true", help="plumbing check on tiny data (minutes)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default benchmarks/forgetting/results[-MODEL][-quick])",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    p.add_argument("--workers", type=int, default=2, help="worker processes side by side (default 2)")
    p.add_argument("--report-only", action="store_true", help="aggregate the finished cells, train nothing")
    p.add_argument("--stage1-only", action="store_true", help="stop after stage 1 (pilots)")
    p.add_argument(
        "--max-prompts",
        type=int,
        default=None,
        help="evaluate on a seeded subset of at most N prompts per suite (pilots; recorded)",
    )
    p.add_argument(
        "--stage1-from",
        type=Path,
        default=None,
        help="reuse the stage-1 model of an earlier run (same data/model/stage-1 settings, same machine)",
    )
    p.add_argument(
        "--stage1-seed",
        type=int,
        default=0,
        help="training seed of stage 1 (LoRA init, example order); pilots measure the spread (default 0)",
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="FIELD=N",
        help="pilots: set a data field of the model's profile, e.g. n_extra_refusals=374 (repeatable)",
    )
    return p


def data_overrides(items: list[str]) -> dict[str, int]:
    """``--data FIELD=N`` items as a dict; a clear error for an unknown field or a bad number."""
    fields = {f.name: f.type for f in dataclasses.fields(DataConfig)}
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if fields.get(name) not in ("int", int):
            ints = ", ".join(k for k, t in fields.items() if t in ("int", int))
            raise SystemExit(f"error: --data {item}: not an integer data field (one of: {ints})")
        try:
            out[name] = int(value)
        except ValueError:
            raise SystemExit(f"error: --data {item}: {value!r} is not an integer") from None
    return out


def eval_fields(cfg: dict[str, Any], files: dict[str, Path]) -> dict[str, Any]:
    """``EvalConfig`` fields of every evaluation: the model's suites (tiny: Bianchi's five
    harmful suites + XSTest's safe prompts; smollm2: also BeaverTails-Evaluation), greedy
    answers judged by the model's judges, and the benign held-out loss on ``files["loss"]``
    (a user helpfulness suite)."""
    ev = cfg["eval"]
    return {
        "suites": list(cfg["suites"]),
        "suite_files": [f"benign-heldout={rel(files['loss'])}:helpfulness"],
        "generation": {
            "num_beams": 1,
            "max_new_tokens": ev["max_new_tokens"],
            "batch_size": ev["batch_size"],
        },
        **cfg["judges"],
        "loss_batch_size": ev["batch_size"] // 2,
        "loss_max_length": ev["loss_max_length"],
        "device": "cpu",
        **({"dtype": ev["dtype"]} if "dtype" in ev else {}),
        "max_prompts": cfg.get("max_prompts"),
    }


def run_config(
    grid_name: str,
    model_name: str = "tiny",
    max_prompts: int | None = None,
    stage1_seed: int = 0,
    data: dict[str, int] | None = None,
) -> dict[str, Any]:
    prof = PROFILES[model_name]
    data = DataConfig(**(prof["data"] | (data or {})))
    model, stage1, stage2 = dict(prof["model"]), dict(prof["stage1"]), dict(prof["stage2"])
    if grid_name == "smoke":
        data = dataclasses.replace(data, n_benign=60, n_safety_train=120, n_dev=20, n_loss=20)
        if data.n_benign_stage2:
            data = dataclasses.replace(
                data, n_benign_stage2=60, n_libre_stage2=0, n_lookalike=min(40, data.n_lookalike)
            )
        stage1["num_train_epochs"] = 1.0
        stage2["num_train_epochs"] = 1.0
        if "vocab_size" in model:
            model["vocab_size"] = 1024
        max_prompts = max_prompts or 20
    cfg = {
        "grid_name": grid_name,
        "grid": prof["grids"][grid_name],
        "data": data_record(data),
        "model": model,
        "stage1": {**prof["common_train"], **stage1, "seed": stage1_seed},
        "stage2": {**prof["common_train"], **stage2},
        "eval": dict(prof["eval"]),
        "model_seed": 0,
    }
    if model_name != "tiny":  # the tiny model's run folders predate these keys
        cfg.update(
            model_name=model_name,
            suites=list(prof["suites"]),
            judges=dict(prof["judges"]),
            lookalike_generation=dict(prof["lookalike_generation"]),
        )
    if max_prompts is not None:
        cfg["max_prompts"] = max_prompts
    return cfg


def with_defaults(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` plus the tiny model's suites and judges where a run folder does not record them."""
    tiny = PROFILES["tiny"]
    return {"suites": tiny["suites"], "judges": tiny["judges"], **cfg}


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
    suffix = ("" if args.model == "tiny" else f"-{args.model}") + ("-quick" if grid_name == "quick" else "")
    out = (args.out or HERE / f"results{suffix}").resolve()
    cfg = run_config(grid_name, args.model, args.max_prompts, args.stage1_seed, data_overrides(args.data))
    cfg["threads_per_worker"], cfg["workers"] = args.threads, args.workers

    import bench_report

    if args.report_only:
        saved = out / "run_config.json"
        bench_report.aggregate(out, json.loads(saved.read_text()) if saved.exists() else cfg)
        write_sweep_report(out)
        return 0

    profile = PROFILES[args.model]
    if profile["common_train"].get("mixed_precision") == "bf16" or profile["eval"].get("dtype") == "bfloat16":
        from safetymix.models import warn_if_emulated_bf16

        # before hours of work, not only inside each cell's worker (its timings in the
        # README were measured on a CPU with avx512_bf16; benchmarks/perf/smollm2_speed.py)
        warn_if_emulated_bf16(profile["common_train"]["device"], f"the {args.model} profile")
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
    if args.stage1_only:
        logger.info("stage 1 done in %.1f min: %s", timings["total_seconds"] / 60, out / "stage1.json")
        return 0
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
SETTINGS = (
    "grid_name",
    "grid",
    "data",
    "model",
    "stage1",
    "stage2",
    "eval",
    "suites",
    "judges",
    "max_prompts",
)
#: Settings stage 1 depends on (``--stage1-from`` needs them equal).
STAGE1_SETTINGS = (
    "data",
    "model",
    "stage1",
    "eval",
    "model_seed",
    "suites",
    "judges",
    "lookalike_generation",
)


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
    evaluation = eval_fields(with_defaults(cfg), files)
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
        import torch

        torch.set_num_threads(args.threads)
        if "vocab_size" in cfg["model"]:  # the tiny model: a tokenizer and random weights
            stage1_train = stage1_examples(splits, cfg["data"]["benign_repeat"])
            from safetymix.train.templates import alpaca_prompt

            texts = [alpaca_prompt(e) + e.response for e in stage1_train + splits["benign_stage2"]]
            info = bench_cell.save_initial_model(init_dir, texts, cfg["model"], cfg["model_seed"])
            base = str(init_dir)
        else:  # a pretrained GGUF model; the look-alikes get its own answers
            base = str(smollm2_gguf())
            t_look = time.perf_counter()
            lookalikes = bench_cell.answer_lookalikes(
                base, splits["lookalike_prompts"], out / "data" / "lookalikes.jsonl", cfg
            )
            timings["lookalike_answer_seconds"] = round(time.perf_counter() - t_look, 1)
            stage1_train = stage1_examples(splits, cfg["data"]["benign_repeat"], lookalikes)
            info = {**cfg["model"], "path": base}
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
                "model": base,
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
    if args.stage1_only:
        logger.info("--stage1-only: stopping before stage 2")
        return timings

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
