"""Server time of workbench edits on the demo (``python benchmarks/bench_workbench.py [CONFIG]``).

Measures :meth:`access15.serve.Workbench.figures` (scenario engine + the JSON payload) after each kind of
edit: an added site (a new bounded search), a drag (a new search), a closure (re-routing the points whose
nearest facility closed), a plan-year switch and an unchanged scenario (everything cached).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

from access15.scenario import Closure, Proposed
from access15.serve import Workbench
from access15.siting import load_site_context

warnings.simplefilter("ignore")
cfg = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1] / "configs" / "porto_alegre.toml")
ctx = load_site_context(cfg)
b = Workbench(ctx, "/tmp/access15-bench-wb")
near = ctx.result.demand.groupby("nearest_clinic")["weight"].sum().drop(labels=[""], errors="ignore")
ids = list(near.sort_values(ascending=False).index[:25])


def timed(fn, n=15):
    out = []
    for i in range(n):
        fn(i)
        t0 = time.perf_counter()
        b.figures(None, "combined")
        out.append(1000 * (time.perf_counter() - t0))
    return statistics.median(out), max(out)


def add(i):
    b.scenario.added.append(Proposed(f"p{i + 1}", "clinic", -51.20 + 0.004 * i, -30.05 + 0.002 * i))


def drag(i):
    b.scenario.added[0].lat += 0.0007


def close(i):
    b.scenario.closed.append(Closure(str(ids[i])))


rows = [("add a site (new bounded search)", timed(add)), ("drag a site (new search)", timed(drag)),
        ("close a clinic (re-route its points)", timed(close)), ("unchanged (cached)", timed(lambda i: None))]
print(f"{ctx.result.network.n_nodes} nodes, {len(ctx.result.demand)} demand points")
for name, (med, mx) in rows:
    print(f"{name:<40} median {med:6.1f} ms   max {mx:6.1f} ms")
