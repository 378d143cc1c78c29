"""Many regions at once: the analysis per region (county, district, ...) on a Dask cluster, merged.

Each region is analysed on its own, exactly as :func:`run_region` does it, so a batch gives the same
numbers as running the regions one by one, whatever the scheduler, the number of workers or the order
in which regions finish:

- demand points are the grid cells (or nodes) inside the region only;
- the network is the edges meeting the region buffered by ``buffer_m`` + ``max_snap_m``, and the
  facilities are those within ``buffer_m`` of the region, so facilities across the border still count;
- ``buffer_m`` defaults to the largest circle (``minutes * speed``, at least ``max_snap_m``). Every walk of
  at most ``buffer_m`` from a point in the region stays inside the buffer, so travel times up to
  ``buffer_m`` and every coverage figure equal those of one analysis over the whole network; longer times
  are reported as beyond reach (``max_minutes`` is capped at ``buffer_m / speed``).

The network is parsed once, on the client, into the network cache (:mod:`access15.cache`); each worker
loads that entry (a shared folder) once and keeps it for its next regions. The facilities are loaded once
and broadcast. Regions run as Dask futures with ``retries``; a region that still fails is reported, not
dropped silently.

Complexity: parsing O(file) once; per region O((N_r + E_r) log N_r) for its clipped network, as in
:func:`access15.pipeline.analyze`.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import pandas as pd
import shapely

from .cache import ensure_cached, load_cached
from .config import BoundaryConfig, Config, load_config
from .demand import GRID_LABEL, NODE_LABEL
from .errors import InputError
from .io.boundaries import REGIONS, load_units
from .io.facilities import load_facilities
from .io.osm import is_osm_file
from .network import WalkNetwork, subnetwork
from .pipeline import analyze

#: progress(done, total, region) after each region finishes (or fails).
BatchProgress = Callable[[int, int, str], None]


@dataclass
class RegionResult:
    """One region's outcome: its coverage table, its demand points (network CRS) with travel times, the
    size of its clipped network and facility set, stage timings and warnings."""

    region: str
    coverage: pd.DataFrame
    demand: gpd.GeoDataFrame
    edges: int
    facilities: int
    timings: dict[str, float]
    warnings: list[str]
    demand_label: str = ""


@dataclass
class BatchResult:
    """All regions: ``coverage`` stacks the regions' coverage tables (first column ``region``), in the order
    of the regions file; ``regions`` maps a name to its :class:`RegionResult`; ``failed`` maps a name to
    its error message; ``buffer_m`` is the buffer used (metres)."""

    coverage: pd.DataFrame
    regions: dict[str, RegionResult]
    failed: dict[str, str]
    buffer_m: float
    demand_label: str = ""
    info: dict = field(default_factory=dict)


def load_regions(path: str | Path, by: str, crs: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Regions (``region`` name, polygon geometry) in EPSG:4326, parts with the same ``by`` value dissolved."""
    units = load_units(BoundaryConfig(path=str(path), name_column=by, crs=crs, layer=layer), Path, None, REGIONS)
    if len(units) == 0:
        raise InputError(path, "the regions file holds no polygons", "check the file and the layer")
    out = units.dissolve(by="unit", sort=False).reset_index()
    return gpd.GeoDataFrame({"region": out["unit"].to_numpy()}, geometry=out.geometry.values, crs=4326)


def default_buffer_m(cfg: Config) -> float:
    """The largest circle in metres (``minutes * speed``, per-class circles included), and never less than
    ``max_snap_m``."""
    largest = max(max([c.minutes, *c.minutes_by_class.values()]) for c in cfg.categories.values()) * cfg.speed_m_per_min
    return float(max(largest, cfg.network.max_snap_m))


@functools.lru_cache(maxsize=1)
def _cached_network(entry: str) -> WalkNetwork:
    net = load_cached(entry)
    if net is None:
        raise InputError(entry, "the network cache entry is missing or unreadable on this worker",
                         "put [network] cache_dir on a folder every worker can read")
    return net


def run_region(cfg: Config, region: str, geometry: shapely.Geometry, network: WalkNetwork | str | Path,
               facilities: gpd.GeoDataFrame, buffer_m: float) -> RegionResult:
    """Analyse one region (``geometry`` in EPSG:4326) with ``facilities`` (any CRS) on ``network`` (a
    network or the path of its cache entry). See the module doc for the clipping and why it is exact."""
    net = network if isinstance(network, WalkNetwork) else _cached_network(str(network))
    area = gpd.GeoSeries([geometry], crs=4326).to_crs(net.crs).iloc[0]
    reach = shapely.buffer(area, buffer_m)
    sub = subnetwork(net, shapely.buffer(reach, cfg.network.max_snap_m))
    if sub.n_edges == 0:
        raise InputError(region, "no walkable street within reach of this region",
                         "check that the regions file and the network extract overlap")
    fac = facilities.to_crs(net.crs)
    fac = fac[shapely.intersects(reach, fac.geometry.values)]
    rcfg = copy.deepcopy(cfg)
    rcfg.max_minutes = min(cfg.max_minutes, buffer_m / cfg.speed_m_per_min)
    rcfg.boundaries = None
    res = analyze(rcfg, network=sub, facilities=fac,
                  boundaries=gpd.GeoDataFrame({"unit": [region], "level": ["region"], "class": [None]},
                                              geometry=[area], crs=net.crs))
    demand = res.demand.drop(columns=["unit"], errors="ignore")
    return RegionResult(region, res.coverage, demand, sub.n_edges, int(fac.shape[0]), res.timings, res.warnings,
                        res.demand_label)


def _merge(results: dict[str, RegionResult], order: list[str]) -> pd.DataFrame:
    frames = []
    for name in order:
        if name in results:
            t = results[name].coverage.copy()
            t.insert(0, "region", name)
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_batch(config: Config | str | Path, regions: gpd.GeoDataFrame | str | Path, by: str = "name", *,
              client: Any = None, scheduler: str | None = None, workers: int | None = None,
              buffer_m: float | None = None, retries: int = 2, progress: BatchProgress | None = None,
              regions_crs: str | None = None, regions_layer: str | None = None) -> BatchResult:
    """Run the analysis of ``config`` for every region and merge the tables.

    Parameters
    ----------
    config : a :class:`Config` or the path of its TOML file.
    regions : a polygon file (GeoPackage, GeoJSON, Shapefile) or a GeoDataFrame; ``by`` names the column
        that identifies a region (parts sharing a value are dissolved into one region).
    client : a ``dask.distributed.Client`` to use. Otherwise ``scheduler`` is a scheduler address
        (``tcp://host:8786``), ``"serial"`` (no Dask: one by one in this process), or None for a local
        cluster of ``workers`` processes (default: one per core).
    buffer_m : metres around each region within which streets and facilities count (default: the largest
        circle, see :func:`default_buffer_m`).
    retries : how many times Dask re-runs a region that failed (e.g. a lost worker).
    progress : called as ``progress(done, total, region)`` after each region.

    Returns
    -------
    BatchResult. Regions that failed after the retries are in ``failed`` with their error.
    """
    if workers is not None and not workers >= 1:
        raise InputError("--workers", f"{workers} worker processes", "give 1 or more, or leave --workers out "
                         "for one per core")
    if not retries >= 0:
        raise InputError("--retries", f"{retries} re-runs", "give 0 or more")
    cfg = config if isinstance(config, Config) else load_config(config)
    if isinstance(regions, gpd.GeoDataFrame):
        if by not in regions.columns:
            cols = [str(c) for c in regions.columns if c != regions.geometry.name]
            raise InputError("regions", f"no column '{by}' (columns: {', '.join(cols) or 'none'})",
                             "name the column that names each region with by=...", field=by)
        regs = gpd.GeoDataFrame({"region": regions[by].astype(str).to_numpy()}, geometry=regions.geometry.values,
                                crs=regions.crs).to_crs(4326).dissolve(by="region", sort=False).reset_index()
    else:
        regs = load_regions(regions, by, regions_crs, regions_layer)
    buffer = float(buffer_m) if buffer_m is not None else default_buffer_m(cfg)
    if buffer < cfg.network.max_snap_m:
        raise InputError("--buffer-m", f"buffer {buffer:g} m is smaller than max_snap_m {cfg.network.max_snap_m:g} m",
                         "use a buffer of at least the snapping distance")
    entry, net = ensure_cached(cfg)
    net_path = cfg.resolve(cfg.network.path)
    fac = load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories),
                          net_path if is_osm_file(net_path) else None).to_crs(net.crs)
    names = regs["region"].tolist()
    geoms = list(regs.geometry.values)
    done: dict[str, RegionResult] = {}
    failed: dict[str, str] = {}

    def report(name: str) -> None:
        if progress:
            progress(len(done) + len(failed), len(names), name)

    if scheduler == "serial":
        for name, geom in zip(names, geoms):
            try:
                done[name] = run_region(cfg, name, geom, net, fac, buffer)
            except Exception as exc:  # noqa: BLE001 - a failed region is reported, the others go on
                failed[name] = f"{type(exc).__name__}: {exc}"
            report(name)
    else:
        from dask.distributed import Client, LocalCluster, as_completed  # heavy; only for cluster runs

        own = []
        if client is None:
            if scheduler:
                client = Client(scheduler)
            else:
                cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
                own.append(cluster)
                client = Client(cluster)
            own.insert(0, client)
        try:
            fac_f = client.scatter(fac, broadcast=True)
            futures = {client.submit(run_region, cfg, name, geom, str(entry), fac_f, buffer, retries=retries,
                                     pure=False, key=f"access15-region-{i}"): name
                       for i, (name, geom) in enumerate(zip(names, geoms))}
            for fut in as_completed(list(futures)):
                name = futures[fut]
                try:
                    done[name] = fut.result()
                except Exception as exc:  # noqa: BLE001
                    failed[name] = f"{type(exc).__name__}: {exc}"
                report(name)
        finally:
            for obj in own:
                obj.close()
    label = next(iter(done.values())).demand_label if done else _label(cfg)
    return BatchResult(_merge(done, names), done, failed, buffer, demand_label=label,
                       info={"network_edges": net.n_edges, "cache_entry": str(entry), "regions": len(names)})


def _label(cfg: Config) -> str:
    """What a demand weight means when no region ran (the regions' own label otherwise)."""
    return GRID_LABEL.format(cell=cfg.demand.cell_m) if cfg.demand.kind == "grid" else NODE_LABEL


def write_batch(result: BatchResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``batch_coverage.csv`` (and ``batch_failed.csv`` when regions failed) into ``out_dir``,
    each written to a temporary name and renamed when complete."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    tables = {"coverage": ("batch_coverage.csv", result.coverage)}
    if result.failed:
        tables["failed"] = ("batch_failed.csv", pd.DataFrame({"region": list(result.failed),
                                                             "error": list(result.failed.values())}))
    for key, (name, table) in tables.items():
        tmp = out_dir / f".{name}.tmp"
        table.to_csv(tmp, index=False, float_format="%.6g")
        os.replace(tmp, out_dir / name)
        written[key] = out_dir / name
    return written
