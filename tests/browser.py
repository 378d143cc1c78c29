"""Open an HTML file in real headless Chromium with every network request blocked.

Used by the map tests, and to refresh the documentation screenshot:
``python -m tests.browser MAP.html docs/img/gap_map.png``.

Chromium comes from the system packages (Debian ``chromium``), driven by Playwright (``pip install
playwright``; its own browser download is never used). Outside CI a missing Chromium skips the tests with
the reason; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--disable-default-apps", "--mute-audio"]


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    env = os.environ.get("ACCESS15_CHROMIUM")
    for cand in ([env] if env else []) + list(CHROMIUM_CANDIDATES) + [shutil.which("chromium") or ""]:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def require_browser():
    """Skip (outside CI) or fail (CI=true) when Chromium or Playwright is missing; return the path."""
    import pytest

    path = chromium_path()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path, why = None, "the Python package 'playwright' is not installed (pip install playwright)"
    else:
        why = "no Chromium found (Debian: apt-get install chromium); looked in " + ", ".join(CHROMIUM_CANDIDATES)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test: {why}")
        pytest.skip(why)
    return path


@dataclass
class PageReport:
    """What the page did: console messages by type, page errors, every request URL, and blocked ones."""

    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


#: JavaScript run in the page after it loads: what a reader would see.
PROBE = """() => {
  const vis = el => !!el && el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().height > 0;
  const q = s => Array.from(document.querySelectorAll(s));
  const map = document.querySelector('.folium-map');
  return {
    map_size: map ? [map.clientWidth, map.clientHeight] : null,
    tiles_loaded: q('.leaflet-tile-loaded').length,
    images: q('img.leaflet-image-layer').filter(vis).length,
    overlay_labels: q('.leaflet-control-layers-overlays label').map(l => l.innerText.trim()),
    overlay_checked: q('.leaflet-control-layers-overlays input').map(i => i.checked),
    paths: q('.leaflet-overlay-pane path').length + q('.leaflet-overlay-pane canvas').length,
    markers: q('.leaflet-marker-pane .access15-marker').filter(vis).length,
    legend: vis(document.getElementById('access15-legend')) ? document.getElementById('access15-legend').innerText : null,
    title: vis(document.getElementById('access15-title')) ? document.getElementById('access15-title').innerText : null,
    scale: q('.leaflet-control-scale-line').map(e => e.innerText),
    image_srcs: q('img.leaflet-image-layer').filter(vis).map(i => i.getAttribute('src')),
    walkers: q('input[name="access15-walker"]').map(i => [i.value, i.checked]),
  };
}"""


def open_offline(html: str | Path, screenshot: str | Path | None = None, size: tuple[int, int] = (1400, 900),
                 click_first_unchecked: bool = False, executable: str | None = None,
                 check: tuple[str, ...] = (), evaluate: str | None = None) -> PageReport:
    """Load ``html`` (a file) in headless Chromium with all but ``file:``/``data:`` requests aborted,
    wait for it to settle, check the inputs matched by each selector of ``check`` in turn (e.g. a radio
    button), probe the DOM (:data:`PROBE`), run the JavaScript function ``evaluate`` (its result in
    ``data["eval"]``) and optionally save a screenshot."""
    from playwright.sync_api import sync_playwright

    report = PageReport()
    url = Path(html).resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable or chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            page.on("console", lambda m: report.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: report.page_errors.append(str(e)))

            def route(r):
                u = r.request.url
                report.requests.append(u[:200])
                if u.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    report.blocked.append(u[:200])
                    r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load")
            page.wait_for_timeout(600)
            if click_first_unchecked:
                page.locator(".leaflet-control-layers-overlays input:not(:checked)").first.check()
                page.wait_for_timeout(300)
            for selector in check:
                page.locator(selector).first.check()
                page.wait_for_timeout(300)
            report.data = page.evaluate(PROBE)
            if evaluate:
                report.data["eval"] = page.evaluate(evaluate)
            if screenshot:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return report


if __name__ == "__main__":  # python -m tests.browser MAP.html OUT.png
    rep = open_offline(sys.argv[1], sys.argv[2])
    print(rep.data, rep.errors, rep.blocked, sep="\n")
