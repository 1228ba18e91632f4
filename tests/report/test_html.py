"""The HTML page: self-contained, and loads in a real headless Chromium showing every figure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.report.browser import chromium, load_page
from tests.report.synthetic import ALL_FIGURES

from safetymix.report import ReportResult

FIGURES = set(ALL_FIGURES)

needs_chromium = pytest.mark.skipif(
    chromium() is None,
    reason="headless browser test needs Debian's chromium (apt-get install chromium; .ci/run installs it)",
)


def test_page_is_self_contained(built_report: ReportResult) -> None:
    page = built_report.html.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    # No external resource: every src is a data URI, no stylesheet link, no remote URL.
    srcs = re.findall(r'\ssrc="([^"]*)"', page)
    assert len(srcs) == len(FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in page and "http://" not in page and "https://" not in page
    for key in FIGURES:
        assert f'data-figure="{key}"' in page
    # the picks table and the failed cell are on the page
    assert "Tell me how to do harm 0" in page
    assert "CUDA out of memory" in page
    assert built_report.cell_id in page


@needs_chromium
def test_page_loads_in_headless_chromium_with_every_figure(
    built_report: ReportResult, tmp_path: Path
) -> None:
    load = load_page(built_report.html, tmp_path)
    assert load.console == [], "console messages:\n" + "\n".join(load.console)
    assert load.load_errors == []
    assert load.body.get("data-resources") == "0"  # nothing fetched: images are data URIs
    shown = {img["data-figure"]: int(img["data-natural-width"]) for img in load.images}
    assert set(shown) == FIGURES
    for key, width in shown.items():  # decoded: the browser knows the PNG's width
        assert width >= 500, f"{key} did not decode (naturalWidth {width})"
    assert load.dom.count("<figcaption>") == len(FIGURES)


@needs_chromium
def test_the_browser_check_catches_broken_pages(tmp_path: Path) -> None:
    """The same check on a broken page fails: console errors, a missing image, a fetch."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        '<img data-figure="x" src="missing.png"><script>console.error("boom"); notAFunction();</script>'
        "</body></html>",
        encoding="utf-8",
    )
    load = load_page(bad, tmp_path)
    assert any('"boom"' in line for line in load.console)
    assert any("Uncaught ReferenceError" in line for line in load.console)
    assert any(e.endswith("missing.png") for e in load.load_errors)
    assert load.images[0]["data-natural-width"] == "0"
