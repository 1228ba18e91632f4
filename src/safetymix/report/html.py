"""One self-contained HTML page: PNGs as base64 data URIs, inline CSS, no script, no external resource."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from safetymix.report.aggregate import Aggregate
from safetymix.report.cells import Cell, Run
from safetymix.report.tables import failed_header, failed_rows, result_header, result_rows

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #444; max-width: 900px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; white-space: nowrap; }
.notes { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5rem 1rem; }
.meta td:first-child { font-weight: 600; } code { background: #f4f4f4; padding: 0 0.2rem; }
"""


@dataclass(frozen=True)
class FigureEntry:
    """A figure of the page: key (file stem), title, PNG path and how to read it."""

    key: str
    title: str
    path: Path
    caption: str


def data_uri(path: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        tds = "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(fig: FigureEntry) -> str:
    return (
        f'<figure id="fig-{escape(fig.key)}"><img class="report-figure" data-figure="{escape(fig.key)}" '
        f'alt="{escape(fig.title)}" src="{data_uri(fig.path)}">'
        f"<figcaption><strong>{escape(fig.title)}.</strong> {escape(fig.caption)}</figcaption></figure>"
    )


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'


def render_html(
    run: Run,
    agg: Aggregate,
    figures: Sequence[FigureEntry],
    *,
    cell: Cell | None,
    pick_rows: Sequence[dict[str, str]],
    pool_figure: FigureEntry | None,
    notes: Sequence[str],
    version: str,
) -> str:
    """The whole page as a string (UTF-8, no external resource, no JavaScript)."""
    ok, failed = len(run.ok_cells), len(run.failed_cells)
    seeds = sorted({c.seed for c in run.cells})
    meta = [
        ("run folder", str(run.run_dir)),
        ("cells", f"{ok} ok, {failed} failed"),
        ("models", ", ".join(agg.models)),
        ("strategies", ", ".join(agg.labels())),
        ("budgets k", ", ".join(map(str, agg.budgets()))),
        ("seeds", ", ".join(map(str, seeds))),
        ("reference strategy", agg.reference),
        ("safetymix", version),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>safetymix sweep report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>safetymix sweep report</h1>",
        '<table class="meta">'
        + "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in meta)
        + "</table>",
        _notes(list(notes)),
    ]
    for fig in figures:
        parts.append(f"<h2>{escape(fig.title)}</h2>")
        parts.append(_figure(fig))
    pct = int(round(agg.confidence * 100))
    header = result_header(agg)
    numeric = list(range(1, len(header)))
    parts.append("<h2>Results table</h2>")
    parts.append(
        f"<p>Mean over seeds [{pct}% Student-t interval over seeds]; rates in %. The reduction column is "
        f"(h_{escape(agg.reference)} - h) / h_{escape(agg.reference)}, paired by seed.</p>"
    )
    for model in agg.models:
        if len(agg.models) > 1:
            parts.append(f"<h3>{escape(model)}</h3>")
        parts.append(_table(header, result_rows(agg, model), numeric))
    parts.append("<h2>One cell up close</h2>")
    if cell is None:
        parts.append("<p>No cell recorded picks.</p>")
    else:
        parts.append(
            f"<p>Cell <code>{escape(cell.cell_id)}</code>: {escape(cell.label)}, k={cell.budget}, "
            f"seed {cell.seed}, model {escape(cell.model)}"
            + (f", harmfulness {100 * h:.1f}%" if (h := cell.value("harmfulness")) is not None else "")
            + ".</p>"
        )
        cols = ["rank", "id", "prompt", "behaviour", "categories", "reason"]
        parts.append(_table(cols, [[r[c] for c in cols] for r in pick_rows], numeric=[0]))
        if pool_figure is not None:
            parts.append(_figure(pool_figure))
    if agg.failed:
        parts.append(f"<h2>Failed cells ({len(agg.failed)})</h2>")
        parts.append(_table(failed_header(), failed_rows(agg), numeric=[2, 3]))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p) + "\n"
