"""The report's tables as rows of strings, and the Markdown file ``results.md``."""

from __future__ import annotations

from collections.abc import Sequence

from safetymix.report.aggregate import Aggregate, Estimate
from safetymix.report.cells import METRICS

#: Column titles of the metrics.
TITLES = {
    "harmfulness": "harmfulness %",
    "harmful_refusal": "harmful refusal %",
    "over_refusal": "over-refusal %",
    "helpfulness": "helpfulness",
}


def fmt_estimate(e: Estimate | None, scale: float = 100.0, digits: int = 1) -> str:
    """``"46.0 [42.0, 50.0]"``; the mean alone without an interval; ``"-"`` for None."""
    if e is None:
        return "-"
    mean = f"{e.mean * scale:.{digits}f}"
    if e.low is None or e.high is None:
        return mean
    return f"{mean} [{e.low * scale:.{digits}f}, {e.high * scale:.{digits}f}]"


def _scale(metric: str) -> tuple[float, int]:
    return (1.0, 3) if metric == "helpfulness" else (100.0, 1)


def result_header(agg: Aggregate) -> list[str]:
    """Header of the results table (the helpfulness column says loss or reward)."""
    from safetymix.report.figures import helpfulness_label

    titles = [TITLES[m] for m in METRICS]
    titles[METRICS.index("helpfulness")] = f"helpfulness: {helpfulness_label(agg)}"
    return ["strategy", "k", *titles, f"reduction vs {agg.reference} %", "seeds"]


def result_rows(agg: Aggregate, model: str) -> list[list[str]]:
    """One row per strategy x budget of ``model`` (benign only first): mean [interval]."""
    rows = []
    for g in agg.groups:
        if g.model != model:
            continue
        cells = [fmt_estimate(g.metrics.get(m), *_scale(m)) for m in METRICS]
        reduction = "" if g.is_baseline or g.label == agg.reference else fmt_estimate(g.reduction)
        name = "none (benign only)" if g.is_baseline else g.label
        rows.append([name, str(g.budget), *cells, reduction, str(len(g.cells))])
    return rows


def failed_header() -> list[str]:
    return ["cell", "strategy", "k", "seed", "model", "error"]


def failed_rows(agg: Aggregate) -> list[list[str]]:
    rows = []
    for c in agg.failed:
        err = c.error or {}
        msg = " ".join(f"{err.get('type', 'error')}: {err.get('message', '')}".split())
        rows.append([c.cell_id, c.label, str(c.budget), str(c.seed), c.model, msg[:300]])
    return rows


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A GitHub-flavoured Markdown table; columns in ``right`` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def results_markdown(agg: Aggregate, figures: dict[str, str] | None = None) -> str:
    """``results.md``: per strategy x budget mean [interval] of every metric, failed cells, notes.

    Parameters
    ----------
    agg : Aggregate
    figures : dict, optional
        Figure title -> PNG file name (relative to the Markdown file), linked at the end.
    """
    pct = int(round(agg.confidence * 100))
    header = result_header(agg)
    lines = [
        "# Sweep results",
        "",
        f"Mean over seeds [{pct}% Student-t interval over seeds]; rates in %. "
        f"`reduction vs {agg.reference}` is the relative reduction of harmfulness "
        f"(h_{agg.reference} - h) / h_{agg.reference}, paired by seed (delta-method t interval). "
        "With one seed the interval is the cell's own evaluation interval.",
    ]
    right = list(range(1, len(header)))
    for model in agg.models:
        lines += ["", f"## {model}", "", markdown_table(header, result_rows(agg, model), right)]
    if agg.failed:
        lines += [
            "",
            f"## Failed cells ({len(agg.failed)})",
            "",
            markdown_table(failed_header(), failed_rows(agg)),
        ]
    if agg.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in agg.notes]
    if figures:
        lines += ["", "## Figures", ""] + [f"![{title}]({name})" for title, name in figures.items()]
    return "\n".join(lines) + "\n"
