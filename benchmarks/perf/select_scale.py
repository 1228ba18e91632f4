"""Selection at scale: wall time and peak RSS of every strategy on synthetic pools.

Pools of 10k, 100k and 1M rows (384-dim unit vectors drawn from a Gaussian mixture,
float32, stored as ``.npy`` memmaps in a temp folder; 14 categories of unequal size, 30%
of rows with a second category; behaviour mix T1 60%, T2 8%, T3 9%, T4 23%; seeded),
Cossim reference sets of 200 vectors per category, and a synthetic 100k benign set for
``train-near``/``train-far``. Each (strategy, n) runs in a fresh subprocess that builds
the :class:`~safetymix.select.Pool` (examples + memmapped embeddings), resets its peak
RSS (``/proc/self/clear_refs``), then times ``strategy.select(pool, k)``.

Reported per run: selection wall time, peak RSS during selection (VmHWM after the reset),
RSS of the loaded pool (baseline) and the process's whole-life peak RSS. The goal
(issue 5): 1M rows < 60 s and < 4 GB peak RSS per strategy.

Usage::

    nice -n 10 python benchmarks/perf/select_scale.py                  # 10k, 100k, 1M
    nice -n 10 python benchmarks/perf/select_scale.py --sizes 10000 100000 --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DIM = 384
N_CENTRES = 512
CHUNK = 65536
BEHAVIOUR_SHARES = {"T1": 0.60, "T2": 0.08, "T3": 0.09, "T4": 0.23}
GOAL_SECONDS = 60.0
GOAL_RSS_GB = 4.0


# --------------------------------------------------------------------------- data


def _centres(seed: int) -> np.ndarray:
    c = np.random.default_rng(seed).standard_normal((N_CENTRES, DIM)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def _write_mixture(path: Path, n: int, centres: np.ndarray, seed: int, spread: float = 1.0) -> np.ndarray:
    """Unit vectors around ``centres`` (cluster label per row returned), written chunk by chunk."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    # Unequal cluster sizes, as real topics are.
    weights = rng.gamma(1.0, size=len(centres))
    labels = rng.choice(len(centres), size=n, p=weights / weights.sum())
    out = open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for start in range(0, n, CHUNK):
        lab = labels[start : start + CHUNK]
        x = centres[lab] + spread * rng.standard_normal((len(lab), DIM), dtype=np.float32) / np.sqrt(DIM)
        out[start : start + len(lab)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    del out
    return labels


def make_data(workdir: Path, sizes: list[int], n_train: int, n_categories: int, seed: int) -> dict:
    """Write every pool, the benign set and the reference sets; return their paths."""
    centres = _centres(seed)
    # Each mixture component belongs to one category; categories get unequal numbers of them.
    rng = np.random.default_rng(seed + 1)
    share = 1.0 / np.arange(2, n_categories + 2) ** 0.7
    cat_of_centre = rng.choice(n_categories, size=N_CENTRES, p=share / share.sum())
    paths: dict = {"pools": {}}
    for n in sizes:
        emb = workdir / f"pool_{n}.npy"
        labels = _write_mixture(emb, n, centres, seed + n)
        r = np.random.default_rng(seed + n + 7)
        primary = cat_of_centre[labels]
        second = np.where(r.random(n) < 0.3, r.integers(n_categories, size=n), -1)
        second[second == primary] = -1
        beh = r.choice(len(BEHAVIOUR_SHARES), size=n, p=list(BEHAVIOUR_SHARES.values())).astype(np.int8)
        meta = workdir / f"meta_{n}.npz"
        np.savez(meta, primary=primary.astype(np.int16), second=second.astype(np.int16), behaviour=beh)
        paths["pools"][str(n)] = {"embeddings": str(emb), "meta": str(meta)}
    train = workdir / "train.npy"
    _write_mixture(train, n_train, centres, seed + 99)
    paths["train"] = str(train)
    ref = np.zeros((n_categories, 200, DIM), dtype=np.float32)
    r = np.random.default_rng(seed + 3)
    for c in range(n_categories):
        mine = np.flatnonzero(cat_of_centre == c)
        mine = mine if len(mine) else np.arange(N_CENTRES)
        x = centres[r.choice(mine, size=200)] + r.standard_normal((200, DIM), dtype=np.float32) / np.sqrt(DIM)
        ref[c] = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.save(workdir / "reference.npy", ref)
    paths["reference"] = str(workdir / "reference.npy")
    return paths


# --------------------------------------------------------------------------- one run (child)


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_child(spec: dict) -> dict:
    """Build the pool from ``spec`` and time one selection; returns the measurements."""
    from safetymix.schema import Example
    from safetymix.select import Pool, get_strategy

    t0 = time.perf_counter()
    meta = np.load(spec["meta"])
    names = [f"category_{c:02d}" for c in range(spec["n_categories"])]
    behaviours = list(BEHAVIOUR_SHARES)
    primary, second, beh = meta["primary"], meta["second"], meta["behaviour"]
    examples = [
        Example(
            id=f"x{i:07d}",
            instruction=f"synthetic prompt {i}",
            response="synthetic response",
            behaviour=behaviours[beh[i]],
            harmful_response=False,
            categories=[names[primary[i]]] + ([names[second[i]]] if second[i] >= 0 else []),
        )
        for i in range(len(primary))
    ]
    emb = np.load(spec["embeddings"], mmap_mode="r")
    ref = np.load(spec["reference"])
    pool = Pool(
        examples,
        categories=names,
        embeddings=emb,
        reference={c: ref[j] for j, c in enumerate(names)},
        train_embeddings=np.load(spec["train"], mmap_mode="r"),
    )
    load_s = time.perf_counter() - t0
    baseline_kb = _rss_kb("VmRSS")
    load_peak_kb = _rss_kb("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    strategy = get_strategy(spec["strategy"], seed=spec["seed"])
    t1 = time.perf_counter()
    selection = strategy.select(pool, spec["k"])
    select_s = time.perf_counter() - t1
    check = {}
    if spec["strategy"].startswith("train-"):
        # How far the (possibly approximate) pick scores are from exact ones: cheap for k rows.
        from safetymix.select.search import max_similarity

        row = {e.id: i for i, e in enumerate(examples)}
        picked = np.array([row[p.id] for p in selection.picks])
        exact = max_similarity(emb, pool.train_embeddings, rows=np.sort(picked))
        exact = dict(zip(np.sort(picked).tolist(), exact.tolist(), strict=True))
        errs = [exact[row[p.id]] - p.score for p in selection.picks]
        check = {
            "pick_score_max_error": round(float(max(errs)), 6),
            "picks_with_exact_score": int(sum(e <= 1e-5 for e in errs)),
        }
    return {
        **check,
        "load_s": round(load_s, 3),
        "select_s": round(select_s, 3),
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "select_peak_rss_mb": round(_rss_kb("VmHWM") / 1024, 1),
        "select_extra_rss_mb": round((_rss_kb("VmHWM") - baseline_kb) / 1024, 1),
        "process_peak_rss_mb": round(max(load_peak_kb, _rss_kb("VmHWM")) / 1024, 1),
        "n_picked": len(selection.picks),
        "notes": [n for n in selection.notes if "approximate" in n],
    }


def run_one(spec: dict, timeout: float) -> dict:
    """Run :func:`run_child` in a fresh interpreter (so no run inherits another's memory)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    import sklearn

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "loadavg_at_start": list(os.getloadavg()),
        "note": "shared machine: other engineers' jobs ran beside this benchmark; timings are upper bounds",
    }


def slope(ns: list[int], ts: list[float]) -> float | None:
    """Least-squares slope of log(time) against log(n): the growth order."""
    ok = [(n, t) for n, t in zip(ns, ts, strict=True) if t and t > 0]
    if len(ok) < 2:
        return None
    x, y = np.log([n for n, _ in ok]), np.log([t for _, t in ok])
    return float(np.polyfit(x, y, 1)[0])


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = results["k"][0]
    fig, ax = plt.subplots(figsize=(9, 6.5))
    colours = plt.get_cmap("tab10")
    bases = list(dict.fromkeys(name.removesuffix("-b") for name in results["runs"][str(k)]))
    for name, runs in results["runs"][str(k)].items():
        ns = [int(n) for n, r in runs.items() if "select_s" in r]
        ts = [max(runs[str(n)]["select_s"], 1e-3) for n in ns]
        if not ns:
            continue
        style = {"color": colours(bases.index(name.removesuffix("-b")) % 10)}
        style["linestyle"] = "--" if name.endswith("-b") else "-"
        (line,) = ax.loglog(ns, ts, marker="o", label=name, **style)
        s = slope(ns, ts)
        if s is not None:
            ax.annotate(
                f"{s:.2f}",
                (ns[-1], ts[-1]),
                textcoords="offset points",
                xytext=(4, 0),
                fontsize=7,
                color=line.get_color(),
            )
    ax.axhline(GOAL_SECONDS, color="grey", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], GOAL_SECONDS * 1.08, "goal: 60 s", color="grey", fontsize=8)
    ax.set_xlabel("pool rows n")
    ax.set_ylabel("selection wall time (s)")
    ax.set_title(f"safetymix select, k={k}: time vs n (label = log-log slope, the growth order)")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table(results: dict) -> str:
    lines = []
    sizes = [str(n) for n in results["sizes"]]
    for k in results["k"]:
        lines.append(f"\nk = {k}   (time s / peak RSS during selection MB; pool-load baseline RSS in []):")
        head = (
            f"{'strategy':<22}" + "".join(f"{'n=' + n:>26}" for n in sizes) + f"{'slope':>8}{'x10 ratio':>12}"
        )
        lines.append(head)
        for name, runs in results["runs"][str(k)].items():
            cells, ns, ts = [], [], []
            for n in sizes:
                r = runs.get(n, {})
                if "select_s" in r:
                    peak, base = r["select_peak_rss_mb"], r["baseline_rss_mb"]
                    cells.append(f"{r['select_s']:>8.2f}s {peak:>7.0f}MB [{base:>5.0f}]")
                    ns.append(int(n))
                    ts.append(r["select_s"])
                else:
                    cells.append(f"{r.get('error', '-')[:24]:>26}")
            s = slope(ns, ts)
            ratio = f"{ts[-1] / ts[-2]:.1f}" if len(ts) >= 2 and ts[-2] > 0 else "-"
            lines.append(
                f"{name:<22}"
                + "".join(f"{c:>26}" for c in cells)
                + f"{s if s is None else round(s, 2)!s:>8}{ratio:>12}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--k", type=int, nargs="+", default=[100])
    parser.add_argument("--strategies", nargs="+", default=None, help="default: every registered name")
    parser.add_argument("--train-size", type=int, default=100_000)
    parser.add_argument("--categories", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder, removed after")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0

    from safetymix.select import available_strategies

    names = args.strategies or available_strategies()
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="select_scale_")
        args.workdir = Path(tmp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    paths = make_data(args.workdir, args.sizes, args.train_size, args.categories, args.seed)
    print(f"synthetic data written to {args.workdir} in {time.perf_counter() - t:.1f} s", flush=True)
    results = {
        "benchmark": "select_scale",
        "machine": machine(),
        "sizes": args.sizes,
        "k": args.k,
        "dim": DIM,
        "n_categories": args.categories,
        "n_train": args.train_size,
        "behaviour_shares": BEHAVIOUR_SHARES,
        "dtype": "float32 memmap (.npy)",
        "goal": {"seconds": GOAL_SECONDS, "peak_rss_gb": GOAL_RSS_GB, "at_n": 1_000_000},
        "runs": {},
    }
    for k in args.k:
        results["runs"][str(k)] = {}
        for name in names:
            results["runs"][str(k)][name] = {}
            for n in args.sizes:
                spec = {
                    "strategy": name,
                    "k": k,
                    "seed": args.seed,
                    "n_categories": args.categories,
                    **paths["pools"][str(n)],
                    "train": paths["train"],
                    "reference": paths["reference"],
                }
                r = run_one(spec, args.timeout)
                results["runs"][str(k)][name][str(n)] = r
                shown = r.get("error") or f"{r['select_s']:.2f} s, {r['select_peak_rss_mb']:.0f} MB peak"
                print(f"k={k} {name:<22} n={n:>9,}: {shown}", flush=True)
    results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    big = str(max(args.sizes))
    verdict = {}
    for k in args.k:
        for name, runs in results["runs"][str(k)].items():
            r = runs[big]
            ok = (
                "select_s" in r
                and r["select_s"] < GOAL_SECONDS
                and r["select_peak_rss_mb"] < GOAL_RSS_GB * 1024
            )
            verdict[f"k={k} {name}"] = (
                "met"
                if ok
                else f"gap: {r.get('select_s', r.get('error'))} s, {r.get('select_peak_rss_mb', '-')} MB"
            )
    results["goal_at_largest_n"] = verdict
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "select_scale.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "select_scale.png")
    print(table(results))
    print(f"\nmachine: {results['machine']}")
    print(f"wrote {args.out / 'select_scale.json'} and select_scale.png")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
