"""Siting benchmark: single checks, a batch of 1,000 candidates, suggestions, greedy vs exact.

Run from the repository root:  python benchmarks/bench_siting.py [CONFIG] [--category clinic]
Prints a Markdown table (recorded in docs/siting.md). Uses a temporary cache folder, so the numbers
include one uncached build and one cached load.
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

from access15.analysis_cache import cached_analyze  # noqa: E402
from access15.crs import WGS84, transform_xy  # noqa: E402
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
