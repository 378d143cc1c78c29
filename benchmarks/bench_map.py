"""The HTML gap map at metro size: its size, what it is made of, and how fast Chromium shows it.

    python benchmarks/bench_map.py --size 1m            # tile the bundled extract to 1M edges
    python benchmarks/bench_map.py --size 5m --runs 3

Runs the pipeline on the tiled network (``run.py``'s inputs), writes the outputs with ``access15 run``'s
writer, then opens ``map.html`` in headless Chromium (the system Chromium driven by Playwright, as the tests
do; every request that is not ``file:`` or ``data:`` is aborted) ``--runs`` times in fresh pages and
reports, per run, the navigation timings of the page: first contentful paint, the ``load`` event (every
script run, so every layer built) and "drawn" (two animation frames after ``load``: the canvas layers
painted). Prints one JSON line with the file size, its parts (images, facility dots, outlines, other
GeoJSON, Leaflet) and the timings (milliseconds; median over the runs).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "src"), str(ROOT)]

#: Navigation timings of the page (ms from navigation start); "drawn" waits two frames after ``load``.
TIMINGS = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {fcp: fcp ? fcp.startTime : null, dom_content_loaded: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd, drawn: performance.now(),
          canvas_dots: Object.keys(window).filter(k => k.startsWith('dot_layer_'))
                                          .reduce((n, k) => n + window[k].getLayers().length, 0)};
}"""


def parts(page: str) -> dict[str, float]:
    """MB of the page by kind of content."""
    out = {"total": len(page.encode()) / 1e6}
    out["images"] = sum(len(m) for m in re.findall(r'"data:image/png;base64,[^"]*"', page)) / 1e6
    out["dots"] = sum(len(m) for m in re.findall(r"access15Dots\((.*?)\);", page, flags=re.S)) / 1e6
    out["rings"] = sum(len(m) for m in re.findall(r"access15Rings\((.*?)\);", page, flags=re.S)) / 1e6
    out["geojson"] = sum(len(m) for m in re.findall(r"geo_json_\w+_add\((\{.*?\})\);", page, flags=re.S)) / 1e6
    return out


def open_timed(path: Path, runs: int) -> list[dict]:
    """Open ``path`` ``runs`` times in fresh Chromium pages (network blocked); the page's timings each time."""
    from playwright.sync_api import sync_playwright
    from tests.browser import CHROMIUM_ARGS, chromium_path

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                           else r.abort())
                t = time.perf_counter()
                page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
                rec = page.evaluate(TIMINGS)
                rec["wall_to_drawn"] = (time.perf_counter() - t) * 1000
                rec["errors"] = errors
                out.append(rec)
                page.close()
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1m", help="bundled, 250k, 1m, 5m, ...")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="also copy map.html here")
    a = ap.parse_args(argv)

    from run import StageTimer, _inputs

    from access15.outputs import write_outputs
    from access15.pipeline import analyze

    cfg, net, fac = _inputs(a.size, StageTimer())
    res = analyze(cfg, network=net, facilities=fac)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        written = write_outputs(res, Path(tmp) / "out", html=True)
        render_s = time.perf_counter() - t
        html = written["html"]
        if a.keep:
            a.keep.write_bytes(html.read_bytes())
        page = html.read_text(encoding="utf-8")
        runs = open_timed(html, a.runs)
    med = {k: statistics.median(r[k] for r in runs) for k in ("fcp", "dom_content_loaded", "load", "drawn",
                                                               "wall_to_drawn") if all(r[k] is not None for r in runs)}
    print(json.dumps({"size": a.size, "edges": net.n_edges, "facilities": len(res.facilities),
                      "cells": len(res.demand), "render_s": round(render_s, 2), "map_mb": parts(page),
                      "chromium_ms_median": {k: round(v) for k, v in med.items()},
                      "canvas_dots": runs[0]["canvas_dots"], "errors": sorted({e for r in runs for e in r["errors"]}),
                      "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
