"""access15 benchmark: every stage on the bundled data and on tiled metro-size networks, and the routing
stage side by side with networkx (multi-source Dijkstra, ego_graph per facility), pandana and cityseer.

    python benchmarks/run.py                                  # bundled, 1m, 5m; peers on bundled and 1m
    python benchmarks/run.py --sizes bundled,1m --peers bundled --out docs/performance.md

Each size runs in a fresh Python process so its peak memory (``ru_maxrss``) is its own (plus the peak of the
GeoPackage worker process that render starts, added to render's: an upper bound of the two at once). ``bundled`` is the
demo config as is; ``1m``/``5m``/``250k`` tile the bundled extract (see ``tiling.py``) to at least that
many edges and tile its facilities the same way. The script exits with status 1 when a peer disagrees
with access15 (see ``peers.py`` for what agreement means per method).

With ``--memory`` each size also reports its resident memory by stage (the RSS after each stage and the peak
within it; see :class:`MemoryProfile` and docs/performance.md, "Memory by stage").

With ``--out FILE.md`` the results table replaces the block between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` in that file (or is appended when the markers are missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "configs" / "porto_alegre.toml"
sys.path[:0] = [str(HERE), str(ROOT / "src")]

#: The stages in pipeline order; stages the analysis reports beyond these (population, units, standards,
#: ...) are shown too, in the order they ran.
STAGES = ["load", "build", "facilities", "demand", "population", "snap", "units", "elevation", "walkers", "route",
          "coverage", "standards", "render"]


class MemoryProfile:
    """Resident memory (RSS) by stage: :meth:`mark` at the end of each stage records the RSS then and the peak RSS
    since the previous mark, so a stage's window also holds the untimed glue between it and the stage before.

    Two ways to get the peak of a window, the first that works: ``kernel`` resets the kernel's own high-water mark
    (``VmHWM`` of ``/proc/self/status``, reset by writing 5 to ``/proc/self/clear_refs``, Linux >= 4.0), so every
    page ever resident counts and nothing is missed; ``sampled`` reads the RSS (psutil) every ``every_s`` seconds
    in a thread, which can miss a peak shorter than the interval or taken while a C call holds the GIL. Both count
    native allocations (numpy, GEOS, scipy) as well as Python objects, which tracemalloc would not.
    """

    def __init__(self, every_s: float = 0.002) -> None:
        self.rows: list[dict] = []
        self._peak = 0
        self.method = "kernel" if self._reset_hwm() else "sampled"
        if self.method == "sampled":
            import threading

            import psutil

            self._proc, self._stop, self._lock = psutil.Process(), threading.Event(), threading.Lock()
            self._peak = self._proc.memory_info().rss

            def sample() -> None:
                while not self._stop.wait(every_s):
                    with self._lock:  # (unlocked, a reading taken before mark() could land after its reset)
                        self._peak = max(self._peak, self._proc.memory_info().rss)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        self.mark("start")

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return "VmHWM" in Path("/proc/self/status").read_text()
        except OSError:
            return False

    @staticmethod
    def _status(key: str) -> int:
        return int(re.search(rf"{key}:\s*(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

    def mark(self, stage: str) -> None:
        """The stage that just ended: RSS now and the peak since the previous mark (MB); starts the next window."""
        if self.method == "kernel":
            rss, peak = self._status("VmRSS"), self._status("VmHWM")
            self._reset_hwm()
        else:
            with self._lock:
                rss = self._proc.memory_info().rss
                peak, self._peak = max(self._peak, rss), rss
        self.rows.append({"stage": stage, "rss_mb": rss / 2**20, "peak_mb": peak / 2**20})

    def by_stage(self, rename: dict[str, str] | None = None) -> list[dict]:
        """The rows with repeated (renamed) stages merged: the highest peak, the RSS after the last one."""
        out: dict[str, dict] = {}
        for r in self.rows:
            name = (rename or {}).get(r["stage"], r["stage"])
            if name in out:
                out[name] = {"stage": name, "rss_mb": r["rss_mb"], "peak_mb": max(out[name]["peak_mb"], r["peak_mb"])}
            else:
                out[name] = {**r, "stage": name}
        return list(out.values())


class StageTimer:
    """``with timer("stage"): ...`` adds the block's wall time (seconds) to ``timer.times["stage"]``; with a
    :class:`MemoryProfile`, marks it at the end of each block."""

    def __init__(self, memory: MemoryProfile | None = None) -> None:
        self.times: dict[str, float] = {}
        self.memory = memory

    @contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        yield
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t
        if self.memory is not None:
            self.memory.mark(name)


def parse_size(size: str) -> int | None:
    """``bundled`` -> None (no tiling); ``250k`` / ``1m`` / ``5m`` -> target edge count."""
    if size == "bundled":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([km])", size.lower())
    if not m:
        raise SystemExit(f"size '{size}': use bundled, or a number of edges like 250k, 1m, 5m")
    return int(float(m.group(1)) * (1_000 if m.group(2) == "k" else 1_000_000))


def _inputs(size: str, timer, population: bool = False):
    """The network and facilities for a size, timing load / build / facilities. ``population`` keeps the
    demo's census population on tiled sizes (it covers one copy; the per-capita ``standards`` stage runs)."""
    from tiling import dense_rect, grid_shape, tile_network, tile_points

    from access15.config import load_config
    from access15.coords import WGS84, transform_xy, utm_crs_for
    from access15.io.facilities import load_facilities
    from access15.io.osm import load_tag_rules, read_walk_ways
    from access15.network import network_from_vertices

    cfg = load_config(CONFIG)
    pbf = cfg.resolve(cfg.network.path)
    with timer("load"):
        ways = read_walk_ways(pbf, load_tag_rules())
    with timer("build"):
        lo, hi = ways.lonlat.min(axis=0), ways.lonlat.max(axis=0)
        crs = utm_crs_for(*(lo + hi) / 2)
        net = network_from_vertices(ways.node_id, transform_xy(ways.lonlat, WGS84, crs), ways.offsets, crs,
                                    source=pbf.name)
        target = parse_size(size)
        if target is not None:
            if not population:
                cfg.population = None  # the census polygons cover one copy only: tiled runs measure area coverage
            rect = dense_rect(net)
            one = tile_network(net, rect, 1, 1).n_edges
            nx_, ny_ = grid_shape(math.ceil(target / one))
            net = tile_network(net, rect, nx_, ny_)
        _ = net.graph, net.tree
    with timer("facilities"):
        fac = load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories), pbf).to_crs(net.crs)
        if target is not None:
            fac = tile_points(fac, rect, nx_, ny_)
    return cfg, net, fac


def run_pipeline(size: str, html: bool, population: bool = False, memory: bool = False) -> dict:
    """Every stage for one size, in this process; ``memory``: also the RSS after and the peak within each stage
    (:class:`MemoryProfile`)."""
    from access15.outputs import write_outputs
    from access15.pipeline import analyze

    mem = MemoryProfile() if memory else None
    timer = StageTimer(mem)
    times = timer.times

    t0 = time.perf_counter()
    cfg, net, fac = _inputs(size, timer, population)
    res = analyze(cfg, network=net, facilities=fac, progress=None if mem is None else lambda name, _: mem.mark(name))
    names = {"load facilities": "facilities", "demand points": "demand"}
    for k, v in res.timings.items():
        times[names.get(k, k)] = times.get(names.get(k, k), 0.0) + v
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "worker.jsonl"  # the GeoPackage worker's peak memory, if render starts one
        os.environ["ACCESS15_WORKER_STATS"] = str(stats)
        with timer("render"):
            written = write_outputs(res, Path(tmp) / "out", html=html)
        total = time.perf_counter() - t0
        output_mb = {k: Path(p).stat().st_size / 1e6 for k, p in written.items()}
        worker_mb = max((json.loads(ln)["peak_mb"] for ln in stats.read_text().splitlines()), default=0.0) \
            if stats.exists() else 0.0
    # (the kernel's high-water mark that MemoryProfile resets is the one getrusage reads: the stages' peaks hold it)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the GeoPackage worker process of render (access15.gpkg_worker) runs beside the main process: its peak is
    # added to the main process's peak of render (with --memory) or of the whole run, an upper bound of the sum
    if mem is None:
        peak_mb += worker_mb
    else:
        for r in mem.rows:
            if r["stage"] == "render":
                r["peak_mb"] += worker_mb
    return {"size": size, "nodes": net.n_nodes, "edges": net.n_edges, "tiles": net.info.get("tiles", 1),
            "facilities": len(fac), "demand_points": len(res.demand), "stages_s": times, "total_s": total,
            "population": cfg.population is not None,
            "peak_rss_mb": peak_mb if mem is None else max(peak_mb, *(r["peak_mb"] for r in mem.rows)),
            "html": html, "output_mb": output_mb, "worker_peak_mb": worker_mb,
            "coverage": res.coverage[["category", "share_covered"]].to_dict("records"),
            **({} if mem is None else {"memory": {"method": mem.method, "stages": mem.by_stage(names)}})}


def run_peers(size: str, ego_sample: int | None, skip: set[str], live_sample: int | None = None) -> dict:
    """The routing stage side by side (see peers.py), in this process."""
    import peers
    import shapely

    timer = StageTimer()

    cfg, net, fac = _inputs(size, timer)
    speed = cfg.speed_m_per_min
    prob = peers.make_problem(net, shapely.get_coordinates(fac.geometry.values), fac["category"].to_numpy(),
                              {c: k.minutes * speed for c, k in cfg.categories.items()})
    tiled = parse_size(size) is not None

    def say(r):
        print(f"    {r.method}: {r.seconds if r.seconds is None else round(r.seconds, 3)} s, agree={r.agree}",
              file=sys.stderr, flush=True)

    ref_res, ref = peers.run_access15(prob)
    out = [ref_res]
    say(ref_res)
    if "networkx" not in skip:
        out += peers.run_networkx(prob, ref, ego_sample if tiled else None)
        say(out[-2]), say(out[-1])
    if "pandana" not in skip:
        out.append(peers.run_pandana(prob, ref))
        say(out[-1])
    if "cityseer" not in skip:
        out.append(peers.run_cityseer(prob, ref, live_sample if tiled else None))
        say(out[-1])
    return {"size": size, "nodes": net.n_nodes, "edges": net.n_edges,
            "sources": {c: len(s) for c, s in prob.sources.items()},
            "radius_m": prob.radius_m, "results": [dataclasses.asdict(r) for r in out],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def write_tiled_pbf(size: str, path: str) -> dict:
    """Tile the bundled extract to ``size`` and write it as an OSM PBF (see ``tiling.write_osm``)."""
    from tiling import write_osm

    timer = StageTimer()

    from access15.coords import WGS84, transform_xy

    _, net, _ = _inputs(size, timer)
    t = time.perf_counter()
    nodes = write_osm(net, path)
    ll = transform_xy(net.node_xy, net.crs, WGS84)
    return {"edges": net.n_edges, "osm_nodes": nodes, "write_s": time.perf_counter() - t,
            "bytes": Path(path).stat().st_size, "extent": "box:" + ",".join(f"{v:.7f}" for v in (*ll.min(0), *ll.max(0)))}


def read_one(path: str, mode: str, cache_dir: str, extent: str) -> dict:
    """Read a PBF one way, in this process: ``full``, ``bbox`` (the south-west quarter of its extent),
    ``cache-miss`` (parse and store) or ``cache-hit`` (load the stored network). ``extent`` is the file's
    WGS84 box as "min_lon,min_lat,max_lon,max_lat"."""
    from access15.cache import load_configured_network
    from access15.config import config_from_dict

    net_cfg = {"path": path, "cache": mode.startswith("cache"), "cache_dir": cache_dir}
    if mode == "bbox":
        x0, y0, x1, y1 = (float(v) for v in extent.removeprefix("box:").split(","))
        net_cfg["bbox"] = [x0, y0, (x0 + x1) / 2, (y0 + y1) / 2]
    cfg = config_from_dict({"network": net_cfg, "categories": {"clinic": {}}, "facilities": [{"path": "osm"}]})
    t = time.perf_counter()
    net = load_configured_network(cfg)
    return {"mode": mode, "seconds": time.perf_counter() - t, "edges": net.n_edges, "cache": net.info.get("cache"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(args: list[str]) -> dict:
    """Run one job in a fresh interpreter; its last stdout line is the JSON result."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark job {args} failed (status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    """CPU model, cores, memory, Python and library versions."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info["cpu"] = re.search(r"Model name:\s*(.+)", lscpu).group(1).strip()
    except Exception:  # noqa: BLE001
        info["cpu"] = platform.processor()
    info["cores"] = os.cpu_count()
    try:
        kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["memory_gb"] = round(kb / 1024 / 1024, 1)
    except OSError:
        pass
    info["versions"] = {}
    for dist in ("numpy", "scipy", "shapely", "geopandas", "osmium", "networkx", "pandana", "cityseer"):
        try:
            info["versions"][dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info["versions"][dist] = "not installed"
    return info


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def report(mach: dict, pipes: list[dict], peer_runs: list[dict], readers: list[dict] | None = None) -> str:
    """The results as Markdown."""
    lines = [f"Machine: {mach['cpu']}, {mach['cores']} cores, {mach.get('memory_gb', '?')} GB RAM, "
             f"Python {mach['python']} ({mach['platform']}).  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in mach["versions"].items()) + ".", ""]
    if pipes:
        seen = [s for s in STAGES if any(s in p["stages_s"] for p in pipes)]
        seen += list(dict.fromkeys(s for p in pipes for s in p["stages_s"] if s not in seen))
        lines += ["### Stages (seconds) and peak memory", "",
                  "| size | nodes | edges | demand points | facilities | " + " | ".join(seen)
                  + " | end-to-end | peak RSS |",
                  "|" + "---|" * (len(seen) + 7)]
        for p in pipes:
            st = p["stages_s"]
            lines.append(f"| {p['size']} | {p['nodes']:,} | {p['edges']:,} | {p['demand_points']:,} | "
                         f"{p['facilities']:,} | " + " | ".join(_fmt(st.get(s)) for s in seen)
                         + f" | {_fmt(p['total_s'])} | {p['peak_rss_mb'] / 1024:.2f} GB |")
        lines += ["", "`render` writes coverage.csv, the GeoPackage" + (" and the HTML map." if all(
            p["html"] for p in pipes) else " (and the HTML map where `html` is true).")
                  + " On tiled sizes `load` reads the bundled extract once and `build` includes the tiling; "
                  "reading a real file of that size is measured in the reader table below.", ""]
    mems = [p for p in pipes if p.get("memory")]
    if mems:
        lines += memory_table(mems)
    for pr in peer_runs:
        ref = next(r for r in pr["results"] if r["method"] == "access15")
        lines += [f"### Routing side by side: {pr['size']} ({pr['nodes']:,} nodes, {pr['edges']:,} edges)", "",
                  "Facilities on nodes per category: " + ", ".join(f"{c} {n:,} (circle {pr['radius_m'][c]:.0f} m)"
                                                                   for c, n in pr["sources"].items()) + ".", "",
                  "| method | version | query s (all categories) | x access15 | setup s | agree | detail |",
                  "|---|---|---|---|---|---|---|"]
        for r in pr["results"]:
            ratio = r["seconds"] / ref["seconds"] if r["seconds"] else None
            agree = "–" if r["agree"] is None else ("yes" if r["agree"] else "**NO**")
            ext = " (extrapolated)" if r["extrapolated"] else ""
            lines.append(f"| {r['method']} | {r['version']} | {_fmt(r['seconds'])}{ext} | "
                         f"{'–' if ratio is None else f'{ratio:,.1f}'} | {_fmt(r['setup_s'])} | {agree} | "
                         f"{r['detail']} |")
        lines += ["", f"Peak RSS of this comparison: {pr['peak_rss_mb'] / 1024:.2f} GB.", ""]
    for rd in readers or []:
        lines += [f"### Reading a tiled {rd['size']} .osm.pbf ({rd['edges']:,} edges, {rd['osm_nodes']:,} OSM nodes, "
                  f"{rd['bytes'] / 1e6:.0f} MB; written in {rd['write_s']:.0f} s)", "",
                  "| how | seconds | edges built | peak RSS |", "|---|---|---|---|"]
        names = {"full": "stream the whole file", "bbox": "stream, bbox = south-west quarter",
                 "cache-miss": "cache miss (stream + store)", "cache-hit": "cache hit (load .npz)"}
        for r in rd["runs"]:
            lines.append(f"| {names[r['mode']]} | {_fmt(r['seconds'])} | {r['edges']:,} | "
                         f"{r['peak_rss_mb'] / 1024:.2f} GB |")
        lines.append("")
    return "\n".join(lines)


def memory_table(pipes: list[dict]) -> list[str]:
    """The memory-by-stage table (Markdown lines) of the runs made with ``--memory``."""
    seen = ["start"] + [s for s in STAGES if any(r["stage"] == s for p in pipes for r in p["memory"]["stages"])]
    seen += list(dict.fromkeys(r["stage"] for p in pipes for r in p["memory"]["stages"] if r["stage"] not in seen))
    methods = sorted({p["memory"]["method"] for p in pipes})
    lines = ["### Memory by stage (GB)", "",
             "| stage | " + " | ".join(f"{p['size']} peak within | {p['size']} RSS after" for p in pipes) + " |",
             "|---|" + "---:|---:|" * len(pipes)]
    for s in seen:
        cells = []
        for p in pipes:
            r = next((r for r in p["memory"]["stages"] if r["stage"] == s), None)
            cells += ["–", "–"] if r is None else [f"{r['peak_mb'] / 1024:.2f}", f"{r['rss_mb'] / 1024:.2f}"]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("| **whole run** | " + " | ".join(f"**{p['peak_rss_mb'] / 1024:.2f}** | " for p in pipes) + " |")
    lines += ["", "Peak within a stage: the highest resident memory (RSS) between the end of the stage before and the "
              "end of this one (so it includes the untimed glue between them); `start` is the interpreter with "
              "the libraries imported. Measured by " + " and ".join(
                  {"kernel": "the kernel's high-water mark (`VmHWM`), reset after every stage through "
                             "`/proc/self/clear_refs`: exact, native allocations included",
                   "sampled": "sampling the RSS (psutil) every 2 ms in a thread"}[m] for m in methods) + ".", ""]
    return lines


def write_block(path: Path, text: str) -> None:
    """Replace the benchmark block in ``path`` (between the markers), or append it."""
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    block = f"{start}\n{text}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="bundled,1m,5m", help="comma list: bundled, 250k, 1m, 5m, ... (stages)")
    ap.add_argument("--peers", default="bundled,1m", help="sizes for the side-by-side routing ('' for none)")
    ap.add_argument("--ego-sample", type=int, default=500,
                    help="on tiled sizes, time ego_graph on this many facilities per category and extrapolate")
    ap.add_argument("--cityseer-sample", type=int, default=20000,
                    help="on tiled sizes, let cityseer search from this many random nodes and scale its time")
    ap.add_argument("--skip", default="", help="comma list of peers to skip: networkx, pandana, cityseer")
    ap.add_argument("--no-html", action="store_true", help="render without the HTML map")
    ap.add_argument("--population", action="store_true",
                    help="keep the census population on tiled sizes, so the per-capita standards stage runs")
    ap.add_argument("--memory", action="store_true",
                    help="also measure resident memory by stage (RSS after each stage, peak within it)")
    ap.add_argument("--out", type=Path, help="Markdown file whose benchmark block is replaced")
    ap.add_argument("--json", type=Path, help="also write the raw results as JSON")
    ap.add_argument("--reader", default="", help="sizes whose tiled network is written as .osm.pbf and read back "
                    "(full, bbox quarter, cache miss, cache hit), e.g. 1m ('' for none)")
    ap.add_argument("--write-pbf", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--read-one", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--from-json", type=Path, help="re-render the report of a saved --json run (no benchmarking)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--peers-one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    skip = {s for s in a.skip.split(",") if s}
    if a.write_pbf:
        print(json.dumps(write_tiled_pbf(*a.write_pbf)))
        return 0
    if a.read_one:
        print(json.dumps(read_one(*a.read_one)))
        return 0
    if a.one:
        print(json.dumps(run_pipeline(a.one, not a.no_html, a.population, a.memory)))
        return 0
    if a.peers_one:
        print(json.dumps(run_peers(a.peers_one, a.ego_sample, skip, a.cityseer_sample)))
        return 0
    if a.from_json:
        saved = json.loads(a.from_json.read_text())
        return _finish(a, saved["machine"], saved["stages"], saved["peers"], saved.get("reader", []))
    common = ((["--no-html"] if a.no_html else []) + (["--population"] if a.population else [])
              + (["--memory"] if a.memory else [])
              + ["--ego-sample", str(a.ego_sample), "--skip", a.skip, "--cityseer-sample", str(a.cityseer_sample)])
    pipes, peer_runs = [], []
    for size in [s for s in a.sizes.split(",") if s]:
        parse_size(size)
        print(f"stages: {size} ...", file=sys.stderr, flush=True)
        pipes.append(_child(["--one", size, *common]))
        print(f"  {pipes[-1]['total_s']:.1f} s end to end, peak {pipes[-1]['peak_rss_mb'] / 1024:.2f} GB",
              file=sys.stderr, flush=True)
    for size in [s for s in a.peers.split(",") if s]:
        print(f"routing side by side: {size} ...", file=sys.stderr, flush=True)
        peer_runs.append(_child(["--peers-one", size, *common]))
    readers = []
    for size in [s for s in a.reader.split(",") if s]:
        print(f"reader: {size} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            pbf = str(Path(tmp) / f"tiled_{size}.osm.pbf")
            info = _child(["--write-pbf", size, pbf])
            info["size"] = size
            info["runs"] = [_child(["--read-one", pbf, mode, str(Path(tmp) / "cache"), info["extent"]])
                            for mode in ("full", "bbox", "cache-miss", "cache-hit")]
        readers.append(info)
    return _finish(a, machine(), pipes, peer_runs, readers)


def _finish(a, mach: dict, pipes: list[dict], peer_runs: list[dict], readers: list[dict]) -> int:
    """Print and write the report; 1 when a peer disagrees."""
    text = report(mach, pipes, peer_runs, readers)
    print(text)
    if a.out:
        write_block(a.out, text)
    if a.json:
        a.json.write_text(json.dumps({"machine": mach, "stages": pipes, "peers": peer_runs, "reader": readers},
                                     indent=1))
    bad = [(pr["size"], r["method"]) for pr in peer_runs for r in pr["results"] if r["agree"] is False]
    if bad:
        print("DISAGREEMENT: " + ", ".join(f"{m} on {s}" for s, m in bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
