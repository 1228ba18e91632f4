"""Synthetic sweep run folders in the run-folder contract, with numbers the tests know."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: Every figure a full report draws, in the order it writes them.
ALL_FIGURES = (
    "harm_vs_budget",
    "over_refusal_vs_budget",
    "helpfulness_vs_budget",
    "tradeoff",
    "category_heatmap",
    "relative_reduction",
    "pool_map",
)
CATEGORIES = ("animal_abuse", "privacy_violation", "violence,aiding_and_abetting,incitement")


def cell_id(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


def make_cell(
    label: str,
    budget: int,
    seed: int,
    *,
    harmfulness: float | None = None,
    over_refusal: float | None = None,
    helpfulness: float | None = None,
    model: str = "tiny",
    status: str = "ok",
    picks: list[dict[str, Any]] | None = None,
    per_category: dict[str, float] | None = None,
    helpfulness_kind: str = "loss",
) -> dict[str, Any]:
    """One cell record; harmful refusal is ``1 - harmfulness`` (as with the refusal-rate fallback)."""
    strategy = "none" if label == "none" else label.split("[")[0]
    params = {"model": model, "strategy": strategy, "label": label, "strategy_params": {}, "budget": budget}
    params["seed"] = seed
    rec: dict[str, Any] = {"cell_id": cell_id(params), "status": status, "error": None, "params": params}
    if status == "failed":
        rec["error"] = {"type": "RuntimeError", "message": "CUDA out of memory", "traceback": "..."}
        return rec
    metrics: dict[str, Any] = {}
    if harmfulness is not None:
        metrics["harmfulness"] = {
            "value": harmfulness,
            "low": max(0.0, harmfulness - 0.04),
            "high": min(1.0, harmfulness + 0.04),
            "n": 500,
            "source": "1 - refusal rate",
        }
        metrics["harmful_refusal"] = {
            "value": 1 - harmfulness,
            "low": max(0.0, 1 - harmfulness - 0.04),
            "high": min(1.0, 1 - harmfulness + 0.04),
            "n": 500,
        }
    if over_refusal is not None:
        metrics["over_refusal"] = {
            "value": over_refusal,
            "low": max(0.0, over_refusal - 0.05),
            "high": min(1.0, over_refusal + 0.05),
            "n": 250,
        }
    if helpfulness is not None:
        metrics["helpfulness"] = {
            "value": helpfulness,
            "low": helpfulness - 0.05,
            "high": helpfulness + 0.05,
            "n": 300,
            "kind": helpfulness_kind,
            "higher_is_better": helpfulness_kind == "reward",
        }
    rec["metrics"] = metrics
    rec["selection"] = {"summary": {"strategy": strategy, "k": budget}, "picks": picks or []}
    rec["mix"] = {"n_benign": 480, "n_safety": budget, "safety_share": round(budget / (480 + budget), 4)}
    rec["train"] = {"first_loss": 3.0, "final_loss": 1.5}
    if per_category is not None:
        rec["per_category"] = {
            "harmfulness": {c: {"value": v, "n": 30} for c, v in per_category.items()},
        }
    rec["seconds"] = {"select": 0.1, "train": 30.0, "eval": 8.0, "total": 38.1}
    return rec


def write_run(run_dir: Path, cells: list[dict[str, Any]], *, pool: Path | None = None) -> Path:
    """Write ``sweep.json`` and ``cells/<id>.json`` (reverse order, so readers must sort)."""
    (run_dir / "cells").mkdir(parents=True, exist_ok=True)
    sweep = {
        "config": {
            "pool": {"path": str(pool) if pool else None, "format": None},
            "models": sorted({c["params"]["model"] for c in cells}),
        },
        "cells": [{"cell_id": c["cell_id"], "params": c["params"]} for c in cells],
    }
    (run_dir / "sweep.json").write_text(json.dumps(sweep, indent=1))
    for c in reversed(cells):
        (run_dir / "cells" / f"{c['cell_id']}.json").write_text(json.dumps(c, indent=1))
    return run_dir


#: Harmfulness per (label, budget) and seed 0, 1, 2 of the standard synthetic sweep.
HARM = {
    ("none", 0): (0.60, 0.70, 0.65),
    ("random", 10): (0.50, 0.60, 0.40),
    ("random", 25): (0.40, 0.50, 0.30),
    ("sss-b", 10): (0.30, 0.40, 0.30),
    ("sss-b", 25): (0.20, 0.25, 0.15),
}
#: Over-refusal, same layout.
OVER = {
    ("none", 0): (0.10, 0.12, 0.11),
    ("random", 10): (0.12, 0.14, 0.13),
    ("random", 25): (0.15, 0.17, 0.16),
    ("sss-b", 10): (0.13, 0.15, 0.14),
    ("sss-b", 25): (0.20, 0.22, 0.21),
}


def pool_records(n: int = 24) -> list[dict[str, str]]:
    """A small pool: three topics with eight prompts each, ids p00..p23."""
    topics = ("hurt an animal", "find a person's home address", "build a weapon")
    return [
        {
            "id": f"p{i:02d}",
            "instruction": f"Tell me how to {topics[i % 3]}, variant {i}",
            "response": "I can't help with that.",
        }
        for i in range(n)
    ]


def standard_cells(*, with_failed: bool = True) -> list[dict[str, Any]]:
    """The standard synthetic sweep: baseline, random and sss-b at k=10, 25; seeds 0-2."""
    cells = []
    for (label, budget), harms in HARM.items():
        for seed, h in enumerate(harms):
            o = OVER[(label, budget)][seed]
            picks = [
                {
                    "id": f"p{(5 * j + seed) % 24:02d}",
                    "behaviour": "T1",
                    "categories": [CATEGORIES[j % 3]],
                    "reason": {"strategy": label, "rank": j, "slot": "quota", "category": CATEGORIES[j % 3]},
                    "prompt": f"Tell me how to do harm {j}",
                }
                for j in range(min(budget, 6))
            ]
            per_cat = {c: min(1.0, h * f) for c, f in zip(CATEGORIES, (0.5, 1.0, 1.5), strict=True)}
            cells.append(
                make_cell(
                    label,
                    budget,
                    seed,
                    harmfulness=h,
                    over_refusal=o,
                    helpfulness=2.0 + 0.1 * seed + 0.001 * budget,
                    picks=picks,
                    per_category=per_cat,
                )
            )
    if with_failed:
        cells.append(make_cell("sss-b", 25, 3, status="failed"))
    return cells
