"""The bundled demo: label a small pool, run every strategy at a small budget, mix.

The data under ``safetymix/data/demo`` was written for this package: ~70 safety-pool pairs
of all four behaviour types over the 14 BeaverTails categories (labels left empty so the
demo shows labelling), ~120 benign instructions and ~20 harmful evaluation prompts.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

from safetymix.io import read_examples, write_examples
from safetymix.mix import MixConfig, run_mix
from safetymix.schema import BEHAVIOURS
from safetymix.select import available_strategies, get_strategy, picked_examples
from safetymix.select.prepare import prepare_pool

#: Budget of the demo: one pick per category quota (14 // 14) on a 70-pair pool.
DEMO_BUDGET = 14


def demo_file(name: str) -> Path:
    """Path of a bundled demo file (``pool.jsonl``, ``benign.jsonl``, ``eval_harmful.jsonl``)."""
    return Path(str(resources.files("safetymix") / "data" / "demo" / name))


def run_demo(
    out_dir: str | Path,
    *,
    budget: int = DEMO_BUDGET,
    seed: int = 0,
    rules: str = "ours",
    show_progress: bool = False,
) -> dict:
    """Label the demo pool, select with every strategy under ``rules`` (``"ours"`` or
    ``"paper"``), mix each selection; returns the rows of the comparison table plus the
    labelling report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    benign_path = demo_file("benign.jsonl")
    benign = read_examples(benign_path, duplicates="keep")
    pool, label_report = prepare_pool(
        demo_file("pool.jsonl"),
        strategies=available_strategies(),
        train=benign,
        rules=rules,
        show_progress=show_progress,
    )
    write_examples(out_dir / "pool.labelled.jsonl", pool.examples, format="jsonl")
    rows = []
    mix_config = MixConfig(eval_files=[str(demo_file("eval_harmful.jsonl"))], seed=seed)
    for name in available_strategies():
        selection = get_strategy(name, seed=seed, rules=rules).select(pool, budget)
        picks = picked_examples(pool, selection)
        picks_path = out_dir / f"picks.{name}.jsonl"
        write_examples(picks_path, picks, format="jsonl")
        manifest = run_mix(benign_path, picks_path, out_dir / f"mix.{name}.json", mix_config)
        behaviours = Counter(e.behaviour for e in picks)
        rows.append(
            {
                "strategy": name,
                "picked": len(picks),
                **{b: behaviours.get(b, 0) for b in BEHAVIOURS},
                "categories": len({c for e in picks for c in (e.categories or [])}),
                "shortfall": sum(selection.shortfalls.values()),
                "mix_size": manifest["counts"]["total"],
            }
        )
    return {
        "rows": rows,
        "labelling": label_report,
        "n_categories": len(pool.categories),
        "out_dir": str(out_dir),
    }
