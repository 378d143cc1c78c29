"""What a proposed facility adds to a circle: each candidate site against the existing facilities.

:func:`check_sites` evaluates candidate sites one by one against the existing facilities of a category:
the demand newly brought inside the circle (overall and per unit), the change of the coverage share and
of the combined circle, the candidate's own catchment and the part of it already served, and the change
of the capacity ratio (places per 1,000).

Nothing is re-routed: a candidate can only improve points within the circle's radius of it, so a bounded
search from each candidate (:func:`access15.catchment.candidate_reach`, candidates in compact chunks) is
compared with the travel times the analysis already holds. The figures equal those of a full re-run of
:func:`access15.analyze` with the candidate added (the tests check it point for point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..catchment import Reach
from ..coverage import COMBINED
from ..errors import InputError
from ..result import AnalysisResult
from ..text import noun, number, t
from .context import (
    SiteContext,
    category_population,
    category_weights,
    check_category,
    circle_reach,
    demand_noun,
    site_context,
)
from .sites import OK, as_sites, validate_sites


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
        """The one-sentence verdict of each candidate, in table order."""
        return self.table["verdict"].tolist()

    def covered_after(self, i: int) -> np.ndarray:
        """Per demand point: inside the circle with candidate ``i`` added (boolean)."""
        dem = self.context.result.demand
        after = dem[f"covered_{self.category}"].to_numpy().copy()
        after[self.reach.dem[self.reach.cand == i]] = True
        return after


def others_covered(result: AnalysisResult, category: str) -> np.ndarray:
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


def _capacities(result: AnalysisResult, category: str, sites: gpd.GeoDataFrame, capacity: Any
                ) -> tuple[np.ndarray, float, int, int]:
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


def evaluate(ctx: SiteContext, category: str, sites: gpd.GeoDataFrame, capacity: Any = None) -> SiteCheck:
    """:func:`check_sites` on a context and validated sites (the work behind it, shared with suggestions)."""
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
    others = others_covered(result, category)
    cnew = np.bincount(reach.cand, w0[reach.dem] * (new & others[reach.dem]), minlength=K)

    cap, places, missing, n_fac = _capacities(result, category, sites, capacity)
    noun_en = demand_noun(result)
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
    verdict = [_verdict(lang, row, noun_en, ccfg.minutes, label, ccfg.required, group)
               for row in table.itertuples()]
    table["verdict"] = verdict
    units = _unit_table(dem, w, before, reach, new, table["site"].to_numpy())
    out_sites["status"] = status
    return SiteCheck(category, ccfg.minutes, noun_en, table, units, out_sites, reach, ctx, notes)


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


def check_sites(result: AnalysisResult | SiteContext, category: str, sites: Any,
                capacity: float | list[float] | np.ndarray | None = None) -> SiteCheck:
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
    check_category(res, category)
    ctx = site_context(result)
    return evaluate(ctx, category, as_sites(sites), capacity)


def _verdict(lang: str, row: Any, noun_en: str, minutes: float, label: str, required: bool, group: str | None) -> str:
    """The one-sentence verdict for one row of a site-check table, in ``lang`` (figures from the row)."""
    if row.status != OK:
        return t(lang, "invalid", site=row.site, message=row.message)
    nn = noun(lang, noun_en)
    who = t(lang, "group", noun=nn, group=group, all=number(row.all_newly_covered)) if group else nn
    s = t(lang, "adds", site=row.site, n=number(row.newly_covered), who=who, pts=row.points, minutes=minutes,
          label=label)
    if required:
        s += t(lang, "adds_combined", n=number(row.combined_newly_covered), pts=row.combined_points)
    s += t(lang, "catchment", c=number(row.catchment), noun=nn, s=number(row.already_served))
    if math.isfinite(row.capacity) and math.isfinite(row.ratio_after):
        s += t(lang, "ratio", cap=row.capacity, before=row.ratio_before, after=row.ratio_after, noun=nn)
    elif math.isfinite(row.capacity) and math.isfinite(row.catchment_ratio):
        s += t(lang, "catchment_ratio", cap=row.capacity, ratio=row.catchment_ratio, noun=nn)
    return s
