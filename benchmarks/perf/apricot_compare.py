"""Facility location: apricot's FacilityLocationSelection (the anchor) vs ours.

Same data (384-dim unit vectors from a Gaussian mixture, float32), same k, one group (no
categories: our ``facility-location`` strategy on a pool with a single category, so its
whole budget is that category's quota). The objective is computed the same way for every
method: ``F(S) = sum over all n points of max(0, max_{s in S} cos(x, s))``, the function
our greedy maximises.

Methods, each in a fresh subprocess (wall time and peak RSS of the selection alone):

- ``apricot-naive`` / ``apricot-lazy``: apricot on the precomputed n x n matrix
  ``max(0, X X^T)`` (float32; building it is timed), i.e. exactly our objective;
- ``apricot-euclidean``: apricot as usually called (``metric="euclidean"``, lazy); on unit
  vectors it maximises the unclipped sum of cosines, so its picks can differ;
- ``ours-full``: our lazy greedy with every point as candidate and ground point
  (``n_ground = n_candidates = n``): the same greedy, in linear memory;
- ``ours-default``: our defaults (ground <= 2048, candidates <= 8192 sampled).

apricot is not a safetymix dependency: ``pip install apricot-select`` (the ``bench`` extra).

Usage::

    nice -n 10 python benchmarks/perf/apricot_compare.py            # n = 1k, 5k, 20k; k = 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DIM = 384
METHODS = ("apricot-naive", "apricot-lazy", "apricot-euclidean", "ours-full", "ours-default")


def mixture(n: int, seed: int) -> np.ndarray:
    """``n`` unit vectors around 64 seeded centres (clusters of unequal size)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.gamma(1.0, size=64)
    labels = rng.choice(64, size=n, p=weights / weights.sum())
    x = centres[labels] + rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def objective(x: np.ndarray, picks: list[int]) -> float:
    """``sum_i max(0, max_{s in picks} x_i . x_s)``, blocked, accumulated in float64."""
    chosen = x[picks]
    total = 0.0
    for start in range(0, len(x), 8192):
        sims = x[start : start + 8192] @ chosen.T
        total += float(np.maximum(sims.max(axis=1), 0.0).sum(dtype=np.float64))
    return total


def _kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def run_child(spec: dict) -> dict:
    x = np.load(spec["data"])
    k, method = spec["k"], spec["method"]
    if method.startswith("apricot"):
        from apricot import FacilityLocationSelection

        # numba compiles on first use: warm up outside the timed region.
        warm = np.abs(np.random.default_rng(0).standard_normal((20, 20))).astype(np.float32)
        for opt in ("naive", "lazy"):
            FacilityLocationSelection(3, metric="precomputed", optimizer=opt).fit(warm)
        FacilityLocationSelection(3, metric="euclidean", optimizer="lazy").fit(x[:20])
    else:
        from safetymix.schema import Example
        from safetymix.select import Pool, get_strategy

        examples = [
            Example(
                id=f"x{i:06d}",
                instruction=f"p{i}",
                behaviour="T1",
                harmful_response=False,
                categories=["all"],
            )
            for i in range(len(x))
        ]
        pool = Pool(examples, categories=("all",), embeddings=x)
        params = {"n_ground": len(x), "n_candidates": len(x)} if method == "ours-full" else {}
        strategy = get_strategy("facility-location", seed=0, **params)
        row = {e.id: i for i, e in enumerate(examples)}
    base = _kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    t = time.perf_counter()
    if method in ("apricot-naive", "apricot-lazy"):
        sims = x @ x.T
        np.maximum(sims, 0.0, out=sims)
        sel = FacilityLocationSelection(k, metric="precomputed", optimizer=method.split("-")[1]).fit(sims)
        picks = [int(i) for i in sel.ranking]
    elif method == "apricot-euclidean":
        sel = FacilityLocationSelection(k, metric="euclidean", optimizer="lazy").fit(x)
        picks = [int(i) for i in sel.ranking]
    else:
        selection = strategy.select(pool, k)
        picks = [row[i] for i in selection.ids]
    seconds = time.perf_counter() - t
    peak = _kb("VmHWM")
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "extra_rss_mb": round((peak - base) / 1024, 1),
        "objective": round(objective(x, picks), 4),
        "picks": picks,
    }


def run_one(spec: dict, timeout: float) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    sizes = results["sizes"]
    for method in METHODS:
        runs = [results["runs"][str(n)].get(method, {}) for n in sizes]
        ok = [(n, r) for n, r in zip(sizes, runs, strict=True) if "seconds" in r]
        if not ok:
            continue
        ns = [n for n, _ in ok]
        axes[0].loglog(ns, [max(r["seconds"], 1e-3) for _, r in ok], marker="o", label=method)
        axes[1].loglog(ns, [max(r["extra_rss_mb"], 1.0) for _, r in ok], marker="o", label=method)
        axes[2].semilogx(ns, [r["objective_vs_apricot_naive"] for _, r in ok], marker="o", label=method)
    axes[0].set(xlabel="n", ylabel="selection wall time (s)", title=f"time, k={results['k']}")
    axes[1].set(xlabel="n", ylabel="peak RSS added by the selection (MB)", title="memory")
    axes[2].set(xlabel="n", ylabel="objective / apricot-naive", title="objective (1 = same)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0
    try:
        import apricot
    except ImportError:
        print("apricot is not installed: pip install apricot-select (or safetymix[bench])")
        return 1
    import tempfile

    results = {
        "benchmark": "apricot_compare",
        "apricot": apricot.__version__,
        "k": args.k,
        "sizes": args.sizes,
        "objective": "sum over all points of max(0, max cosine to a pick)",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "loadavg_at_start": list(os.getloadavg()),
            "note": "shared machine: other engineers' jobs ran beside this benchmark",
        },
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="apricot_compare_") as tmp:
        for n in args.sizes:
            data = Path(tmp) / f"x_{n}.npy"
            np.save(data, mixture(n, args.seed + n))
            runs: dict = {}
            for method in METHODS:
                r = run_one({"data": str(data), "k": args.k, "method": method}, args.timeout)
                runs[method] = r
                shown = (
                    r.get("error") or f"{r['seconds']:.2f} s, +{r['extra_rss_mb']:.0f} MB, F={r['objective']}"
                )
                print(f"n={n:>6} {method:<18} {shown}", flush=True)
            ref = runs["apricot-naive"]
            for r in runs.values():
                if "seconds" in r and "seconds" in ref:
                    r["objective_vs_apricot_naive"] = round(r["objective"] / ref["objective"], 6)
                    r["time_vs_apricot_naive"] = round(r["seconds"] / max(ref["seconds"], 1e-6), 3)
                    r["memory_vs_apricot_naive"] = round(r["extra_rss_mb"] / max(ref["extra_rss_mb"], 1.0), 3)
                    r["same_picks_as_apricot_naive"] = round(
                        len(set(r["picks"]) & set(ref["picks"])) / args.k, 3
                    )
            results["runs"][str(n)] = runs
    results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "apricot_compare.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "apricot_compare.png")
    print(
        f"\n{'n':>6} {'method':<18} {'time s':>8} {'+RSS MB':>8} {'objective':>12} {'F ratio':>8} "
        f"{'t ratio':>8} {'mem ratio':>9} {'same picks':>10}"
    )
    for n in args.sizes:
        for method, r in results["runs"][str(n)].items():
            if "seconds" not in r:
                print(f"{n:>6} {method:<18} {r['error']}")
                continue
            print(
                f"{n:>6} {method:<18} {r['seconds']:>8.2f} {r['extra_rss_mb']:>8.0f} {r['objective']:>12.2f} "
                f"{r.get('objective_vs_apricot_naive', 0):>8.4f} {r.get('time_vs_apricot_naive', 0):>8.3f} "
                f"{r.get('memory_vs_apricot_naive', 0):>9.3f} "
                f"{r.get('same_picks_as_apricot_naive', 0):>10.2f}"
            )
    print(f"wrote {args.out / 'apricot_compare.json'} and apricot_compare.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
