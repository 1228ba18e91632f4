"""Files of a benchmark run: the suite files, the stage-2 sweep config, paths relative to the root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the repository root: runs work from there (paths in sweep.yaml)

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
