"""Slope-aware, directed routing at metro size (issue 15): DEM sampling and routing against the flat engine.

    python benchmarks/bench_slope.py            # 1m (tiled, see tiling.py); --size bundled for the demo

The network is the tiled 1M-edge network of ``run.py``; the DEM is synthetic (rolling hills, 30 m cells, whole
metres like SRTM, in the network's CRS) over the whole tiled extent, since the real demo DEM covers one copy.
Times: elevation sampling (every 10 m, bilinear), the per-direction rates of the default and elderly walkers, and
the routing of every category (flat undirected vs slope-aware directed, the reversed graph included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]


def main() -> None:
    import rasterio
    from rasterio.transform import from_origin
    from run import StageTimer, _inputs

    from access15.elevation import sample_edges
    from access15.presets import load_walk_profiles
    from access15.routing import nearest_facility
    from access15.snap import snap_points
    from access15.walking import DEFAULT_MODEL, edge_rates

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1m")
    a = ap.parse_args()
    timer = StageTimer()
    cfg, net, fac = _inputs(a.size, timer)
    print(f"{a.size}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {len(fac):,} facilities; "
          f"network load {timer.times['load']:.1f} s + build {timer.times['build']:.1f} s", flush=True)
    lo, hi = net.node_xy.min(axis=0) - 100, net.node_xy.max(axis=0) + 100
    cell = 30.0
    w, h = int((hi[0] - lo[0]) / cell) + 1, int((hi[1] - lo[1]) / cell) + 1
    xc = lo[0] + (np.arange(w) + 0.5) * cell
    yc = hi[1] - (np.arange(h) + 0.5) * cell
    z = np.round(60 + 40 * np.sin(xc[None, :] / 700) * np.cos(yc[:, None] / 900)).astype("int16")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dem = Path(tmp) / "hills.tif"
        with rasterio.open(dem, "w", driver="GTiff", width=w, height=h, count=1, dtype="int16", crs=net.crs,
                           transform=from_origin(lo[0], hi[1], cell, cell)) as dst:
            dst.write(z, 1)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prof = sample_edges(net, dem, 10.0)
        out["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    rates = edge_rates(net, DEFAULT_MODEL, prof)
    out["rates"] = time.perf_counter() - t
    t = time.perf_counter()
    edge_rates(net, load_walk_profiles()["elderly"], prof)
    out["rates_elderly"] = time.perf_counter() - t
    grid = np.stack(np.meshgrid(np.arange(lo[0], hi[0], 100.0), np.arange(lo[1], hi[1], 100.0)), -1).reshape(-1, 2)
    ds = snap_points(net, grid, 500)
    fxy = np.column_stack([fac.geometry.x, fac.geometry.y])
    flat = directed = 0.0
    graph = None
    for cat, k in cfg.categories.items():
        fs = snap_points(net, fxy[(fac["category"] == cat).to_numpy()], 500)
        limit = cfg.max_minutes * cfg.speed_m_per_min
        t = time.perf_counter()
        nearest_facility(net, fs, ds, limit)
        flat += time.perf_counter() - t
        t = time.perf_counter()
        if graph is None:
            graph = rates.reversed_graph(net)
            out["reversed_graph"] = time.perf_counter() - t
        nearest_facility(net, fs, ds, limit, rates=rates)
        directed += time.perf_counter() - t
    out["route_flat"], out["route_directed"] = flat, directed
    print(f"densified pieces {len(prof.seg_len):,} (spacing 10 m), {len(ds):,} demand points, "
          f"{len(cfg.categories)} categories")
    for k_, v in out.items():
        print(f"  {k_:16s} {v:7.2f} s")


if __name__ == "__main__":
    main()
