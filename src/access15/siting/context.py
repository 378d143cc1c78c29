"""What every siting question needs from an analysis, computed once: snapped demand, water, the study area,
the demand weights of a category and the bounded search from candidate sites to the points in their circle.

Demand weights: the category's own population column when the config names one that the demand table
holds (e.g. elderly residents for elderly care), else ``weight`` (persons with population, else 1 per
grid cell / street node). The combined circle always uses ``weight``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..cache import AnalysisCache
from ..catchment import DemandIndex, Reach, candidate_reach, index_demand
from ..config import Config
from ..errors import InputError
from ..io.osm import is_osm_file, read_water_areas
from ..pipeline import Progress, analyze, cached_analyze
from ..presets import load_profiles
from ..profiles import profile_network
from ..result import AnalysisResult
from ..snap import Snapped, snap_points
from ..walking import Walker, walkers


@dataclass
class SiteContext:
    """An analysis plus what siting needs from it, computed once and reused by every check.

    ``demand_snap``: the demand points snapped to the network (as the analysis snapped them);
    ``water``: water polygons (network CRS) from the OSM extract, empty when there is none;
    ``area``: the study area (network CRS): the boundaries' union, else the network's convex hull.
    """

    result: AnalysisResult
    demand_snap: Snapped
    water: gpd.GeoDataFrame
    area: shapely.Geometry
    water_tree: shapely.STRtree = field(init=False, repr=False)
    demand_index: DemandIndex = field(init=False, repr=False)
    walk: dict[str, Walker] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shapely.prepare(self.area)
        self.water_tree = shapely.STRtree(self.water.geometry.values)
        # demand points grouped by network node, reused by every walking search (O(n log n) once)
        self.demand_index = index_demand(self.result.network, self.demand_snap)
        # how each category's residents walk (slope, direction, profile), as the analysis routed them
        self.walk = walkers(self.result.config, self.result.network)


def _study_area(result: AnalysisResult) -> shapely.Geometry:
    """The boundaries' union, else the network's convex hull; 1 m of tolerance for points on its edge."""
    if result.boundaries is not None and len(result.boundaries):
        area = shapely.union_all(result.boundaries.geometry.values)
    else:
        area = result.network.hull()
    return shapely.buffer(area, 1.0)


def _water(result: AnalysisResult) -> gpd.GeoDataFrame:
    """Water polygons (network CRS) of the network's OSM extract; empty without one."""
    path = result.config.resolve(result.config.network.path)
    if is_osm_file(path) and path.is_file():
        return read_water_areas(path).to_crs(result.network.crs)
    return gpd.GeoDataFrame({"name": [], "osm_id": []}, geometry=[], crs=result.network.crs)


def site_context(result: AnalysisResult | SiteContext, cache: AnalysisCache | None = None) -> SiteContext:
    """The :class:`SiteContext` of an analysis; built once per result object (and stored with the
    analysis's disk-cache entry ``cache`` when given, so a second run loads it)."""
    if isinstance(result, SiteContext):
        return result
    ctx = getattr(result, "_site_context", None)
    if ctx is not None and ctx.result is result:  # (a copied result carries its original's context)
        return ctx
    extra = cache.load_extra("siting") if cache is not None else None
    if extra is not None and "snap_edge" in extra:
        snap = Snapped.from_arrays({k[5:]: v for k, v in extra.items() if k.startswith("snap_")})
        water = extra["water"]
    else:
        xy = shapely.get_coordinates(result.demand.geometry.values)
        snap = snap_points(result.network, xy, result.config.network.max_snap_m)
        water = _water(result)
        if cache is not None:
            cache.save_extra("siting", {**{f"snap_{k}": v for k, v in snap.arrays().items()}, "water": water})
    ctx = SiteContext(result, snap, water, _study_area(result))
    result._site_context = ctx  # one context per result object
    return ctx


def load_site_context(config: Config | str | Path, cache_dir: str | Path | None = None, *,
                      use_cache: bool = True, progress: Progress | None = None) -> SiteContext:
    """Analysis + siting context for a config, through the disk cache (see :class:`access15.cache.AnalysisCache`)."""
    if not use_cache:
        return site_context(analyze(config, progress=progress))
    result, cache = cached_analyze(config, cache_dir, progress=progress)
    return site_context(result, cache)


#: Category settings that may name a per-category population column of the demand table.
POPULATION_KEYS = ("population_column", "population", "weight_column", "demand_column")


def category_population(result: AnalysisResult, category: str) -> str | None:
    """The demand column ``category`` is measured against (e.g. ``pop_65plus``), or None for ``weight``."""
    ccfg = result.config.categories[category]
    for key in POPULATION_KEYS:
        col = getattr(ccfg, key, None)
        if isinstance(col, str) and col in result.demand.columns and col != "weight":
            return col
    return None


def category_weights(result: AnalysisResult, category: str) -> np.ndarray:
    """Demand weight per point for ``category``: its population column when configured, else ``weight``."""
    col = category_population(result, category) or "weight"
    return np.nan_to_num(result.demand[col].to_numpy(dtype=np.float64))


def demand_noun(result: AnalysisResult) -> str:
    """What one unit of demand weight is: residents, or grid cells / street nodes when unweighted."""
    if "not population" not in result.demand_label.lower():
        return "residents"
    return "grid cells" if result.grid is not None else "street nodes"


def point_minutes(result: AnalysisResult, category: str) -> np.ndarray:
    """Each demand point's circle for ``category`` in minutes: the category's ``minutes``, or its unit
    class's where the config sets per-class circles (``minutes_by_class``, e.g. 30 minutes for rural)."""
    ccfg = result.config.categories[category]
    by_class = getattr(ccfg, "minutes_by_class", None) or {}
    n = len(result.demand)
    if by_class and "unit_class" in result.demand.columns:
        cls = pd.Series(result.demand["unit_class"].to_numpy(), dtype=object)
        return cls.map(by_class).astype(float).fillna(ccfg.minutes).to_numpy()
    return np.full(n, float(ccfg.minutes))


def circle_reach(ctx: SiteContext, category: str, sites: Snapped) -> Reach:
    """The (site, demand point) pairs where the site is inside the point's circle of ``category``.

    One bounded search from every site at once, to the largest circle; a pair is kept when
    ``metres / (metres per minute) <= the point's circle``, the pipeline's own test, so the covered points
    equal those of a full re-run with the site added. ``dist_m`` of the result is in metres (flat metres of the
    category's walker: with slope or a walking profile, walked from the point to the site, as the pipeline does).
    """
    result = ctx.result
    ccfg = result.config.categories[category]
    speed = result.config.speed_m_per_min
    wk = ctx.walk[category]
    pm = point_minutes(result, category)
    limit = float(pm.max()) if len(pm) else ccfg.minutes
    reach = candidate_reach(result.network, sites, ctx.demand_snap, wk.limit_m(limit) * (1 + 1e-9) + 1e-6,
                            index=ctx.demand_index, rates=wk.rates)
    by_class = getattr(ccfg, "profile_by_class", None) or {}
    if not by_class or "unit_class" not in result.demand.columns:
        return reach.select(wk.minutes(reach.dist_m) <= pm[reach.dem])
    # points of a class with its own travel profile (e.g. cycling for rural circles) are reached on the
    # profile's network, in minutes, exactly as the pipeline routes them (access15.profiles)
    cls = pd.Series(result.demand["unit_class"].to_numpy(), dtype=object)
    walked = ~cls.isin(list(by_class)).to_numpy()
    keep = walked[reach.dem] & (wk.minutes(reach.dist_m) <= pm[reach.dem])
    parts = [(reach.cand[keep], reach.dem[keep], reach.dist_m[keep])]
    profiles = load_profiles()
    for cls_name, pname in by_class.items():
        pts = np.flatnonzero(cls.eq(cls_name).to_numpy())
        if not len(pts):
            continue
        tnet, rescale = profile_network(result.network, profiles[pname], speed)
        r = candidate_reach(tnet, rescale(sites), rescale(ctx.demand_snap.take(pts)), limit * (1 + 1e-9) + 1e-9)
        ok = r.dist_m <= pm[pts[r.dem]]
        parts.append((r.cand[ok], pts[r.dem[ok]], r.dist_m[ok] * speed))  # metres-equivalent
    c, p, x = (np.concatenate(a) for a in zip(*parts))
    order = np.lexsort((p, c))
    return Reach(c[order], p[order], x[order], reach.shape)


def check_category(result: AnalysisResult, category: str) -> None:
    """Refuse a category the analysis does not have, with the closest one suggested."""
    cats = list(result.config.categories)
    if category not in cats:
        match = difflib.get_close_matches(category, cats, n=1, cutoff=0.5)
        raise InputError("--category", f"'{category}' is not a category of this analysis",
                         f"did you mean '{match[0]}'?" if match else "use one of " + ", ".join(cats))
