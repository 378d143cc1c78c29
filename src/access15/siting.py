"""Siting: what a proposed facility adds to a circle, and where new facilities should go.

:func:`check_sites` evaluates candidate sites one by one against the existing facilities of a category:
the demand newly brought inside the circle (overall and per unit), the change of the coverage share and
of the combined circle, the candidate's own catchment and the part of it already served, and the change
of the capacity ratio (places per 1,000). :func:`suggest_sites` chooses new sites that bring the most
uncovered demand inside the circle (maximal covering location problem) and answers the set-covering
question: how many new sites reach a target share, if any number can.

Nothing is re-routed: a candidate can only improve points within the circle's radius of it, so a bounded
search from each candidate (:func:`access15.reach.candidate_reach`, candidates in compact chunks) is
compared with the travel times the analysis already holds. The figures equal those of a full re-run of
:func:`access15.analyze` with the candidate added (the tests check it point for point).

Demand weights: the category's own population column when the config names one that the demand table
holds (e.g. elderly residents for elderly care), else ``weight`` (persons with population, else 1 per
grid cell / street node). The combined circle always uses ``weight``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from . import mclp, siting_text
from .config import Config
from .coverage import COMBINED
from .crs import WGS84, transform_xy
from .errors import InputError
from .osm import is_osm_file
from .pipeline import AnalysisResult
from .catchment import DemandIndex, index_demand
from .reach import Reach, candidate_reach
from .snap import Snapped, snap_points

#: Candidate status values; anything but ``ok`` gets a message instead of figures.
OK, OUTSIDE, ON_WATER, OFF_NETWORK = "ok", "outside_area", "on_water", "off_network"
#: Instances up to this many coverage-matrix nonzeros are solved exactly by ``method="auto"``.
AUTO_EXACT_NNZ = 2_000_000


# --- context: what every check needs beyond the analysis itself ------------------------------------

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

    def __post_init__(self) -> None:
        shapely.prepare(self.area)
        self.water_tree = shapely.STRtree(self.water.geometry.values)
        # demand points grouped by network node, reused by every walking search (O(n log n) once)
        self.demand_index = index_demand(self.result.network, self.demand_snap)


def _study_area(result: AnalysisResult) -> shapely.Geometry:
    """The boundaries' union, else the network's convex hull; 1 m of tolerance for points on its edge."""
    if result.boundaries is not None and len(result.boundaries):
        area = shapely.union_all(result.boundaries.geometry.values)
    else:
        area = result.network.hull()
    return shapely.buffer(area, 1.0)


def _water(result: AnalysisResult) -> gpd.GeoDataFrame:
    path = result.config.resolve(result.config.network.path)
    if is_osm_file(path) and path.is_file():
        from .water import read_water_areas

        return read_water_areas(path).to_crs(result.network.crs)
    return gpd.GeoDataFrame({"name": [], "osm_id": []}, geometry=[], crs=result.network.crs)


def site_context(result: AnalysisResult | SiteContext, cache=None) -> SiteContext:
    """The :class:`SiteContext` of an analysis; built once per result object (and stored with the
    analysis's disk-cache entry ``cache`` when given, so a second run loads it)."""
    if isinstance(result, SiteContext):
        return result
    ctx = getattr(result, "_site_context", None)
    if ctx is not None and ctx.result is result:  # (a copied result carries its original's context)
        return ctx
    extra = cache.load_extra("siting") if cache is not None else None
    if extra is not None:
        snap = Snapped(extra["edge"], extra["offset"], extra["dist"], extra["xy"])
        water = extra["water"]
    else:
        xy = shapely.get_coordinates(result.demand.geometry.values)
        snap = snap_points(result.network, xy, result.config.network.max_snap_m)
        water = _water(result)
        if cache is not None:
            cache.save_extra("siting", {"edge": snap.edge, "offset": snap.offset_m, "dist": snap.dist_m,
                                        "xy": snap.xy, "water": water})
    ctx = SiteContext(result, snap, water, _study_area(result))
    result._site_context = ctx  # one context per result object
    return ctx


def load_site_context(config: Config | str | Path, cache_dir: str | Path | None = None, *,
                      use_cache: bool = True, progress=None) -> SiteContext:
    """Analysis + siting context for a config, through the disk cache (see :mod:`access15.analysis_cache`)."""
    from .analysis_cache import cached_analyze
    from .pipeline import analyze

    if not use_cache:
        return site_context(analyze(config, progress=progress))
    result, cache = cached_analyze(config, cache_dir, progress=progress)
    return site_context(result, cache)


# --- weights, nouns, labels --------------------------------------------------------------------------

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
    equal those of a full re-run with the site added. ``dist_m`` of the result is in metres.
    """
    result = ctx.result
    ccfg = result.config.categories[category]
    speed = result.config.speed_m_per_min
    pm = point_minutes(result, category)
    limit = float(pm.max()) if len(pm) else ccfg.minutes
    reach = candidate_reach(result.network, sites, ctx.demand_snap, limit * speed * (1 + 1e-9) + 1e-6,
                            index=ctx.demand_index)
    by_class = getattr(ccfg, "profile_by_class", None) or {}
    if not by_class or "unit_class" not in result.demand.columns:
        return reach.select(reach.dist_m / speed <= pm[reach.dem])
    # points of a class with its own travel profile (e.g. cycling for rural circles) are reached on the
    # profile's network, in minutes, exactly as the pipeline routes them (access15.profiles)
    from .profiles import load_profiles, profile_network

    cls = pd.Series(result.demand["unit_class"].to_numpy(), dtype=object)
    walked = ~cls.isin(list(by_class)).to_numpy()
    keep = walked[reach.dem] & (reach.dist_m / speed <= pm[reach.dem])
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


def _category(result: AnalysisResult, category: str) -> None:
    cats = list(result.config.categories)
    if category not in cats:
        match = difflib.get_close_matches(category, cats, n=1, cutoff=0.5)
        raise InputError("--category", f"'{category}' is not a category of this analysis",
                         f"did you mean '{match[0]}'?" if match else "use one of " + ", ".join(cats))


# --- candidate sites -------------------------------------------------------------------------------

def as_sites(sites, source: str = "sites") -> gpd.GeoDataFrame:
    """Candidate sites as a GeoDataFrame of points in EPSG:4326 with a ``site`` name column.

    Accepts a GeoDataFrame/GeoSeries (with a CRS; polygons become their representative point), one
    ``(lon, lat)`` pair, a list of pairs or an (n, 2) array of WGS84 longitude/latitude. Columns
    ``name``, ``capacity`` and ``cost`` of a GeoDataFrame are kept.
    """
    if isinstance(sites, gpd.GeoSeries):
        sites = gpd.GeoDataFrame(geometry=sites)
    if isinstance(sites, gpd.GeoDataFrame):
        if sites.crs is None:
            raise InputError(source, "candidate sites have no CRS", "set one, e.g. gdf.set_crs(4326)")
        gdf = sites.to_crs(4326).reset_index(drop=True)
        geom = gdf.geometry.values
        if (shapely.is_missing(geom) | shapely.is_empty(geom)).any():
            i = int(np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))[0])
            raise InputError(source, "empty geometry", "give every candidate a location", row=i + 1, field="geometry")
        if (shapely.get_type_id(geom) != 0).any():
            gdf = gdf.set_geometry(shapely.point_on_surface(geom), crs=4326)
    else:
        xy = np.asarray(sites, dtype=np.float64)
        xy = xy.reshape(1, 2) if xy.shape == (2,) else xy
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputError(source, "sites must be (lon, lat) pairs", "e.g. [(121.55, 29.87)]")
        bad = np.flatnonzero(~np.isfinite(xy).all(axis=1) | (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90))
        if len(bad):
            raise InputError(source, f"({xy[bad[0], 0]}, {xy[bad[0], 1]}) is not a longitude/latitude",
                             "give WGS84 degrees as lon,lat (longitude within ±180, latitude within ±90)",
                             row=int(bad[0]) + 1)
        gdf = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4326)
    if "name" in gdf.columns:
        names = gdf["name"].fillna("").astype(str)
        gdf["site"] = np.where(names.str.strip() != "", names, [f"site {i + 1}" for i in range(len(gdf))])
    elif "site" not in gdf.columns:
        gdf["site"] = [f"site {i + 1}" for i in range(len(gdf))]
    lonlat = shapely.get_coordinates(gdf.geometry.values)
    gdf["lon"], gdf["lat"] = lonlat[:, 0], lonlat[:, 1]
    return gdf


def read_sites(path: str | Path, category: str) -> gpd.GeoDataFrame:
    """Candidate sites from a file (CSV with lon/lat, GeoJSON, GeoPackage, Shapefile), read like a
    facility file (encodings, coordinate systems and errors as for facilities); optional ``name``,
    ``capacity`` (places) and ``cost`` (any unit, for a budget) columns are kept."""
    from .config import FacilitySource
    from .inputs import read_facility_file
    from .tabular import number_error, parse_numbers, read_table

    path = Path(path)
    src = FacilitySource(path=str(path), category=category)
    gdf = read_facility_file(src, path)  # validates the file and its coordinates
    raw = read_table(path)[0] if path.suffix.lower() in (".csv", ".txt") else gpd.read_file(path)
    if "capacity" in raw.columns:
        src.capacity_column = "capacity"
        gdf = read_facility_file(src, path)
    if "cost" in raw.columns:
        cost, bad = parse_numbers(raw["cost"].astype("string"))
        bad |= ~(cost >= 0)
        if bad.any():
            raise number_error(path, raw["cost"], bad, "cost", "a non-negative cost (any unit)")
        gdf["cost"] = cost
    return as_sites(gdf, str(path))


def validate_sites(ctx: SiteContext, sites: gpd.GeoDataFrame) -> tuple[Snapped, np.ndarray, np.ndarray]:
    """Snap candidate sites and say which cannot be checked.

    Returns the snapped sites (edge -1 where not ``ok``), a status per site (:data:`OK`,
    :data:`OUTSIDE`, :data:`ON_WATER`, :data:`OFF_NETWORK`) and a message per site ("" when ok).
    Complexity: O(n log E) (one STRtree query per test, in bulk).
    """
    net = ctx.result.network
    max_snap = ctx.result.config.network.max_snap_m
    xy = transform_xy(shapely.get_coordinates(sites.geometry.values), WGS84, net.crs)
    n = len(xy)
    status = np.full(n, OK, dtype=object)
    message = np.full(n, "", dtype=object)
    outside = ~shapely.intersects_xy(ctx.area, xy[:, 0], xy[:, 1])
    lang = ctx.result.config.output.lang
    where = siting_text.text(lang, "where_bounds" if ctx.result.boundaries is not None else "where_network")
    status[outside] = OUTSIDE
    message[outside] = siting_text.text(lang, "outside", where=where)
    pts = shapely.points(xy)
    if len(ctx.water):
        pi, wi = ctx.water_tree.query(pts, predicate="within")
        first = np.unique(pi, return_index=True)
        hit, wi = first[0], wi[first[1]]
        mask = status[hit] == OK
        hit, wi = hit[mask], wi[mask]
        names = ctx.water["name"].to_numpy()[wi]
        status[hit] = ON_WATER
        message[hit] = [siting_text.text(lang, "water", name=nm or siting_text.text(lang, "water_unnamed"), oid=oid)
                        for nm, oid in zip(names, ctx.water["osm_id"].to_numpy()[wi])]
    snap = snap_points(net, xy, max_snap)
    off = np.flatnonzero(~snap.ok & (status == OK))
    if len(off):
        (_, ei), d = net.tree.query_nearest(pts[off], return_distance=True, all_matches=False)
        status[off] = OFF_NETWORK
        message[off] = [siting_text.text(lang, "off", d=v, limit=max_snap) for v in d]
    bad = status != OK
    snap.edge[bad] = -1
    return snap, status, message


# --- checking sites ----------------------------------------------------------------------------------

@dataclass
class SiteCheck:
    """What each candidate adds to one category's circle, each against the existing facilities alone.

    ``table``: one row per candidate: ``site``, ``lon``, ``lat``, ``status``, ``message``, ``snap_m``,
    ``catchment`` (demand within the circle of the site), ``already_served`` (of which inside the circle
    already), ``newly_covered``, ``covered_before``/``covered_after``, ``share_before``/``share_after``
    (0-1), ``points`` (percentage points added), the same for the combined circle (``combined_*``),
    ``capacity``, ``ratio_before``/``ratio_after`` (places per 1,000 of the demand noun),
    ``catchment_ratio`` (the site's places per 1,000 in its catchment) and ``verdict``.
    ``units``: per candidate and unit, newly covered demand and the unit's share before/after.
    ``reach``: the (candidate, demand point) pairs inside the circle, with distances in metres.
    Figures are in ``noun`` (residents, or grid cells / street nodes when unweighted).
    """

    category: str
    minutes: float
    noun: str
    table: pd.DataFrame
    units: pd.DataFrame
    sites: gpd.GeoDataFrame
    reach: Reach
    context: SiteContext
    notes: list[str] = field(default_factory=list)

    def verdicts(self) -> list[str]:
        return self.table["verdict"].tolist()

    def covered_after(self, i: int) -> np.ndarray:
        """Per demand point: inside the circle with candidate ``i`` added (boolean)."""
        dem = self.context.result.demand
        after = dem[f"covered_{self.category}"].to_numpy().copy()
        after[self.reach.dem[self.reach.cand == i]] = True
        return after


def _others_covered(result: AnalysisResult, category: str) -> np.ndarray:
    """Per point: inside the circle of every other required category, i.e. where newly covering
    ``category`` completes the combined circle (all False when ``category`` is not required)."""
    cats = result.config.categories
    dem = result.demand
    if not cats[category].required:
        return np.zeros(len(dem), dtype=bool)
    others = np.ones(len(dem), dtype=bool)
    for c in [c for c, k in cats.items() if k.required and c != category]:  # a few categories
        others &= dem[f"covered_{c}"].to_numpy(dtype=bool)
    return others


def _capacities(result: AnalysisResult, category: str, sites: gpd.GeoDataFrame, capacity) -> tuple[np.ndarray, float, int, int]:
    """Candidate capacities, the existing places and how many existing facilities lack a capacity."""
    n = len(sites)
    if capacity is None:
        cap = sites["capacity"].to_numpy(dtype=np.float64) if "capacity" in sites.columns else np.full(n, np.nan)
    else:
        cap = np.asarray(capacity, dtype=np.float64).ravel()
        if cap.size not in (1, n):
            raise InputError("capacity", f"{cap.size} capacities for {n} sites", "give one number, or one per site")
        cap = np.broadcast_to(cap, (n,)).copy()
        if (cap[np.isfinite(cap)] < 0).any():
            raise InputError("--capacity", "capacity must not be negative", "give places (beds, seats) as a number")
    fac = result.facilities
    mine = fac[(fac["category"] == category) & fac["on_network"].astype(bool)]
    caps = pd.to_numeric(mine["capacity"], errors="coerce").to_numpy(dtype=np.float64)
    missing = int(np.isnan(caps).sum())
    places = float("nan") if len(caps) and missing == len(caps) else float(np.nansum(caps))
    return cap, places, missing, len(caps)


def _evaluate(ctx: SiteContext, category: str, sites: gpd.GeoDataFrame, capacity=None) -> SiteCheck:
    result = ctx.result
    cfg = result.config
    ccfg = cfg.categories[category]
    snap, status, message = validate_sites(ctx, sites)
    K = len(sites)
    reach = circle_reach(ctx, category, snap)

    dem = result.demand
    w = category_weights(result, category)
    w0 = np.nan_to_num(dem["weight"].to_numpy(dtype=np.float64))
    before = dem[f"covered_{category}"].to_numpy(dtype=bool)
    total, cov0 = float(w.sum()), float(w[before].sum())
    pw = w[reach.dem]
    new = ~before[reach.dem]
    catchment = np.bincount(reach.cand, pw, minlength=K)
    served = np.bincount(reach.cand, pw * ~new, minlength=K)
    newly = np.bincount(reach.cand, pw * new, minlength=K)
    group = category_population(result, category)
    all_newly = np.bincount(reach.cand, w0[reach.dem] * new, minlength=K)

    comb_before = dem[f"covered_{COMBINED}"].to_numpy(dtype=bool)
    ctotal, ccov0 = float(w0.sum()), float(w0[comb_before].sum())
    others = _others_covered(result, category)
    cnew = np.bincount(reach.cand, w0[reach.dem] * (new & others[reach.dem]), minlength=K)

    cap, places, missing, n_fac = _capacities(result, category, sites, capacity)
    noun = demand_noun(result)
    notes = []
    if missing == n_fac and n_fac:
        notes.append(f"no existing {category} facility has a capacity: the area's places per 1,000 are unknown; "
                     "only each site's own catchment ratio is shown")
    elif missing:
        notes.append(f"capacity unknown for {missing} of {n_fac} existing {category} facilities: "
                     "the ratios count only the known places (a lower bound)")
    ok = status == OK
    table = pd.DataFrame({
        "site": sites["site"].astype(str).to_numpy(), "lon": sites["lon"].to_numpy(), "lat": sites["lat"].to_numpy(),
        "status": status, "message": message, "snap_m": snap.dist_m,
        "catchment": catchment, "already_served": served, "newly_covered": newly,
        "covered_before": cov0, "covered_after": cov0 + newly,
        "share_before": cov0 / total if total else np.nan, "share_after": (cov0 + newly) / total if total else np.nan,
    })
    table["points"] = 100 * (table["share_after"] - table["share_before"])
    if group:
        table["all_newly_covered"] = all_newly  # every resident, not only the category's group
    table["combined_newly_covered"] = cnew
    table["combined_share_before"] = ccov0 / ctotal if ctotal else np.nan
    table["combined_share_after"] = (ccov0 + cnew) / ctotal if ctotal else np.nan
    table["combined_points"] = 100 * (table["combined_share_after"] - table["combined_share_before"])
    table["capacity"] = cap
    table["ratio_before"] = 1000 * places / total if total else np.nan
    table["ratio_after"] = np.where(np.isfinite(cap), 1000 * (places + np.nan_to_num(cap)) / total if total else np.nan,
                                    np.nan)
    table["catchment_ratio"] = np.where(np.isfinite(cap) & (catchment > 0),
                                        1000 * np.nan_to_num(cap) / np.maximum(catchment, 1e-300), np.nan)
    out_sites = sites.to_crs(result.network.crs)
    if "unit" in dem.columns:
        table["unit"], table["unit_ratio_before"], table["unit_ratio_after"] = _unit_ratios(
            result, category, w, out_sites.geometry.values, cap, places)
    figures = [c for c in table.columns if c not in ("site", "lon", "lat", "status", "message", "snap_m",
                                                     "capacity", "ratio_before", "unit")]
    table.loc[~ok, figures] = np.nan
    lang = cfg.output.lang
    label = ccfg.label(lang).lower() if lang != "zh" else ccfg.label(lang)
    # one sentence per candidate (formatting, not analysis)
    verdict = [siting_text.verdict(lang, row, noun, ccfg.minutes, label, ccfg.required, group)
               for row in table.itertuples()]
    table["verdict"] = verdict
    units = _unit_table(dem, w, before, reach, new, table["site"].to_numpy())
    out_sites["status"] = status
    return SiteCheck(category, ccfg.minutes, noun, table, units, out_sites, reach, ctx, notes)


def _unit_ratios(result: AnalysisResult, category: str, w: np.ndarray, site_geom: np.ndarray, cap: np.ndarray,
                 places_total: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each site's unit (that of the nearest demand point) and the unit's places per 1,000 before/after.

    Existing facilities are placed in units the same way. NaN where the site has no unit, no capacity is
    given, or no existing facility has a known capacity.
    """
    dem = result.demand
    unit = dem["unit"].to_numpy(dtype=object)

    def unit_of(geom: np.ndarray) -> np.ndarray:
        out = np.full(len(geom), None, dtype=object)
        if len(geom):
            pi, di = dem.sindex.nearest(geom, return_all=False)
            out[pi] = unit[di]
        return out

    site_unit = unit_of(site_geom)
    fac = result.facilities
    mine = fac[(fac["category"] == category) & fac["on_network"].astype(bool)]
    caps = pd.to_numeric(mine["capacity"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
    places = pd.Series(caps).groupby(unit_of(mine.geometry.values)).sum()
    unit_w = pd.Series(w).groupby(unit).sum()
    known = pd.notna(site_unit)
    before = np.full(len(site_unit), np.nan)
    if np.isfinite(places_total):
        p = places.reindex(site_unit[known]).fillna(0.0).to_numpy()
        before[known] = 1000 * p / unit_w.reindex(site_unit[known]).to_numpy()
    after = np.where(np.isfinite(cap), before + 1000 * np.nan_to_num(cap) / np.nan_to_num(
        unit_w.reindex(site_unit).to_numpy(dtype=np.float64), nan=np.inf), np.nan)
    return site_unit, before, after


def _unit_table(dem: pd.DataFrame, w: np.ndarray, before: np.ndarray, reach: Reach, new: np.ndarray,
                names: np.ndarray) -> pd.DataFrame:
    """Newly covered demand per (candidate, unit), with each unit's share before and after."""
    if "unit" not in dem.columns:
        return pd.DataFrame()
    unit = dem["unit"].to_numpy(dtype=object)
    pairs = pd.DataFrame({"i": reach.cand[new], "unit": unit[reach.dem[new]], "newly_covered": w[reach.dem[new]]})
    pairs = pairs[pd.notna(pairs["unit"])]
    if not len(pairs):
        return pd.DataFrame(columns=["site", "unit", "newly_covered", "share_before", "share_after", "points"])
    got = pairs.groupby(["i", "unit"], sort=True)["newly_covered"].sum().reset_index()
    tot = pd.DataFrame({"unit": unit, "w": w, "c": w * before}).groupby("unit")[["w", "c"]].sum()
    got = got.join(tot, on="unit")
    got["share_before"] = got["c"] / got["w"]
    got["share_after"] = (got["c"] + got["newly_covered"]) / got["w"]
    got["points"] = 100 * (got["share_after"] - got["share_before"])
    got.insert(0, "site", names[got["i"].to_numpy()])
    return got.drop(columns=["i", "w", "c"]).reset_index(drop=True)


def check_sites(result: AnalysisResult | SiteContext, category: str, sites, capacity=None) -> SiteCheck:
    """What each candidate site would add to ``category``'s circle, each alone against the existing facilities.

    Parameters
    ----------
    result : an analysis (or its :class:`SiteContext`, to reuse the snapped demand between calls).
    category : a category of the analysis.
    sites : candidate sites: a GeoDataFrame (any CRS), a ``(lon, lat)`` pair or a list of pairs (WGS84).
    capacity : places of each candidate (one number for all, or one per site); default: the sites'
        ``capacity`` column when present.

    Returns
    -------
    SiteCheck. Sites outside the study area, on water or farther than ``max_snap_m`` from a walkable
    street get a status and a message instead of figures.
    """
    res = result.result if isinstance(result, SiteContext) else result
    _category(res, category)
    ctx = site_context(result)
    return _evaluate(ctx, category, as_sites(sites), capacity)


# --- suggesting sites --------------------------------------------------------------------------------

def gap_candidates(result: AnalysisResult | SiteContext, category: str, spacing_m: float | None = None) -> gpd.GeoDataFrame:
    """Candidate sites generated from the network: street nodes inside the category's gap (demand cells
    or nodes outside the circle), thinned to the node nearest the centre of each ``spacing_m`` square
    (default: a quarter of the circle's radius). EPSG:4326, with ``site`` = ``node <OSM id>``.

    Complexity: O(N log N) for N network nodes.
    """
    res = result.result if isinstance(result, SiteContext) else result
    _category(res, category)
    net, dem, cfg = res.network, res.demand, res.config
    spacing = float(spacing_m) if spacing_m else cfg.categories[category].minutes * cfg.speed_m_per_min / 4
    if spacing <= 0:
        raise InputError("--spacing", "candidate spacing must be positive", "give metres, e.g. 250")
    gap = ~dem[f"covered_{category}"].to_numpy(dtype=bool)
    if "on_network" in dem.columns:
        gap &= dem["on_network"].to_numpy(dtype=bool)
    xy = net.node_xy
    if res.grid is not None:
        g = res.grid
        lookup = np.full((g.ny, g.nx), -1, dtype=np.int64)
        lookup[dem["iy"].to_numpy(), dem["ix"].to_numpy()] = np.arange(len(dem))
        ix = np.floor((xy[:, 0] - g.x0) / g.cell).astype(np.int64)
        iy = np.floor((xy[:, 1] - g.y0) / g.cell).astype(np.int64)
        inside = (ix >= 0) & (ix < g.nx) & (iy >= 0) & (iy < g.ny)
        row = np.full(len(xy), -1, dtype=np.int64)
        row[inside] = lookup[iy[inside], ix[inside]]
        nodes = np.flatnonzero((row >= 0) & gap[np.maximum(row, 0)])
    else:
        nodes = dem["node"].to_numpy()[np.asarray(gap)]
    kx = np.floor(xy[nodes, 0] / spacing)
    ky = np.floor(xy[nodes, 1] / spacing)
    d = np.hypot(xy[nodes, 0] - (kx + 0.5) * spacing, xy[nodes, 1] - (ky + 0.5) * spacing)
    order = np.lexsort((nodes, d, ky, kx))
    kx, ky, nodes = kx[order], ky[order], nodes[order]
    first = np.r_[True, (kx[1:] != kx[:-1]) | (ky[1:] != ky[:-1])] if len(nodes) else np.zeros(0, bool)
    nodes = np.sort(nodes[first])
    lonlat = transform_xy(xy[nodes], net.crs, WGS84)
    gdf = gpd.GeoDataFrame({"site": [f"node {i}" for i in net.node_id[nodes]], "node": nodes},
                           geometry=shapely.points(lonlat), crs=4326)
    return as_sites(gdf)


@dataclass
class Suggestion:
    """New sites for one category's circle, and the set-covering answer.

    ``sites``: the chosen sites, ranked (GeoDataFrame, EPSG:4326): ``rank``, ``site``, ``lon``, ``lat``,
    ``newly_covered`` (added by this site after the higher-ranked ones), ``cumulative_new``,
    ``share_after`` (0-1, with this and the higher-ranked sites), ``points``, ``combined_newly_covered``,
    ``combined_share_after``, ``cost``.
    ``objective``: demand newly covered by the whole set; ``greedy_objective``/``exact_objective`` when
    computed (``gap`` = 1 - greedy/exact); ``optimal``: the exact solver proved optimality.
    ``cover``: the location-set-covering view for ``target`` (dict: ``target``, ``reachable``,
    ``max_share``, ``sites_needed``, ``sites`` (names), ``method``, ``optimal``, ``message``).
    ``check``: the per-candidate :class:`SiteCheck` of every candidate (each alone).
    """

    category: str
    minutes: float
    noun: str
    method: str
    k: int | None
    budget: float | None
    sites: gpd.GeoDataFrame
    objective: float
    covered_before: float
    total: float
    greedy_objective: float | None
    exact_objective: float | None
    optimal: bool
    cover: dict
    check: SiteCheck
    newly_covered: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Relative gap of the greedy solution to the exact optimum (0 = greedy is optimal)."""
        if self.greedy_objective is None or not self.exact_objective:
            return None
        return 1.0 - self.greedy_objective / self.exact_objective

    @property
    def share_before(self) -> float:
        return self.covered_before / self.total if self.total else float("nan")

    @property
    def share_after(self) -> float:
        return (self.covered_before + self.objective) / self.total if self.total else float("nan")

    def summary(self) -> str:
        """One sentence: what the suggested sites add, and the set-covering answer."""
        n = len(self.sites)
        s = (f"{n} new site{'s' if n != 1 else ''} add {siting_text.number(self.objective)} {self.noun} to the "
             f"{self.minutes:g}-minute {self.category} circle ({self.share_before:.1%} -> {self.share_after:.1%})")
        if self.gap is not None:
            s += f"; greedy reaches {1 - self.gap:.2%} of the proven optimum" if self.optimal else \
                 f"; greedy reaches {1 - self.gap:.2%} of the best integer solution found"
        return s + ". " + self.cover["message"]


def suggest_sites(result: AnalysisResult | SiteContext, category: str, k: int | None = 5, candidates=None,
                  method: str = "greedy", budget: float | None = None, target_share: float | None = None,
                  spacing_m: float | None = None, time_limit_s: float = 60.0) -> Suggestion:
    """Choose new sites that bring the most uncovered demand inside ``category``'s circle (MCLP).

    Parameters
    ----------
    result : the analysis (or its :class:`SiteContext`).
    category : the category to site.
    k : at most this many new sites (None: limited by ``budget`` only).
    candidates : candidate sites (as for :func:`check_sites`; a ``cost`` column is used with ``budget``);
        default: :func:`gap_candidates`.
    method : ``"greedy"`` (lazy greedy), ``"exact"`` (integer program, HiGHS; greedy is solved too and its
        gap reported) or ``"auto"`` (exact up to :data:`AUTO_EXACT_NNZ` coverage pairs).
    budget : total cost allowed (each candidate's ``cost``, 1 when there is no cost column).
    target_share : share (0-1) of all demand for the set-covering view; default: the plan's coverage target
        for the category in ``[targets]`` (see :func:`plan_target`), else 1.0 (everyone).
    spacing_m : thinning of generated candidates (metres).
    time_limit_s : time limit of each integer program (seconds).
    """
    res = result.result if isinstance(result, SiteContext) else result
    _category(res, category)
    if method not in ("greedy", "exact", "auto"):
        raise InputError("--method", f"unknown method '{method}'", "use greedy, exact or auto")
    if k is not None and k < 1:
        raise InputError("--k", "k must be at least 1", "ask for one or more sites")
    if k is None and budget is None:
        raise InputError("--k", "neither k nor a budget limits the number of sites", "give --k or --budget")
    plan = plan_target(res, category) if target_share is None else None
    target = float(target_share) if target_share is not None else (plan[1] if plan else 1.0)
    if not 0 < target <= 1:
        raise InputError("--target", f"target share {target} is not within (0, 1]", "e.g. 0.9 for 90%")
    if budget is not None and not budget >= 0:
        raise InputError("--budget", f"budget {budget} is not a non-negative number", "give the total cost allowed")
    ctx = site_context(result)
    sites = as_sites(candidates) if candidates is not None else gap_candidates(res, category, spacing_m)
    cost = sites["cost"].to_numpy(dtype=np.float64) if "cost" in sites.columns else None
    if cost is not None and not (cost >= 0).all():
        i = int(np.flatnonzero(~(cost >= 0))[0])
        raise InputError("candidates", f"cost {cost[i]} is not a non-negative number", "give every site a cost",
                         row=i + 1, field="cost")
    notes = []
    if not len(sites):
        notes.append("no candidate sites: the category's circle has no gaps on the network" if candidates is None
                     else "no candidate sites were given")
    check = _evaluate(ctx, category, sites, None)
    bad = int((check.table["status"] != OK).sum())
    if bad:
        notes.append(f"{bad} of {len(sites)} candidates cannot be used (outside the area, on water or off the "
                     "network); see the candidate table")

    dem = res.demand
    w = category_weights(res, category)
    before = dem[f"covered_{category}"].to_numpy(dtype=bool)
    total, cov0 = float(w.sum()), float(w[before].sum())
    r = check.reach.select(~before[check.reach.dem])
    cols, col_of = np.unique(r.dem, return_inverse=True)
    A = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r.cand, col_of)), shape=(len(sites), len(cols)))
    wc = w[cols]
    greedy = mclp.greedy_mclp(A, wc, k, cost, budget)
    use_exact = method == "exact" or (method == "auto" and A.nnz <= AUTO_EXACT_NNZ)
    exact = mclp.exact_mclp(A, wc, k, cost, budget, time_limit_s) if use_exact else None
    if exact is not None and exact.objective < greedy.objective:
        notes.append(f"the integer program stopped early ({exact.status}); the greedy solution is used")
    best = exact if exact is not None and exact.objective >= greedy.objective else greedy
    ranked = mclp.rank(A, wc, best.chosen)
    chosen = ranked.chosen

    # per-rank gains for the combined circle, and the demand points newly covered by the whole set
    covered_new = np.zeros(len(dem), dtype=bool)
    step_of = np.full(len(cols), -1)
    for step, i in enumerate(chosen):  # k iterations (the chosen sites), each vectorised
        c = A.indices[A.indptr[i]:A.indptr[i + 1]]
        fresh = c[step_of[c] < 0]
        step_of[fresh] = step
    reached = step_of >= 0
    covered_new[cols[reached]] = True
    ccfg = res.config.categories[category]
    w0 = np.nan_to_num(dem["weight"].to_numpy(dtype=np.float64))
    comb = dem[f"covered_{COMBINED}"].to_numpy(dtype=bool)
    others = _others_covered(res, category)
    cgain = np.bincount(step_of[reached], w0[cols[reached]] * others[cols[reached]], minlength=len(chosen))
    ctotal = float(w0.sum())
    out = sites.iloc[chosen].copy().reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(chosen) + 1))
    out["newly_covered"] = ranked.gains
    out["cumulative_new"] = np.cumsum(ranked.gains)
    out["share_after"] = (cov0 + out["cumulative_new"]) / total
    out["points"] = 100 * ranked.gains / total
    out["combined_newly_covered"] = cgain
    out["combined_share_after"] = (float(w0[comb].sum()) + np.cumsum(cgain)) / ctotal
    out["cost"] = cost[chosen] if cost is not None else 1.0
    out["alone_newly_covered"] = check.table["newly_covered"].to_numpy()[chosen]

    cover = _set_cover(A, wc, total, cov0, target, sites, use_exact, time_limit_s, demand_noun(res))
    cover["target_name"] = plan[0] if plan else ""
    if plan:
        cover["message"] = f"[{plan[0]}] " + cover["message"]
    return Suggestion(category, ccfg.minutes, demand_noun(res), best.method, k, budget, out, ranked.objective,
                      cov0, total, greedy.objective, exact.objective if exact is not None else None,
                      bool(exact is not None and exact.optimal and best is exact), cover, check, covered_new, notes)


def plan_target(result: AnalysisResult, category: str) -> tuple[str, float] | None:
    """The plan's coverage target for ``category`` from the config's ``[targets]`` (``measure = "coverage"``,
    whole area), as (name, share), or None; the highest share when several are configured."""
    found = [(t.value, name) for name, t in (getattr(result.config, "targets", None) or {}).items()
             if getattr(t, "measure", "") == "coverage" and getattr(t, "category", "") == category
             and not getattr(t, "level", None) and 0 < float(t.value) <= 1]
    if not found:
        return None
    value, name = max(found)
    return name, float(value)


def _pct(x: float, down: bool = False) -> str:
    """A share as a percentage with one decimal at most ("90%", "95.5%"); ``down`` rounds down, so that a
    share short of 100% never reads as 100%."""
    v = math.floor(x * 1000 + 1e-9) / 10 if down else round(x * 100, 1)
    return f"{v:.1f}".removesuffix(".0") + "%"


def _set_cover(A, wc: np.ndarray, total: float, cov0: float, target: float, sites: gpd.GeoDataFrame,
               exact: bool, time_limit_s: float, noun: str) -> dict:
    """The location-set-covering view: the fewest candidates that lift coverage to ``target``."""
    needed = target * total - cov0
    tol = 1e-9 * max(total, 1.0)
    reachable_w = float(wc[np.unique(A.indices)].sum()) if A.nnz else 0.0
    max_share = (cov0 + reachable_w) / total if total else float("nan")
    out = {"target": target, "needed": max(needed, 0.0), "max_share": max_share, "reachable": True,
           "sites_needed": 0, "sites": [], "method": "", "optimal": True}
    if needed <= tol:
        out["message"] = (f"The target of {_pct(target)} is already met ({_pct(cov0 / total, down=True)} covered): "
                          "no new site needed.")
        return out
    if reachable_w < needed - tol:
        out.update(reachable=False, sites_needed=None, optimal=True,
                   message=(f"A {_pct(target)} share is unreachable with these {len(sites)} candidates: all of "
                            f"them together reach {_pct(max_share, down=True)}."))
        return out
    sol = mclp.greedy_mclp(A, wc, stop_at=needed - tol)
    method, optimal = "greedy (an upper bound)", False
    if exact:
        ex = mclp.exact_cover(A, wc, needed - tol, time_limit_s)
        if len(ex.chosen) and ex.objective >= needed - tol and len(ex.chosen) <= len(sol.chosen):
            sol, method, optimal = ex, "exact", ex.optimal
    names = sites["site"].astype(str).to_numpy()[sol.chosen].tolist()
    out.update(sites_needed=len(sol.chosen), sites=names, method=method, optimal=optimal,
               message=(f"Reaching {_pct(target)} takes {'' if optimal else 'at most '}"
                        f"{len(sol.chosen)} new site{'s' if len(sol.chosen) != 1 else ''} of these candidates"
                        f"{' (proven minimum)' if optimal else ' (' + method + ')'}."))
    return out


def parse_lonlat(text: str) -> tuple[float, float]:
    """``"lon,lat"`` (WGS84 degrees) as a pair of floats; a clear error otherwise."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise InputError("--at", f"'{text}' is not lon,lat", "write e.g. --at 121.55,29.87 (longitude first)") from None
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        raise InputError("--at", f"'{text}' is not a longitude,latitude",
                         "longitude within ±180, latitude within ±90 (longitude first)")
    return lon, lat
