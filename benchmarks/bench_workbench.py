"""Server time of workbench edits, on the demo or on the tiled 1M-edge network.

    python benchmarks/bench_workbench.py                    # the demo config (through its analysis cache)
    python benchmarks/bench_workbench.py --size 1m          # the demo extract tiled to 1M edges (tiling.py)
    python benchmarks/bench_workbench.py --config my.toml   # another config

Measures :meth:`access15.serve.Workbench.figures` (scenario engine + the JSON payload) after each kind of
edit: an added site (a new bounded search), a drag (a new search), a closure (re-routing the points whose
nearest facility closed), a plan-year switch and an unchanged scenario (everything cached). Sites are put on
clinic gap cells (a fixed random sample, seed 0), closures hit the clinics serving the most demand. Prints
median and max per edit kind (ms), the network size and the peak RSS of the process (MB).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from access15.coords import WGS84, transform_xy  # noqa: E402
from access15.scenario import Closure, Proposed  # noqa: E402
from access15.serve import Workbench  # noqa: E402
from access15.siting import load_site_context, site_context  # noqa: E402

warnings.simplefilter("ignore")


def context(size: str, config: str | None):
    """The siting context: the config through its cache (``bundled``), or a tiled network analysed in memory."""
    if size == "bundled":
        return load_site_context(config or str(HERE.parent / "configs" / "porto_alegre.toml")), {}
    from run import StageTimer, _inputs

    from access15.pipeline import analyze

    timer = StageTimer()
    cfg, net, fac = _inputs(size, timer)
    t0 = time.perf_counter()
    res = analyze(cfg, network=net, facilities=fac)
    timer.times["analyze"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctx = site_context(res)
    timer.times["site context"] = time.perf_counter() - t0
    return ctx, timer.times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="bundled", help="bundled, or a tiled size like 1m (see run.py)")
    ap.add_argument("--config", default=None, help="config for --size bundled (default: the demo)")
    ap.add_argument("-n", type=int, default=15, help="edits of each kind")
    a = ap.parse_args()
    ctx, setup = context(a.size, a.config)
    res = ctx.result
    b = Workbench(ctx, "/tmp/access15-bench-wb")
    dem = res.demand
    near = dem.groupby("nearest_clinic")["weight"].sum().drop(labels=[""], errors="ignore")
    ids = list(near.sort_values(ascending=False).index[: a.n])
    gaps = np.flatnonzero(~dem["covered_clinic"].to_numpy(dtype=bool) & dem["nearest_clinic"].astype(str).ne("").to_numpy())
    pick = np.random.default_rng(0).choice(gaps, size=2 * a.n, replace=False)
    ll = transform_xy(np.column_stack([dem.geometry.x.to_numpy()[pick], dem.geometry.y.to_numpy()[pick]]),
                      res.network.crs, WGS84)

    def timed(fn):
        out = []
        for i in range(a.n):
            fn(i)
            t0 = time.perf_counter()
            b.figures(None, "combined")
            out.append(1000 * (time.perf_counter() - t0))
        return statistics.median(out), max(out)

    def add(i):
        b.scenario.added.append(Proposed(f"p{i + 1}", "clinic", float(ll[i, 0]), float(ll[i, 1]), year=2027 + i % 3))

    def drag(i):
        b.scenario.added[0].lon, b.scenario.added[0].lat = float(ll[a.n + i, 0]), float(ll[a.n + i, 1])

    def close(i):
        b.scenario.closed.append(Closure(str(ids[i])))

    def year(i):  # plan year 2027 / 2028 / 2029 / all edits: the searches are cached
        y = (2027, 2028, 2029, None)[i % 4]
        t0 = time.perf_counter()
        b.figures(y, "clinic")
        return 1000 * (time.perf_counter() - t0)

    b.figures(None, "combined")  # warm-up (first call builds lazy tables)
    rows = [("add a site (new bounded search)", timed(add)), ("drag a site (new search)", timed(drag)),
            ("close a clinic (re-route its points)", timed(close))]
    ys = [year(i) for i in range(a.n)]
    rows += [("switch the plan year (cached)", (statistics.median(ys), max(ys))),
             ("unchanged (cached)", timed(lambda i: None))]
    print(f"{a.size}: {res.network.n_nodes:,} nodes, {res.network.n_edges:,} edges, {len(res.facilities):,} facilities, "
          f"{len(dem):,} demand points; {a.n} edits of each kind")
    for k, v in setup.items():
        print(f"  setup {k:<14} {v:7.1f} s")
    for name, (med, mx) in rows:
        print(f"{name:<40} median {med:7.1f} ms   max {mx:7.1f} ms")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
