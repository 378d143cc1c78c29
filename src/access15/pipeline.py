"""The analysis as one call: load inputs, build the network, snap, route, and compute coverage.

:func:`analyze` is the Python API the CLI is built on. Each stage is a function of its own module;
this one only wires them together, records timings and warnings, and projects inputs to the local
metric CRS once. :func:`cached_analyze` is the same through the disk cache of whole analyses.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import provenance
from .cache import AnalysisCache, load_configured_network, snap_cached
from .checks import (
    component_message,
    component_share,
    facility_source_checks,
    judge_facilities,
    unit_reach_table,
    units_beyond_extract,
)
from .config import Config, load_config
from .coverage import combined_minutes, coverage_table
from .demand import Demand, apply_population, grid_demand, node_demand, study_area
from .errors import AccessNote, AccessWarning, InputError
from .fetch import prepare as fetch_prepare
from .graphs import network_from_networkx
from .io.boundaries import load_units
from .io.facilities import load_facilities
from .io.osm import is_osm_file, load_tag_rules
from .io.population import PopulationSource, read_population
from .network import WalkNetwork
from .profiles import class_profile_times
from .result import AnalysisResult
from .routing import nearest_facility
from .snap import Snapped
from .standards import SCALE, compute_standards, missing_capacity
from .units import UnitAssignment, assign_units, class_thresholds, level_column, unit_tables
from .walking import Walker, map_walkers, walkers

Progress = Callable[[str, float], None]


class _Stages:
    """Times each stage and reports it to an optional progress callback."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        if self.progress:
            self.progress(name, self.timings[name])


def _facilities(cfg: Config, given: gpd.GeoDataFrame | None, network: WalkNetwork,
                osm_path: Path | None) -> gpd.GeoDataFrame:
    """The facilities (configured sources, or ``given``) in the network CRS, with the standard columns."""
    facilities = given if given is not None else load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories),
                                                                 osm_path)
    for name, problem, fix in facility_source_checks(cfg, facilities, network):
        warnings.warn(AccessWarning(problem, fix, source=name), stacklevel=3)
    fac = facilities.to_crs(network.crs).reset_index(drop=True)
    for col, default in (("name", ""), ("facility_id", None), ("capacity", np.nan), ("source", "")):
        if col not in fac.columns:
            fac[col] = [f"f{i + 1}" for i in range(len(fac))] if col == "facility_id" else default
    return fac


def _boundaries(cfg: Config, given: gpd.GeoDataFrame | None, crs, osm_path: Path | None) -> gpd.GeoDataFrame | None:
    """The administrative units (``given``, or ``[boundaries]``) in the network CRS, or None."""
    if given is not None:
        bounds = given.to_crs(crs)
        for col, default in (("level", "unit"), ("class", None)):
            if col not in bounds.columns:
                bounds[col] = default
        return bounds
    if cfg.boundaries is None:
        return None
    return load_units(cfg.boundaries, cfg.resolve, osm_path).to_crs(crs)


def _demand(cfg: Config, network: WalkNetwork, area: shapely.Geometry | None) -> Demand:
    """Grid cells or street nodes inside ``area`` (metric CRS); refuses an empty study area."""
    if cfg.demand.kind == "grid":
        dem = grid_demand(network, area, cfg.demand.cell_m, cfg.network.max_snap_m)
    else:
        dem = node_demand(network, area)
    if len(dem.points) == 0:
        raise InputError(cfg.source or "config", "the study area holds no demand points",
                         "check that the boundaries overlap the network extract")
    return dem


def _population(cfg: Config, network: WalkNetwork, dem: Demand, area: shapely.Geometry | None,
                osm_path: Path | None) -> tuple[Demand, PopulationSource]:
    """Demand weighted by the configured population; returns (demand, population source)."""
    pop_area = study_area(network.hull(), area, cfg.network.max_snap_m)
    pop_src = read_population(cfg.population, cfg.resolve, network.crs, pop_area, osm_path)
    dem = apply_population(pop_src, dem, pop_area)
    if len(dem.points) == 0:
        raise InputError(cfg.resolve(cfg.population.path), "no population point lies in the study area",
                         "check the population file covers the network extract (and its CRS)")
    return dem, pop_src


def _snap(cfg: Config, network: WalkNetwork, fac: gpd.GeoDataFrame, dem: Demand) -> tuple[Snapped, Snapped]:
    """Snap facilities and demand; adds ``snap_m``/``on_network`` to ``fac`` and reports what is off the network."""
    snap_dir = cfg.resolve(cfg.network.cache_dir) if cfg.network.cache else None
    limit = cfg.network.max_snap_m
    fsnap = snap_cached(network, shapely.get_coordinates(fac.geometry.values), limit, snap_dir)
    dsnap = snap_cached(network, shapely.get_coordinates(dem.points.geometry.values), limit, snap_dir)
    msg = component_message(*component_share(network, dsnap, dem.points["weight"].to_numpy()),
                            label="persons" if cfg.population is not None else "demand points")
    if msg:
        warnings.warn(msg, AccessWarning, stacklevel=3)
    fac["snap_m"] = fsnap.dist_m
    fac["on_network"] = fsnap.ok
    off = ~fsnap.ok
    if off.any():
        for source, grp in pd.Series(off).groupby(fac["source"].to_numpy()):
            if grp.all():  # a whole source away from the streets: wrong coordinates or CRS, never real
                raise InputError(source, f"none of the {len(grp)} facilities lies within {limit:g} m of the walkable "
                                 "network", "check the facility coordinates and CRS against the network extract")
        ids = ", ".join(fac.loc[off, "facility_id"].astype(str).head(5))
        warnings.warn(f"{int(off.sum())} facilities are farther than {limit:g} m from any walkable street and are "
                      f"left out ({ids}{', ...' if off.sum() > 5 else ''})", AccessWarning, stacklevel=3)
    on = fac.loc[fsnap.ok, "category"].value_counts()
    for cat, kcfg in cfg.categories.items():
        if not on.get(cat, 0):
            circle = "the combined circle is 0% too" if kcfg.required else "it is not required"
            warnings.warn(f"category '{cat}' has no facilities on the network: 0% coverage ({circle})", AccessWarning,
                          stacklevel=3)
    return fsnap, dsnap


def _route(cfg: Config, network: WalkNetwork, fac: gpd.GeoDataFrame, fsnap: Snapped, dsnap: Snapped,
           out: gpd.GeoDataFrame, classes: np.ndarray | None, thresholds: dict,
           walk: dict[str, Walker] | None = None) -> pd.DataFrame:
    """Minutes to the nearest facility of every category (one multi-source Dijkstra each); adds the
    ``time_``, ``nearest_`` and ``covered_`` columns to ``out``. ``walk``: how each category's residents walk
    (:func:`access15.walking.walkers`; slope, direction, profile), default the [speed] speed on the flat."""
    walk = walk if walk is not None else walkers(cfg, network)
    speed = cfg.speed_m_per_min
    times = pd.DataFrame(index=out.index)
    for cat, kcfg in cfg.categories.items():
        sel = np.flatnonzero((fac["category"] == cat).to_numpy())
        limit_min = max([cfg.max_minutes, *kcfg.minutes_by_class.values()])
        wk = walk[cat]  # (the default walker without elevation: speed, no rates -- the flat engine, unchanged)
        res = nearest_facility(network, fsnap.take(sel), dsnap, limit_m=wk.limit_m(limit_min), rates=wk.rates)
        times[cat] = wk.minutes(res.dist_m)
        if kcfg.profile_by_class and classes is not None:
            class_profile_times(network, fsnap.take(sel), dsnap, kcfg, classes, speed, limit_min, times, res)
        out[f"time_{cat}"] = times[cat]
        ids = fac["facility_id"].to_numpy()[sel]
        out[f"nearest_{cat}"] = np.where(res.facility >= 0, ids[np.maximum(res.facility, 0)] if len(sel) else "", "")
        out[f"covered_{cat}"] = times[cat].to_numpy() <= thresholds.get(cat, kcfg.minutes)
    return times


def _map_profile_columns(cfg: Config, network: WalkNetwork, fac: gpd.GeoDataFrame, fsnap: Snapped, dsnap: Snapped,
                         out: gpd.GeoDataFrame, classes: np.ndarray | None, thresholds: dict) -> None:
    """For each walking profile of ``[output] map_profiles`` (the map's profile switch), every category routed
    for that profile as :func:`_route` does: adds ``time_<cat>@<profile>``, ``covered_<cat>@<profile>`` and
    ``covered_combined@<profile>`` to ``out``. One search per category and profile."""
    for name, wk in map_walkers(cfg, network).items():
        scratch = pd.DataFrame(index=out.index)
        times = _route(cfg, network, fac, fsnap, dsnap, scratch, classes, thresholds, dict.fromkeys(cfg.categories, wk))
        for cat in cfg.categories:
            out[f"time_{cat}@{name}"] = scratch[f"time_{cat}"]
            out[f"covered_{cat}@{name}"] = scratch[f"covered_{cat}"]
        out[f"covered_combined@{name}"] = combined_minutes(times, cfg.categories, thresholds)[0]


@dataclass
class Prepared:
    """An analysis's inputs, loaded, judged and attached to the network: what the routing stages read.

    Every refusal (:class:`~access15.errors.InputError`) and every warning or note about the inputs is raised
    while preparing, so :func:`analyze` and ``access15 validate`` (which prepares and stops) judge a config
    alike. ``points`` are the demand points (network CRS) with their unit columns; ``capacity`` the facilities
    missing a capacity.
    """

    config: Config
    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame | None
    demand: Demand
    population: PopulationSource | None
    fsnap: Snapped
    dsnap: Snapped
    points: gpd.GeoDataFrame
    assign: UnitAssignment | None
    thresholds: dict[str, np.ndarray]
    fac_units: pd.DataFrame | None
    capacity: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    #: per category, the walker its circle is measured for (profile, slope; see :mod:`access15.walking`)
    walk: dict[str, Walker] = field(default_factory=dict)


def prepare(config: Config | str | Path, *, network: WalkNetwork | None = None,
            facilities: gpd.GeoDataFrame | None = None, boundaries: gpd.GeoDataFrame | None = None,
            progress: Progress | None = None, stage: _Stages | None = None) -> Prepared:
    """Load every input, check it, and attach facilities and demand to the network (no routing).

    Raises :class:`~access15.errors.InputError` for what the analysis refuses; warns
    (:class:`~access15.errors.AccessWarning`) and notes (:class:`~access15.errors.AccessNote`) the rest.
    Parameters as for :func:`analyze`.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    stage = stage or _Stages(progress)
    net_path = cfg.resolve(cfg.network.path)
    osm_path = net_path if is_osm_file(net_path) else None
    if network is None:
        with stage("load network"):
            rules = load_tag_rules(cfg.resolve(cfg.network.tags) if cfg.network.tags else None)
            network = load_configured_network(cfg, rules)
    with stage("load facilities"):
        fac = _facilities(cfg, facilities, network, osm_path)
    bounds = None
    if boundaries is not None or cfg.boundaries is not None:
        with stage("load boundaries"):
            bounds = _boundaries(cfg, boundaries, network.crs, osm_path)
    area = shapely.union_all(bounds.geometry.values) if bounds is not None else None
    with stage("demand points"):
        dem = _demand(cfg, network, area)
    pop_src = None
    if cfg.population is not None:
        with stage("population"):
            dem, pop_src = _population(cfg, network, dem, area, osm_path)
    with stage("snap"):
        fsnap, dsnap = _snap(cfg, network, fac, dem)
    notes = judge_facilities(cfg, fac, area if area is not None else network.hull(), cfg.network.max_snap_m)
    out = dem.points.copy()
    what = "residents" if cfg.population else ("grid cells" if dem.grid is not None else "points")
    assign, thresholds, fac_units = None, {}, None
    if bounds is not None:
        with stage("units"):
            assign = assign_units(out, bounds, out["weight"].to_numpy(), what=what)
            for lvl in assign.unit.columns:
                out[level_column(lvl)] = assign.unit[lvl].to_numpy()
            out["unit"] = assign.unit[assign.unit.columns[0]].to_numpy()
            out["unit_class"] = assign.cls
            thresholds = class_thresholds(cfg.categories, assign.cls)
            fac_units = assign_units(fac, bounds, np.ones(len(fac)), warn=False).unit
            msg = units_beyond_extract(unit_reach_table(assign, out["weight"].to_numpy(), dsnap.ok),
                                       cfg.network.max_snap_m, what)
            if msg:
                warnings.warn(msg, AccessWarning, stacklevel=2)
    elif any(k.minutes_by_class or k.profile_by_class for k in cfg.categories.values()):
        class_thresholds(cfg.categories, np.full(len(out), None, dtype=object))  # warns: no classes
    needed = {t.category for t in cfg.targets.values() if t.measure in SCALE}
    capacity = missing_capacity(fac, list(cfg.categories), needed)
    with stage("elevation" if cfg.network.elevation else "walkers"):  # the DEM along every edge, per direction
        walk = walkers(cfg, network)
    return Prepared(cfg, network, fac, bounds, dem, pop_src, fsnap, dsnap, out, assign, thresholds, fac_units,
                    capacity, notes, walk)


def analyze(config: Config | str | Path, *, network: WalkNetwork | Any | None = None,
            facilities: gpd.GeoDataFrame | None = None, progress: Progress | None = None,
            boundaries: gpd.GeoDataFrame | None = None) -> AnalysisResult:
    """Run a coverage analysis.

    Parameters
    ----------
    config : a :class:`Config` or the path of a TOML config file.
    network : a prebuilt network to use instead of loading ``config.network.path``: a :class:`WalkNetwork`, or
        a networkx / OSMnx graph with node ``x``/``y`` and ``graph["crs"]`` (see :mod:`access15.graphs`).
    facilities : facilities (any CRS; columns ``category`` and geometry, optional ``name``,
        ``facility_id``, ``capacity``) to use instead of the configured sources.
    progress : called as ``progress(stage, seconds)`` after each stage.
    boundaries : units (any CRS; a ``unit`` name column, polygons, optional ``level`` and ``class``) to use
        instead of ``[boundaries]``.

    Returns
    -------
    AnalysisResult with tables and GeoDataFrames in the network's metric CRS; times in minutes.

    The network's spatial indexes are dropped once snapping is done (:meth:`WalkNetwork.drop_indexes`; a later
    use rebuilds them), so they do not hold memory through routing and the outputs.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    cfg, fetched = fetch_prepare(cfg)  # [network] place/polygon/bbox: downloaded once, then the cached files
    if network is not None and not isinstance(network, WalkNetwork):  # a networkx / OSMnx graph
        network = network_from_networkx(network, source=str(network.graph.get("name") or "networkx graph"))
    record = provenance.collect(cfg, network_in_memory=None if network is None else (network.source or "network"),
                                facilities_in_memory=facilities is not None)
    if fetched:
        record["download"] = fetched
    stage = _Stages(progress)
    with warnings.catch_warnings(record=True) as wlist:
        warnings.simplefilter("always", AccessWarning)
        warnings.simplefilter("always", AccessNote)
        p = prepare(cfg, network=network, facilities=facilities, boundaries=boundaries, stage=stage)
        p.network.drop_indexes()  # snapping is done: the spatial indexes would sit through routing and rendering
        fac, out, dsnap, thresholds, assign, walk = p.facilities, p.points, p.dsnap, p.thresholds, p.assign, p.walk
        with stage("route"):
            times = _route(cfg, p.network, fac, p.fsnap, dsnap, out, None if assign is None else assign.cls,
                           thresholds, walk)
        if cfg.output.map_profiles:
            with stage("map profiles"):
                _map_profile_columns(cfg, p.network, fac, p.fsnap, dsnap, out,
                                     None if assign is None else assign.cls, thresholds)
        with stage("coverage"):
            covered, slowest = combined_minutes(times, cfg.categories, thresholds)
            out["time_combined"] = slowest
            out["covered_combined"] = covered
            out["on_network"] = dsnap.ok
            counts = fac[fac["on_network"]].groupby("category").size().to_dict()
            cat_w = {c: out[k.population].to_numpy() for c, k in cfg.categories.items()
                     if k.population and k.population in out.columns}
            table = coverage_table(times, out["weight"].to_numpy(), cfg.categories, counts, cat_w, thresholds,
                                   p.notes, {c: w.label for c, w in walk.items()})
            units = pd.DataFrame()
            if assign is not None:
                onf = fac["on_network"].to_numpy()
                units = unit_tables(times, out["weight"].to_numpy(), assign, cfg.categories, cat_w, thresholds,
                                    p.fac_units[onf], fac.loc[onf, "category"])
        with stage("standards"):
            std = compute_standards(cfg, p.network, fac, p.fsnap, dsnap, out, table, units, fac_units=p.fac_units,
                                    bounds=p.boundaries, capacity=p.capacity,
                                    estimated=p.population.estimated if p.population is not None else False,
                                    walk=walk)
        caught = list(dict.fromkeys(str(w.message) for w in wlist if issubclass(w.category, AccessWarning)))
        noted = list(dict.fromkeys(str(w.message) for w in wlist if issubclass(w.category, AccessNote)))
    record = provenance.finish(record)
    record["warnings"], record["notes"] = caught, noted
    p.network.drop_indexes()  # (the standards' node tree, or the class profiles' edge tree, when built)
    return AnalysisResult(cfg, p.network, fac, out, p.demand.grid, p.demand.label, table, units, p.boundaries,
                          stage.timings, caught,
                          unit_check=assign.check if assign is not None else pd.DataFrame(),
                          capacity=std.capacity, supply=std.supply, targets=std.targets, provenance=record,
                          notes=noted)


def cached_analyze(config: Config | str | Path, cache_dir: str | Path | None = None, *, refresh: bool = False,
                   progress: Progress | None = None) -> tuple[AnalysisResult, AnalysisCache]:
    """:func:`analyze` through the disk cache of whole analyses (:class:`access15.cache.AnalysisCache`).

    Returns the result and its cache entry. On a hit nothing is parsed or routed and
    ``result.timings == {"load cache": seconds}``; on a miss (or ``refresh``) the analysis runs and is
    stored. ``cache_dir`` defaults to ``<output dir>/.access15-analysis``.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    cache = AnalysisCache(cfg, cache_dir)
    result = None if refresh else cache.load()
    if result is None:
        result = analyze(cfg, progress=progress)
        if not cache.save(result):
            result.warnings.append(f"the analysis was not cached ({cache.skipped}); the next run rebuilds it")
    return result, cache
