"""What the speed benchmarks share: the machine record, timing, alternating rounds, texts,
and the JSON writer.

Imported by the scripts of this folder (run as scripts, so this folder is on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATASETS = Path(os.environ.get("SAFETYMIX_DATASETS", HERE.parents[2] / "shared" / "datasets")).resolve()


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM, load average, library versions."""
    import numpy
    import torch

    import safetymix

    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
        platform.processor(),
    )
    mem_kb = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal"))
    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__}
    for name in ("sentence_transformers", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 2**20, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "versions": {**versions, "safetymix": safetymix.__version__},
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "shared machine: other jobs ran beside this benchmark (see load averages); "
        "ratios are measured side by side in one process, absolute rates are lower bounds",
    }


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, wall seconds, CPU seconds of this process)``."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def alternating_round(
    runs: dict[str, Callable[[], Any]], round_no: int
) -> dict[str, tuple[Any, float, float]]:
    """Run each of ``runs`` once, in the given order on even rounds and reversed on odd ones,
    so that load drift on a shared machine falls on every variant alike. Returns
    ``{name: (result, wall seconds, CPU seconds)}`` in the order of ``runs``."""
    names = list(runs) if round_no % 2 == 0 else list(runs)[::-1]
    done = {name: timed(runs[name]) for name in names}
    return {name: done[name] for name in runs}


def alpaca_and_safety_prompts(n: int) -> list[str]:
    """``n`` distinct real prompts: Alpaca instructions, then Bianchi et al.'s safety instructions."""
    alpaca = json.loads((DATASETS / "refusal_direction_splits" / "harmless_train.json").read_text())
    safety = json.loads((DATASETS / "safety_tuned_llamas" / "safety_only_data_Instructions.json").read_text())
    texts, seen = [], set()
    # interleave so that any prefix holds both kinds, at the pools' ratio
    ratio = max(1, len(alpaca) // len(safety))
    s_iter = iter(r["instruction"] for r in safety)
    for i, rec in enumerate(alpaca):
        for t in [rec["instruction"]] + ([next(s_iter, None)] if i % ratio == 0 else []):
            if t and t not in seen:
                seen.add(t)
                texts.append(t)
    texts += [r["instruction"] for r in safety if r["instruction"] not in seen]
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct prompts available, asked for {n}")
    return texts[:n]


def write_result(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``results/<name>.json`` (or ``out``) and return the path."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path
