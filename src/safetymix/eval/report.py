"""Writing an evaluation report (JSON + per-item JSONL) and showing it as a rich table."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def items_path(out: str | Path) -> Path:
    """Where the per-item records of the report at ``out`` go: ``<out>.items.jsonl``."""
    out = Path(out)
    return out.with_name(out.name + ".items.jsonl")


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path | None]:
    """Write the report (without ``items``) to ``out`` and the items beside it, atomically.

    Returns
    -------
    (report_path, items_path or None)
    """
    from safetymix.io import write_json
    from safetymix.judge.responses import write_jsonl

    out = Path(out)
    items = report.get("items") or []
    body = {k: v for k, v in report.items() if k != "items"}
    written_items = None
    if items:
        written_items = items_path(out)
        body["items_file"] = written_items.name
        write_jsonl(written_items, items)
    write_json(out, body)
    return out, written_items


def format_summary(summary: dict[str, Any]) -> tuple[str, str, str]:
    """``(value, interval, n)`` strings of a rate (as %) or mean summary."""
    n = f"{summary['n_judged']}/{summary['n']}" if summary["n_unjudged"] else str(summary["n"])
    key, scale, fmt, unit = ("rate", 100, ".1f", "%") if "rate" in summary else ("mean", 1, ".3f", "")
    if summary[key] is None:
        return "-", "-", n
    low, high = scale * summary["ci_low"], scale * summary["ci_high"]
    return f"{scale * summary[key]:{fmt}}{unit}", f"{low:{fmt}}-{high:{fmt}}", n


#: Short metric names for the table (the report keeps the full keys).
_SHORT = {"refusal_rate": "refusal", "harmful_rate": "harmful", "harm_score": "harm score"}


def _better(direction: str) -> str:
    return direction.split(" ")[0] if direction else ""


def report_table(report: dict[str, Any], *, per_category: bool = False) -> Any:
    """A ``rich.table.Table``: one row per suite and metric (and category), then pooled rows.

    Rates are in percent; ``better`` says which way is good (``higher`` or ``lower``).
    """
    from rich.table import Table

    table = Table(title="safetymix eval")
    table.add_column("suite", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for col in ("value", "95% CI", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("better", no_wrap=True)
    for name, suite in report["suites"].items():
        metrics = suite["metrics"]
        for metric, summary in metrics["overall"].items():
            better = _better(suite["directions"].get(metric, ""))
            table.add_row(name, suite["kind"], _SHORT.get(metric, metric), *format_summary(summary), better)
        if per_category:
            for cat, cat_metrics in metrics["per_category"].items():
                for metric, summary in cat_metrics.items():
                    table.add_row(f"  {cat}", "", _SHORT.get(metric, metric), *format_summary(summary), "")
    for kind, pooled in report.get("summary", {}).items():
        if len(pooled["suites"]) < 2:
            continue
        for metric, summary in pooled["metrics"].items():
            better = _better(pooled["directions"].get(metric, ""))
            row = (f"[bold]all {kind}[/bold]", kind, _SHORT.get(metric, metric))
            table.add_row(*row, *format_summary(summary), better)
    return table


def agreement_table(report: dict[str, Any]) -> Any:
    """A ``rich.table.Table`` of judge agreement (Cohen's kappa) per suite and pooled per kind;
    None when fewer than two judges ran."""
    from rich.table import Table

    rows = [(name, s["kind"], s["agreement"]) for name, s in report["suites"].items() if "agreement" in s]
    rows += [
        (f"all {k}", k, p["agreement"]) for k, p in report.get("summary", {}).items() if "agreement" in p
    ]
    if not rows:
        return None
    table = Table(title="judge agreement (Cohen's kappa)")
    for col in ("suite", "kind", "judges", "compared on", "kappa", "agree", "n"):
        table.add_column(col, justify="right" if col in ("kappa", "agree", "n") else "left")
    for name, kind, block in rows:
        for pair, a in block["pairs"].items():
            kappa = "-" if a["kappa"] is None else f"{a['kappa']:.3f}"
            agree = "-" if a["agreement"] is None else f"{100 * a['agreement']:.1f}%"
            table.add_row(name, kind, pair, block["measure"].split(" (")[0], kappa, agree, str(a["n"]))
    return table
