"""Load a page in Debian's headless Chromium and report what a user's browser would show.

The page is copied with a small probe script added at the top of ``<head>``: it records
every resource load error (capture phase, so image errors are seen too), and after the
``load`` event writes each image's ``naturalWidth``, the number of fetched resources
(data URIs are not fetched) and the errors into the DOM, which ``--dump-dom`` prints.
Console messages (``console.*`` and uncaught exceptions) come from Chromium's own log on
stderr (``INFO:CONSOLE`` lines).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

PROBE = """<script>
window.__loadErrors = [];
window.addEventListener("error", (e) => {
  const t = e.target;
  window.__loadErrors.push((t && (t.src || t.href)) || String(e.message));
}, true);
window.addEventListener("load", () => {
  for (const img of document.images) img.setAttribute("data-natural-width", String(img.naturalWidth));
  document.body.setAttribute("data-resources", String(performance.getEntriesByType("resource").length));
  document.body.setAttribute("data-load-errors", JSON.stringify(window.__loadErrors));
});
</script>"""

_CONSOLE = re.compile(r"CONSOLE|Uncaught|Failed to load resource|net::ERR_")


def chromium() -> str | None:
    """Path of the chromium binary, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    images: list[dict[str, str]]
    body: dict[str, str]
    console: list[str]
    dom: str

    @property
    def load_errors(self) -> list[str]:
        return json.loads(self.body.get("data-load-errors", "[]"))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})
        elif tag == "body":
            self.body = {k: v or "" for k, v in attrs}


def load_page(html: Path, work: Path, timeout: float = 60.0) -> PageLoad:
    """Open a probed copy of ``html`` (kept beside it, so relative URLs resolve the same)."""
    binary = chromium()
    assert binary is not None, "chromium is not installed"
    text = html.read_text(encoding="utf-8")
    anchor = '<meta charset="utf-8">' if '<meta charset="utf-8">' in text else "<head>"
    probed = html.with_name(f".probe-{html.name}")
    probed.write_text(text.replace(anchor, anchor + PROBE, 1), encoding="utf-8")
    try:
        proc = subprocess.run(
            [
                binary,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--disable-extensions",
                "--enable-logging=stderr",
                "--v=0",
                f"--user-data-dir={work / 'chromium-profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probed.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        probed.unlink(missing_ok=True)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    parser = _Collector()
    parser.feed(proc.stdout)
    console = [line for line in proc.stderr.splitlines() if _CONSOLE.search(line)]
    return PageLoad(parser.images, parser.body, console, proc.stdout)
