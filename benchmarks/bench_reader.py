"""Reading an OSM extract side by side: access15's reader, pyrosm and OSMnx, each job in a fresh process.

    python benchmarks/bench_reader.py                                   # bundled, 250k, 1m
    python benchmarks/bench_reader.py --sizes 1m --osmnx 250k --repeat 3 --json out.json

``bundled`` is the real Porto Alegre extract (data/osm); ``250k``/``1m`` tile it to that many edges and
write them as .osm.pbf (``run.py --write-pbf``: one OSM way per edge, all ``highway=residential``). OSMnx
reads OSM XML only, so the same data is also written as .osm (pyosmium's SimpleWriter); it runs on the sizes
in ``--osmnx`` (on 1M edges it needs minutes and many GB). ``--before REV`` adds access15 as of git revision
REV (its ``src`` exported to a temporary folder) for a before/after row.

What each job times (after its imports; peak RSS is the whole process, imports included):

- ``access15 read_walk_ways``: the walkable ways as flat arrays (the reader on its own).
- ``access15 network_from_osm``: the reader plus building the graph (edges split where ways share a node,
  parallel edges reduced to the shortest, lengths in metres in the UTM zone).
- ``pyrosm ways``: ``OSM(path).get_network("walking")``, one row per way, ``length`` in metres. pyrosm (0.25)
  stores every result as GeoParquet in ``<tempdir>/pyrosm/cache`` and serves an identical later read from
  it; each job clears that cache for its file first, so the time is a cold read.
- ``pyrosm segments``: ``get_network("walking", nodes=True)``, the graph-ready form, one row per pair of
  consecutive nodes.
- ``osmnx graph_from_xml``: ``graph_from_xml(bidirectional=True, simplify=True, retain_all=True)``; edges
  and length counted on ``ox.convert.to_undirected``. graph_from_xml applies no walk filter: every way of the
  file becomes edges.

Each job runs ``--repeat`` times; the table gives the median seconds and the median peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLED = ROOT / "data" / "osm" / "porto_alegre.osm.pbf"
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (benchmarks/run.py: its jobs and machine description)

JOBS = ["access15 read_walk_ways", "access15 network_from_osm", "pyrosm ways", "pyrosm segments",
        "osmnx graph_from_xml"]


def run_job(job: str, path: str) -> dict:
    """One job in this process: seconds, peak RSS, rows (ways or edges) and total length in km."""
    import importlib.metadata

    sys.path.insert(0, os.environ.get("BENCH_SRC") or str(ROOT / "src"))
    if job.startswith("access15"):
        from access15.io.osm import read_walk_ways
        from access15.network import network_from_osm

        version = "access15 " + os.environ.get("BENCH_REV", "working tree")
        t = time.perf_counter()
        if job.endswith("read_walk_ways"):
            ways = read_walk_ways(path)
            seconds = time.perf_counter() - t
            rows, km, what = len(ways.way_id), None, f"ways ({len(ways.node_id):,} way nodes)"
        else:
            net = network_from_osm(path)
            seconds = time.perf_counter() - t
            rows, km, what = net.n_edges, float(net.edge_length.sum()) / 1000, "edges"
    elif job.startswith("pyrosm"):
        from pyrosm import OSM

        version = "pyrosm " + importlib.metadata.version("pyrosm")
        if hasattr(OSM, "clear_cache"):
            OSM.clear_cache(path)  # pyrosm keeps each result in <tempdir>/pyrosm/cache: time a cold read
        t = time.perf_counter()
        if job.endswith("segments"):
            _, edges = OSM(path).get_network("walking", nodes=True)
        else:
            edges = OSM(path).get_network("walking")
        seconds = time.perf_counter() - t
        rows, km = len(edges), float(edges["length"].sum()) / 1000
        what = "segments" if job.endswith("segments") else "ways"
    else:
        import osmnx as ox

        version = "osmnx " + importlib.metadata.version("osmnx")
        t = time.perf_counter()
        graph = ox.graph_from_xml(path, bidirectional=True, simplify=True, retain_all=True)
        seconds = time.perf_counter() - t
        und = ox.convert.to_undirected(graph)
        rows = und.number_of_edges()
        km = sum(d["length"] for _, _, d in und.edges(data=True)) / 1000
        what = "edges (undirected, simplified)"
    return {"job": job, "version": version, "seconds": seconds, "rows": rows, "km": km, "what": what,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(args: list[str], env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1", **(env or {})})
    if proc.returncode != 0:
        raise SystemExit(f"benchmark job {args} failed (status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(size: str, tmp: Path, xml: bool) -> dict:
    """The .osm.pbf (and .osm when ``xml``) of a size, with its edge count."""
    if size == "bundled":
        pbf, info = BUNDLED, {"edges": None}
    else:
        pbf = tmp / f"tiled_{size}.osm.pbf"
        info = run._child(["--write-pbf", size, str(pbf)])  # run.py tiles the bundled extract
    info.update(size=size, pbf=str(pbf), mb=pbf.stat().st_size / 1e6)
    if xml:
        import osmium

        osm = tmp / f"{size}.osm"
        t = time.perf_counter()
        writer = osmium.SimpleWriter(str(osm), overwrite=True)
        osmium.apply(str(pbf), writer)
        writer.close()
        info.update(osm=str(osm), osm_mb=osm.stat().st_size / 1e6, osm_write_s=time.perf_counter() - t)
    return info


def export_src(rev: str, dest: Path) -> Path:
    """``src`` of git revision ``rev`` exported under ``dest``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=subprocess.PIPE, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _fmt(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def report(machine: str, sizes: list[dict]) -> str:
    lines = [machine, ""]
    for s in sizes:
        head = "real extract, Porto Alegre" if s["size"] == "bundled" else f"tiled {s['size']}"
        lines += [f"#### {s['size']} ({head}; .osm.pbf {s['mb']:.1f} MB"
                  + (f", .osm {s['osm_mb']:.0f} MB" if "osm_mb" in s else "") + ")", "",
                  "| reader | version | seconds | peak RSS | rows | total length | vs access15 network_from_osm |",
                  "|---|---|---|---|---|---|---|"]
        ref = next((r for r in s["runs"] if r["job"] == "access15 network_from_osm"
                    and r["version"] == "access15 working tree"), None)
        for r in s["runs"]:
            vs = "–"
            if ref and r["km"] is not None and r is not ref:
                vs = f"length {100 * (r['km'] / ref['km'] - 1):+.2f} %"
            lines.append(f"| {r['job']} | {r['version']} | {_fmt(r['seconds'])} | {r['peak_rss_mb'] / 1024:.2f} GB | "
                         f"{r['rows']:,} {r['what']} | {_fmt(r['km'], 1)} km | {vs} |")
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    m = run.machine()
    return f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']} ({m['platform']})."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="bundled,250k,1m", help="comma list: bundled, 250k, 1m, ...")
    ap.add_argument("--osmnx", default="bundled,250k", help="sizes OSMnx also reads ('' for none)")
    ap.add_argument("--jobs", default=",".join(JOBS[:4]), help="comma list of the non-OSMnx jobs")
    ap.add_argument("--repeat", type=int, default=2, help="runs per job (median reported)")
    ap.add_argument("--before", help="git revision whose access15 is timed too (before/after)")
    ap.add_argument("--before-sizes", default="1m", help="sizes for the --before rows")
    ap.add_argument("--json", type=Path, help="also write the raw results as JSON")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(run_job(*a.one)))
        return 0
    osmnx_sizes = {s for s in a.osmnx.split(",") if s}
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        before_src = export_src(a.before, tmp) if a.before else None
        for size in [s for s in a.sizes.split(",") if s]:
            print(f"{size}: preparing ...", file=sys.stderr, flush=True)
            info = prepare(size, tmp, size in osmnx_sizes)
            jobs = [(j, info["pbf"], {}) for j in a.jobs.split(",") if j]
            if before_src and size in a.before_sizes.split(","):
                jobs[:0] = [(j, info["pbf"], {"BENCH_SRC": str(before_src), "BENCH_REV": a.before})
                            for j in JOBS[:2]]
            if size in osmnx_sizes:
                jobs.append((JOBS[4], info["osm"], {}))
            info["runs"] = []
            for job, path, env in jobs:
                runs = [_child(["--one", job, path], env) for _ in range(a.repeat)]
                r = dict(runs[0])
                r["seconds"] = statistics.median(x["seconds"] for x in runs)
                r["peak_rss_mb"] = statistics.median(x["peak_rss_mb"] for x in runs)
                r["all_seconds"] = [x["seconds"] for x in runs]
                info["runs"].append(r)
                print(f"  {job} ({r['version']}): {r['all_seconds']} s, {r['peak_rss_mb']:.0f} MB, {r['rows']:,}",
                      file=sys.stderr, flush=True)
            results.append(info)
    text = report(machine(), results)
    print(text)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
