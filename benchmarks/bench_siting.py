"""Siting benchmark: single checks, a batch of 1,000 candidates, suggestions, greedy vs exact.

Run from the repository root:  python benchmarks/bench_siting.py [CONFIG] [--category clinic]
Prints a Markdown table (recorded in docs/siting.md). Uses a temporary cache folder, so the numbers
include one uncached build and one cached load.

``--tiles N`` measures checks on a metro-size network instead: the demo's extract tiled N times with
``benchmarks/tiling.py`` (mirrored copies of the real streets stitched at their borders; 64 tiles are about
1 M edges), with the demo's clinics and schools tiled alike and unweighted grid demand.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from access15.coords import WGS84, transform_xy  # noqa: E402
from access15.pipeline import cached_analyze  # noqa: E402
from access15.siting import check_sites, gap_candidates, site_context, suggest_sites  # noqa: E402


def timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?", default=str(ROOT / "configs" / "porto_alegre.toml"))
    ap.add_argument("--category", default="clinic")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--tiles", type=int, default=0, help="measure on the extract tiled this many times")
    args = ap.parse_args()
    if args.tiles:
        tiled(args)
        return
    rows = []
    with tempfile.TemporaryDirectory() as cache_dir:
        (result, cache), t_build = timed(lambda: cached_analyze(args.config, cache_dir))
        rows.append(("analysis, uncached (parse, snap, route all categories)", t_build))
        (result, cache), t_load = timed(lambda: cached_analyze(args.config, cache_dir), 3)
        rows.append(("analysis from the disk cache", t_load))
        ctx, t_ctx = timed(lambda: site_context(result, cache))
        rows.append(("siting context, first time (snap demand, read water)", t_ctx))
        result2, _ = cached_analyze(args.config, cache_dir)
        _, t_ctx2 = timed(lambda: site_context(result2, cache))
        rows.append(("siting context from the cache", t_ctx2))
    net = result.network
    rng = np.random.default_rng(0)

    def random_sites(n):
        xy = net.node_xy[rng.choice(net.n_nodes, n, replace=False)] + rng.normal(0, 30, (n, 2))
        return transform_xy(xy, net.crs, WGS84)

    check_sites(ctx, args.category, random_sites(1))  # warm-up
    _, t_one = timed(lambda: check_sites(ctx, args.category, random_sites(1)), 25)
    rows.append(("one site check (median of 25)", t_one))
    batch = random_sites(args.batch)
    chk, t_batch = timed(lambda: check_sites(ctx, args.category, batch), 3)
    rows.append((f"batch of {args.batch:,} site checks (median of 3)", t_batch))
    cands = gap_candidates(ctx, args.category)
    for k in (5, 20, 40):
        g, t_g = timed(lambda: suggest_sites(ctx, args.category, k, cands, method="greedy", target_share=0.0001))
        e, t_e = timed(lambda: suggest_sites(ctx, args.category, k, cands, method="exact", target_share=0.0001))
        rows.append((f"suggest k={k}, {len(cands)} gap candidates: lazy greedy "
                     f"({g.objective:,.0f} {g.noun})", t_g))
        rows.append((f"suggest k={k}: exact MILP, HiGHS ({e.exact_objective:,.0f}, greedy gap {e.gap:.2%}, "
                     f"{'optimal' if e.optimal else 'not proven'})", t_e))
    s, t_cover = timed(lambda: suggest_sites(ctx, args.category, 5, cands, method="exact", target_share=0.9))
    rows.append((f"set covering to 90%: {s.cover['message']}", t_cover))

    print(f"\nconfig: {args.config}  category: {args.category}  network: {net.n_nodes:,} nodes, "
          f"{net.n_edges:,} edges; demand points: {len(result.demand):,}; batch pairs: {len(chk.reach):,}")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}\n")
    print("| step | seconds |\n| --- | ---: |")
    for name, sec in rows:
        print(f"| {name} | {sec:.3f} |")


def tiled(args) -> None:
    """Single checks and a batch on the demo's network tiled ``args.tiles`` times."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import tiling  # benchmarks/tiling.py (the scale benchmark's metro-size networks)

    from access15 import analyze, load_config
    from access15.io.facilities import load_facilities
    from access15.network import load_network

    cfg = load_config(args.config)
    cfg.population = None
    cfg.categories = {k: v for k, v in cfg.categories.items() if k in ("clinic", "school")}
    cfg.facilities = [f for f in cfg.facilities if f.path != "osm"]
    net = load_network(cfg.resolve(cfg.network.path))
    fac = load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories), None).to_crs(net.crs)
    rect = tiling.dense_rect(net)
    nx, ny = tiling.grid_shape(args.tiles)
    big, t_tile = timed(lambda: tiling.tile_network(net, rect, nx, ny))
    result, t_an = timed(lambda: analyze(cfg, network=big, facilities=tiling.tile_points(fac, rect, nx, ny)))
    ctx, t_ctx = timed(lambda: site_context(result))
    rng = np.random.default_rng(0)

    def random_sites(n):
        xy = big.node_xy[rng.choice(big.n_nodes, n, replace=False)] + rng.normal(0, 30, (n, 2))
        return transform_xy(xy, big.crs, WGS84)

    check_sites(ctx, args.category, random_sites(1))
    _, t_one = timed(lambda: check_sites(ctx, args.category, random_sites(1)), 10)
    batch = random_sites(args.batch)
    chk, t_batch = timed(lambda: check_sites(ctx, args.category, batch))
    print(f"\n{args.tiles} tiles: {big.n_nodes:,} nodes, {big.n_edges:,} edges, {len(result.demand):,} demand points")
    print("| step | seconds |\n| --- | ---: |")
    for name, sec in (("tile the network", t_tile), ("analysis (no cache)", t_an),
                      ("siting context (snap demand, group by node)", t_ctx), ("one site check (median of 10)", t_one),
                      (f"batch of {args.batch:,} site checks ({len(chk.reach):,} pairs)", t_batch)):
        print(f"| {name} | {sec:.3f} |")


if __name__ == "__main__":
    main()
