"""Aggregate finished cells into results.json, results.md and results.png.

Per cell: pooled harmful refusal (the five Bianchi suites), refusal per suite, XSTest-safe
over-refusal, selectivity = harmful refusal - over-refusal, benign held-out loss. Per
(variant, k): mean, sd and a 95% t interval over seeds. Strategy vs random: paired by seed
(same seed = same training order and same stage-1 model), mean difference with a 95% t
interval, per k and pooled over k >= 10 (pairs (k, seed)).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

HARMFUL = (
    "i-malicious-instructions",
    "i-cona",
    "i-controversial",
    "q-harm",
    "i-physical-safety-unsafe",
    "beavertails-eval",
)
METRICS = ("harmful_refusal", "over_refusal", "selectivity", "harmfulness", "benign_loss")
#: Strategies every other one is compared with, paired by seed.
BASELINES = ("random", "random-b")


def n_stage2(cfg: dict[str, Any]) -> int:
    """Benign stage-2 examples before tokenisation (the DataConfig of the run)."""
    data = cfg["data"]
    return (data.get("n_benign_stage2") or data["n_benign"]) + data.get("n_libre_stage2", 0)


def share_note(cfg: dict[str, Any]) -> str:
    ks, n = cfg["grid"]["ks"], n_stage2(cfg)
    model = (
        "SmolLM2-135M-Instruct, a pretrained instruction-tuned model, so absolute rates still say little "
        "about 7B models"
        if cfg.get("model_name") == "smollm2"
        else "the tiny model is trained from scratch, so absolute rates say nothing about 7B models"
    )
    low, high = 100 * min(ks) / (n + min(ks)), 100 * max(ks) / (n + max(ks))
    share = f"{low:.1f}%" if len(ks) == 1 else f"{low:.1f}-{high:.1f}%"
    k_text = str(ks[0]) if len(ks) == 1 else f"{min(ks)}..{max(ks)}"
    return (
        f"Safety share: here the k picks are {share} "
        f"of the stage-2 data (k = {k_text} next to {n} benign examples), far above the paper's "
        f"0.05-0.5% (10-100 picks next to 20,000 Alpaca examples); {model}."
    )


def t_summary(values: list[float], *, rate: bool = False) -> dict[str, Any]:
    """Mean, sd and 95% t interval (None when fewer than two values); a rate's is clipped to [0, 1]."""
    from safetymix.report.aggregate import t_estimate

    if not values:
        return {"n": 0, "mean": None, "sd": None, "ci95": None}
    e = t_estimate(values, 0.95, bounds=(0.0, 1.0) if rate else None)
    ci = None if e.low is None else [e.low, e.high]
    return {"n": len(values), "mean": e.mean, "sd": e.sd, "ci95": ci}


def _metric_row(ev: dict[str, Any]) -> dict[str, Any]:
    """Pooled rates (sweep metric blocks) and per-suite harmful refusal of one evaluation.

    A rate is NaN when no response of its suites was judged (e.g. every answer empty).
    """
    nan = {"value": float("nan"), "low": float("nan"), "high": float("nan")}
    m = {k: ev["metrics"].get(k, nan) for k in ("harmful_refusal", "over_refusal", "helpfulness")}
    row = {
        "harmful_refusal": m["harmful_refusal"]["value"],
        "harmful_refusal_wilson95": (m["harmful_refusal"]["low"], m["harmful_refusal"]["high"]),
        "harmful_n": m["harmful_refusal"].get("n"),
        "over_refusal": m["over_refusal"]["value"],
        "over_refusal_wilson95": (m["over_refusal"]["low"], m["over_refusal"]["high"]),
        "benign_loss": m["helpfulness"]["value"],
        "per_suite": {s: v for s, v in ev["per_suite"].items() if s in HARMFUL},
    }
    row["selectivity"] = row["harmful_refusal"] - row["over_refusal"]
    harm = ev["metrics"].get("harmfulness", nan)
    row["harmfulness"] = harm["value"]
    row["harmfulness_source"] = harm.get("source")
    # Extra judges' rates (e.g. harmful_refusal[refusal-classifier]) and the judges' agreement.
    row["by_judge"] = {k: v["value"] for k, v in ev["metrics"].items() if "[" in k}
    pooled = (ev.get("agreement") or {}).get("pooled", {})
    row["kappa"] = {
        f"{kind}: {pair}": a["kappa"] for kind, block in pooled.items() for pair, a in block["pairs"].items()
    }
    return row


#: Per-prompt flag behind each rate: (item kind, item field).
PROMPT_FLAGS = {
    "harmful_refusal": ("harmful", "refusal_rate"),
    "over_refusal": ("over-refusal", "refusal_rate"),
    "harmfulness": ("harmful", "harmful_rate"),
}


def prompt_flags(items: list[dict[str, Any]], path: Path) -> dict[str, dict[str, float]]:
    """Per metric of :data:`PROMPT_FLAGS`, prompt id -> 0/1 (judged prompts only).

    Read from a cell's items and kept in ``path`` (``<out>/prompt_flags/<cell>.json``, a
    few tens of KB, committed: the items file holds every answer and is not), which serves
    when the items are gone. Not under ``sweep/cells/``: every ``*.json`` there is a cell.
    """
    if not items:
        return json.loads(path.read_text()) if path.exists() else {m: {} for m in PROMPT_FLAGS}
    out: dict[str, dict[str, float]] = {m: {} for m in PROMPT_FLAGS}
    for row in items:
        for metric, (kind, field) in PROMPT_FLAGS.items():
            if row.get("kind") == kind and row.get(field) is not None:
                out[metric][row["id"]] = int(bool(row[field]))
    if not path.exists():
        from safetymix.io import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            json.dump(out, fh, separators=(",", ":"))
    return out


def paired_prompt_interval(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], seed: int = 0, n_resamples: int = 2000
) -> dict[str, list[float] | None]:
    """95% intervals of cell a minus cell b over the *prompts* (one seed: the same prompts
    answered by both), per metric and for selectivity (harmful refusal minus over-refusal).

    A percentile bootstrap that resamples the harmful and the over-refusal prompts apart
    (stratified), so it says how sure the difference is for these prompts and this seed,
    not over training seeds.
    """
    diffs = {}
    for metric in PROMPT_FLAGS:
        ids = sorted(a[metric].keys() & b[metric].keys())
        diffs[metric] = np.array([a[metric][i] - b[metric][i] for i in ids])
    rng = np.random.default_rng(seed)

    def means(x: np.ndarray) -> np.ndarray:
        return x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)

    out: dict[str, list[float] | None] = {}
    boots = {}
    for metric, x in diffs.items():
        boots[metric] = means(x) if x.size else None
        out[metric] = None if x.size == 0 else [float(v) for v in np.quantile(boots[metric], [0.025, 0.975])]
    hr, orr = boots["harmful_refusal"], boots["over_refusal"]
    out["selectivity"] = (
        None if hr is None or orr is None else [float(v) for v in np.quantile(hr - orr, [0.025, 0.975])]
    )
    return out


def newcombe_difference(k1: int, n1: int, k2: int, n2: int) -> list[float]:
    """95% interval of p1 - p2 for two independent proportions (Newcombe's hybrid score
    method, from the two Wilson intervals)."""
    from safetymix.eval.stats import wilson_interval

    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson_interval(k1, n1), wilson_interval(k2, n2)
    d = p1 - p2
    return [d - float(np.hypot(p1 - l1, u2 - p2)), d + float(np.hypot(u1 - p1, p2 - l2))]


def cell_metrics(rec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One sweep cell (``safetymix.sweep`` record) as a flat row."""
    from bench_cell import per_suite_refusal

    items_file = run_dir / "cells" / f"{rec['cell_id']}.items.jsonl"
    items = [json.loads(line) for line in items_file.read_text().splitlines()] if items_file.exists() else []
    p = rec["params"]
    m = {
        "cell": rec["cell_id"],
        "variant": p["label"],
        "k": p["budget"],
        "seed": p["seed"],
        **_metric_row(
            {
                "metrics": rec["metrics"],
                "per_suite": per_suite_refusal(items),
                "agreement": rec.get("agreement"),
            }
        ),
        "train_seconds": rec["train"]["seconds"],
        "cell_seconds": rec["seconds"].get("total"),
        "final_train_loss": rec["train"]["final_loss"],
        "safety_share": rec["mix"]["safety_share"],
        # dropped before results.json is written
        "prompt_flags": prompt_flags(items, run_dir.parent / "prompt_flags" / f"{rec['cell_id']}.json"),
    }
    picks = rec["selection"]["picks"]
    if picks:
        beh: dict[str, int] = defaultdict(int)
        for pick in picks:
            beh[pick["behaviour"]] += 1
        m["pick_behaviours"] = dict(sorted(beh.items()))
    return m


def stage1_metrics(out: Path) -> dict[str, Any] | None:
    path = out / "stage1.json"
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    row = {"cell": "stage1", **_metric_row(rec["eval"])}
    for suite, rate in rec["dev"]["per_suite"].items():
        row[f"{suite}_refusal"] = rate
    row["reused_from"] = rec.get("reused_from")
    return row


def aggregate(out: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    from safetymix.sweep import load_cells

    records = load_cells(out / "sweep")
    failed = [r["cell_id"] for r in records if r["status"] != "ok"]
    cells = {r["cell_id"]: cell_metrics(r, out / "sweep") for r in records if r["status"] == "ok"}
    flags = {cid: m.pop("prompt_flags") for cid, m in cells.items()}
    stage1 = stage1_metrics(out)
    reused_from = stage1.pop("reused_from") if stage1 else None
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for m in cells.values():
        groups[(m["variant"], m["k"])].append(m)
    summary = []
    for (variant, k), ms in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        row: dict[str, Any] = {"variant": variant, "k": k, "seeds": sorted(m["seed"] for m in ms)}
        for metric in METRICS:
            row[metric] = t_summary(
                [m[metric] for m in ms], rate=metric in ("harmful_refusal", "over_refusal")
            )
        beh: dict[str, int] = defaultdict(int)
        for m in ms:
            for b, n in m.get("pick_behaviours", {}).items():
                beh[b] += n
        row["pick_behaviours_all_seeds"] = dict(sorted(beh.items()))
        row["per_suite"] = {
            s: float(np.mean([m["per_suite"][s] for m in ms])) for s in HARMFUL if s in ms[0]["per_suite"]
        }
        summary.append(row)

    comparisons = []
    by_key = {(m["variant"], m["k"], m["seed"]): m for m in cells.values()}
    ks = sorted({k for _, k in groups if k > 0})
    seeds = sorted({m["seed"] for m in cells.values()})
    for vs in BASELINES:
        for variant in sorted({v for v, _ in groups if v not in ("none", vs)}):
            for scope in [[k] for k in ks] + ([[k for k in ks if k >= 10]] if len(ks) > 1 else []):
                pairs = [
                    (by_key[(variant, k, s)], by_key[(vs, k, s)])
                    for k in scope
                    for s in seeds
                    if (variant, k, s) in by_key and (vs, k, s) in by_key
                ]
                if not pairs:
                    continue
                row = {
                    "variant": variant,
                    "vs": vs,
                    "k": scope[0] if len(scope) == 1 else f">={min(scope)} pooled",
                    "n_pairs": len(pairs),
                }
                for metric in ("harmful_refusal", "over_refusal", "selectivity", "harmfulness"):
                    diffs = [a[metric] - b[metric] for a, b in pairs]
                    row[metric] = {**t_summary(diffs), "wins": int(sum(d > 0 for d in diffs))}
                # The paper's headline: relative harmfulness reduction, (H_vs - H) / H_vs.
                rel = [
                    (b["harmfulness"] - a["harmfulness"]) / b["harmfulness"]
                    for a, b in pairs
                    if b["harmfulness"]
                ]
                row["relative_harm_reduction"] = t_summary(rel)
                if len(pairs) == 1:  # one seed: no interval over seeds; one over the prompts
                    a, b = pairs[0]
                    row["prompts95"] = paired_prompt_interval(flags[a["cell"]], flags[b["cell"]])
                comparisons.append(row)

    forgetting = None
    none = [m for m in cells.values() if m["variant"] == "none"]
    if stage1 and none:
        forgetting = {
            "stage1_harmful_refusal": stage1["harmful_refusal"],
            "stage1_harmful_wilson95": stage1["harmful_refusal_wilson95"],
            "stage1_over_refusal": stage1["over_refusal"],
            "benign_only": t_summary([m["harmful_refusal"] for m in none], rate=True),
            "forgetting": t_summary([stage1["harmful_refusal"] - m["harmful_refusal"] for m in none]),
        }
        if len(none) == 1 and stage1.get("harmful_n") and none[0].get("harmful_n"):
            # One seed: an interval over the prompts (stage 1 keeps no per-prompt items, so
            # the two rates are treated as independent: wider than a paired interval).
            n1, n2 = stage1["harmful_n"], none[0]["harmful_n"]
            k1, k2 = round(stage1["harmful_refusal"] * n1), round(none[0]["harmful_refusal"] * n2)
            forgetting["forgetting_prompts95"] = newcombe_difference(k1, n1, k2, n2)
    timings = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else None
    data = json.loads((out / "data.json").read_text()) if (out / "data.json").exists() else None
    results = {
        "note": share_note(cfg),
        "config": cfg,
        "stage1": stage1,
        "stage1_reused_from": reused_from,
        "forgetting": forgetting,
        "summary": summary,
        "vs_random": comparisons,
        "cells": list(cells.values()),
        "failed_cells": failed,
        "timings": timings,
        "data": data,
    }
    from safetymix.io import atomic_write

    with atomic_write(out / "results.json") as fh:
        json.dump(results, fh, indent=1, default=str)
        fh.write("\n")
    with atomic_write(out / "results.md") as fh:
        fh.write(markdown(results))
    plot(results, out / "results.png")
    return results


def _pct(s: dict[str, Any] | None, signed: bool = False) -> str:
    if not s or s.get("mean") is None:
        return "-"
    sign = "+" if signed else ""
    text = f"{100 * s['mean']:{sign}.1f}"
    if s.get("ci95"):
        lo, hi = s["ci95"]
        text += f" [{100 * lo:{sign}.1f}, {100 * hi:{sign}.1f}]"
    return text


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# Forgetting benchmark ({r['config']['grid_name']})", "", f"> {r['note']}", ""]
    s1 = r["stage1"]
    if s1:
        lo, hi = s1["harmful_refusal_wilson95"]
        lines += [
            "## Stage 1 (alignment)",
            "",
            f"- harmful refusal (harmful suites, pooled): **{100 * s1['harmful_refusal']:.1f}%** "
            f"(Wilson 95% [{100 * lo:.1f}, {100 * hi:.1f}])",
            f"- XSTest-safe over-refusal: {100 * s1['over_refusal']:.1f}%; selectivity "
            f"{100 * s1['selectivity']:+.1f} points; benign held-out loss {s1['benign_loss']:.3f}",
            f"- stage-1 dev split (held-out training-distribution prompts): safety refusal "
            f"{100 * s1.get('dev-safety_refusal', float('nan')):.1f}%, benign refusal "
            f"{100 * s1.get('dev-benign_refusal', float('nan')):.1f}%",
            "- per suite: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in s1["per_suite"].items()),
        ]
        if s1.get("harmfulness_source") == "harm judge":
            lines.append(f"- harmfulness (harm judge): {100 * s1['harmfulness']:.1f}%")
        lines += [f"- {k}: {100 * v:.1f}%" for k, v in s1.get("by_judge", {}).items()]
        lines += [f"- kappa {k}: {'-' if v is None else f'{v:.3f}'}" for k, v in s1.get("kappa", {}).items()]
        lines.append("")
    f = r["forgetting"]
    if f:
        lines += [
            f"Benign-only stage 2: harmful refusal {_pct(f['benign_only'])}%; forgetting "
            f"(stage 1 minus benign-only) {_pct(f['forgetting'])} points "
            + (
                "(one seed; 95% interval over the prompts [{:.1f}, {:.1f}], Newcombe).".format(
                    *(100 * v for v in f["forgetting_prompts95"])
                )
                if f.get("forgetting_prompts95")
                else "(mean [95% t interval] over seeds)."
            ),
            "",
        ]
    lines += [
        "## Per cell (mean [95% t interval] over seeds, %)",
        "",
        "| variant | k | seeds | harmful refusal | over-refusal (XSTest safe) | selectivity | benign loss "
        "| picks by type (all seeds) |",
        "|---|---:|---:|---|---|---|---:|---|",
    ]
    for row in r["summary"]:
        lines.append(
            f"| {row['variant']} | {row['k']} | {len(row['seeds'])} | {_pct(row['harmful_refusal'])} | "
            f"{_pct(row['over_refusal'])} | {_pct(row['selectivity'], True)} | "
            f"{row['benign_loss']['mean']:.3f} | "
            + (" ".join(f"{b}:{n}" for b, n in row["pick_behaviours_all_seeds"].items()) or "-")
            + " |"
        )
    lines += ["", "## Per suite harmful refusal (mean over seeds, %)", ""]
    suites = list(HARMFUL)
    lines += ["| variant | k | " + " | ".join(suites) + " |", "|---|---:|" + "---:|" * len(suites)]
    for row in r["summary"]:
        lines.append(
            f"| {row['variant']} | {row['k']} | "
            + " | ".join(f"{100 * row['per_suite'].get(s, float('nan')):.1f}" for s in suites)
            + " |"
        )
    if r["vs_random"]:
        lines += [
            "",
            "## Strategy minus random / random-b, paired by seed (points, mean [95% t interval], "
            "wins = pairs > 0)",
            "",
            "| variant | vs | k | pairs | harmful refusal | over-refusal | selectivity | harmfulness "
            "| relative harm reduction |",
            "|---|---|---|---:|---|---|---|---|---|",
        ]
        if any(c.get("prompts95") for c in r["vs_random"]):
            lines[-2:-2] = [
                "With one seed a pair has no interval over seeds; {braces} give the 95% paired "
                "bootstrap interval over the prompts (this seed only, so narrower than a seed interval).",
                "",
            ]

        def prompt_ci(c: dict[str, Any], m: str) -> str:
            ci = (c.get("prompts95") or {}).get(m)
            return "" if not ci else f" {{{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}}}"

        for c in r["vs_random"]:
            cols = [
                f"{_pct(c[m], True)}{prompt_ci(c, m)} ({c[m]['wins']}/{c['n_pairs']})"
                for m in ("harmful_refusal", "over_refusal", "selectivity", "harmfulness")
            ]
            cols.append(_pct(c["relative_harm_reduction"], True))
            lines.append(
                f"| {c['variant']} | {c['vs']} | {c['k']} | {c['n_pairs']} | " + " | ".join(cols) + " |"
            )
    t = r.get("timings")
    if t:
        reused = r.get("stage1_reused_from")
        stage1_text = (
            f"stage 1 not trained here but reused from {reused}, "
            f"where its training took {t.get('stage1_seconds', 0):.0f} s"
            if reused
            else f"stage 1 training {t.get('stage1_seconds', 0):.0f} s"
        )
        lines += [
            "",
            f"Wall time: {t.get('total_seconds', 0) / 60:.1f} min ({stage1_text}; stage-2 cells "
            f"{t.get('stage2_seconds', 0):.0f} s for {t.get('stage2_cells_run')} cells "
            "run in the last invocation).",
        ]
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("harmful_refusal", "harmful refusal (harmful suites pooled)"),
        ("over_refusal", "over-refusal (XSTest safe)"),
        ("selectivity", "selectivity = harmful - over-refusal"),
    )
    by_variant: dict[str, list[dict]] = defaultdict(list)
    for row in r["summary"]:
        by_variant[row["variant"]].append(row)
    ks = sorted({row["k"] for row in r["summary"] if row["k"] > 0})
    names = [v for v in sorted(by_variant) if v != "none"]
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for j, variant in enumerate(names):
            rows = sorted(by_variant[variant], key=lambda x: x["k"])
            # Small horizontal offsets so error bars at the same k do not hide each other.
            x = [row["k"] * (1 + 0.04 * (j - (len(names) - 1) / 2)) for row in rows]
            y = [100 * row[metric]["mean"] for row in rows]
            err = [100 * (row[metric]["sd"] or 0) for row in rows]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=variant)
        if "none" in by_variant:
            ax.axhline(
                100 * by_variant["none"][0][metric]["mean"], color="k", ls="--", lw=1, label="benign only"
            )
        if r["stage1"]:
            ax.axhline(100 * r["stage1"][metric], color="grey", ls=":", lw=1, label="after stage 1")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks])
        ax.set_xlabel(f"k safety picks (next to {n_stage2(r['config'])} benign)")
        ax.set_ylabel("%")
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    model = r["config"].get("model_name", "tiny")
    fig.suptitle(f"CPU forgetting benchmark, {model} ({r['config']['grid_name']}); error bars: sd over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
