"""Checks of inputs against the network: swapped coordinates, a GCJ-02/BD-09 shift, split networks.

These are the mistakes that give a plausible but wrong answer rather than an error, so they are
reported (as :class:`~access15.errors.AccessWarning` in :func:`~access15.pipeline.analyze` and as rows of
``access15 validate``), never silently "fixed":

* **swapped longitude/latitude**: most points of a file fall outside the network's extent but would fall
  inside with the pair swapped (:func:`swap_check`);
* **a Chinese map shift**: facilities declared WGS84 sit where the GCJ-02 (or BD-09) transform would
  put them (:func:`shift_check`), judged by the offset from same-named OpenStreetMap features and by snap
  distances;
* **a split network**: demand on pieces other than the largest, where services on the main piece are
  unreachable (:func:`component_share`).

All are vectorised: O(n log E) for n points against E edges (STRtree queries), O(n log n) for name matching.
"""

from __future__ import annotations

import unicodedata
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import Config
from .coords import WGS84, in_china, parse_crs, transform_xy, wgs84_to_bd09, wgs84_to_gcj02
from .errors import AccessNote, AccessWarning, InputError
from .io.osm import is_osm_file, read_osm_facilities
from .network import WalkNetwork
from .snap import Snapped, snap_points
from .units import UnitAssignment

_M_PER_DEG = np.pi / 180.0 * 6371008.8


def network_extent(net: WalkNetwork, margin_m: float) -> shapely.Geometry:
    """The network's convex hull grown by ``margin_m`` metres, in the network CRS."""
    return shapely.buffer(net.hull(), margin_m)


@dataclass
class SwapCheck:
    """``outside``: points outside the network extent as given; ``inside_if_swapped``: how many of those
    fall inside once longitude and latitude are exchanged."""

    n: int
    outside: int
    inside_if_swapped: int

    @property
    def swapped(self) -> bool:
        """Most points are outside, and swapping brings most of those inside."""
        return self.n > 0 and self.outside >= 0.5 * self.n and self.inside_if_swapped >= 0.8 * self.outside


def swap_check(lonlat: np.ndarray, net: WalkNetwork, margin_m: float = 500.0) -> SwapCheck:
    """Compare WGS84 points (n, 2) and their swapped twins with the network extent."""
    lonlat = np.asarray(lonlat, float).reshape(-1, 2)
    n = len(lonlat)
    if n == 0:
        return SwapCheck(0, 0, 0)
    area = network_extent(net, margin_m)
    shapely.prepare(area)
    xy = transform_xy(lonlat, WGS84, net.crs)
    out = ~shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    sw = lonlat[out][:, ::-1]
    ok = (np.abs(sw[:, 1]) <= 90) & (np.abs(sw[:, 0]) <= 180)
    inside = np.zeros(len(sw), dtype=bool)
    if ok.any():
        sxy = transform_xy(sw[ok], WGS84, net.crs)
        inside[ok] = shapely.contains_xy(area, sxy[:, 0], sxy[:, 1])
    return SwapCheck(n, int(out.sum()), int(inside.sum()))


def _norm_names(names: pd.Series) -> pd.Series:
    s = names.fillna("").astype(str).map(lambda t: unicodedata.normalize("NFKC", t))
    return s.str.replace(r"\s+", "", regex=True).str.lower()


def predicted_shifts(lon: float, lat: float) -> dict[str, np.ndarray]:
    """East/north displacement (metres) of WGS84 -> GCJ-02 and WGS84 -> BD-09 at (lon, lat)."""
    k = np.array([_M_PER_DEG * np.cos(np.radians(lat)), _M_PER_DEG])
    out = {}
    for name, fwd in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        x, y = fwd(np.array([lon]), np.array([lat]))
        out[name] = (np.array([x[0], y[0]]) - [lon, lat]) * k
    return out


@dataclass
class ShiftCheck:
    """Evidence that points (declared WGS84) carry a Chinese map shift.

    ``matches``: facilities paired with a same-named OSM feature; ``offset_m``: the median east/north
    offset (metres) of the facilities from those features; ``expected_m``: the shift each system predicts
    at that place; ``snap_m`` / ``snap_undone_m``: median snap distance as given and with the GCJ-02 shift
    undone; ``verdict``: ``"gcj02"``, ``"bd09"``, ``"wgs84-as-gcj02"`` (declared GCJ-02 but the numbers
    are WGS84), or ``None`` when nothing looks wrong.
    """

    matches: int
    offset_m: np.ndarray
    expected_m: dict[str, np.ndarray]
    snap_m: float
    snap_undone_m: float
    verdict: str | None

    def explain(self, declared: str) -> tuple[str, str]:
        """(problem, fix) in words for the user."""
        sys_name = {"gcj02": "GCJ-02 (AMap/Tencent)", "bd09": "BD-09 (Baidu)"}
        if self.verdict in sys_name:
            s = self.expected_m[self.verdict]
            why = (f"{self.matches} facilities sit {np.hypot(*self.offset_m):.0f} m from same-named OpenStreetMap "
                   f"features, offset ({self.offset_m[0]:+.0f} m E, {self.offset_m[1]:+.0f} m N)"
                   if self.matches >= 3 else f"median snap distance {self.snap_m:.0f} m drops to "
                   f"{self.snap_undone_m:.0f} m with the shift undone")
            return (f"declared {declared} but the points look like {sys_name[self.verdict]} coordinates: {why}; "
                    f"{sys_name[self.verdict]} shifts this area by ({s[0]:+.0f} m E, {s[1]:+.0f} m N)",
                    f"set crs = \"{self.verdict}\" in [[facilities]] if the list comes from that map")
        s = self.expected_m["gcj02"]
        return (f"declared GCJ-02 but the converted points are offset ({self.offset_m[0]:+.0f} m E, "
                f"{self.offset_m[1]:+.0f} m N) from {self.matches} same-named OpenStreetMap features, the reverse of "
                f"the GCJ-02 shift ({s[0]:+.0f} m E, {s[1]:+.0f} m N)",
                "the file is probably WGS84 already: remove crs from [[facilities]]")


def shift_check(points: gpd.GeoDataFrame, net: WalkNetwork, reference: gpd.GeoDataFrame | None = None,
                max_snap_m: float = 500.0, min_matches: int = 3) -> ShiftCheck | None:
    """Look for a GCJ-02/BD-09 shift in facilities that were taken as WGS84 (or converted from GCJ-02).

    Parameters
    ----------
    points : facilities in EPSG:4326 with a ``name`` column, as loaded.
    net : the walking network (any metric CRS).
    reference : OpenStreetMap features (EPSG:4326, ``name``) from the network's extract, if any.
    max_snap_m : the analysis's snap limit (metres).
    min_matches : same-name pairs needed before the offset is trusted.

    Returns
    -------
    ShiftCheck, or None when no point lies in China (where the systems coincide with WGS84).

    Method: (1) pair facilities with OSM features of the same normalised name (names unique on both
    sides) and take the median east/north offset; it is judged to be a system's shift when it lies within
    25% (at least 60 m) of that system's predicted shift and nearer to it than to zero. (2) Without enough
    name pairs, only a drastic snap improvement counts: median snap distance above 150 m as given and
    below half of that with the GCJ-02 shift undone. Dense street grids hide a 500 m shift from snap
    distances, so (2) alone is deliberately conservative.
    """
    pts = points.to_crs(WGS84)
    lonlat = shapely.get_coordinates(pts.geometry.values)
    if len(lonlat) == 0 or not in_china(lonlat[:, 0], lonlat[:, 1]).any():
        return None
    lon0, lat0 = np.median(lonlat, axis=0)
    expected = predicted_shifts(float(lon0), float(lat0))
    k = np.array([_M_PER_DEG * np.cos(np.radians(lat0)), _M_PER_DEG])
    offset, matches = np.array([np.nan, np.nan]), 0
    if reference is not None and len(reference) and "name" in pts.columns:
        a = pd.DataFrame({"key": _norm_names(pts["name"]).to_numpy(), "i": np.arange(len(pts))})
        b = pd.DataFrame({"key": _norm_names(reference["name"]).to_numpy(), "j": np.arange(len(reference))})
        a = a[(a["key"] != "") & ~a["key"].duplicated(keep=False)]
        b = b[(b["key"] != "") & ~b["key"].duplicated(keep=False)]
        pairs = a.merge(b, on="key")
        matches = len(pairs)
        if matches:
            ref = shapely.get_coordinates(reference.to_crs(WGS84).geometry.values)
            d = (lonlat[pairs["i"].to_numpy()] - ref[pairs["j"].to_numpy()]) * k
            offset = np.median(d, axis=0)
    xy = transform_xy(lonlat, WGS84, net.crs)
    snap = snap_points(net, xy, max(4 * max_snap_m, 2000.0), prefer_main=False).dist_m
    undone = lonlat - expected["gcj02"] / k
    snap_u = snap_points(net, transform_xy(undone, WGS84, net.crs), max(4 * max_snap_m, 2000.0), prefer_main=False).dist_m
    med, med_u = float(np.nanmedian(snap)) if np.isfinite(snap).any() else np.inf, \
        float(np.nanmedian(snap_u)) if np.isfinite(snap_u).any() else np.inf
    verdict = None
    if matches >= min_matches:
        cands = {"gcj02": expected["gcj02"], "bd09": expected["bd09"], "wgs84-as-gcj02": -expected["gcj02"]}
        dist = {c: float(np.hypot(*(offset - v))) for c, v in cands.items()}
        best = min(dist, key=dist.get)
        size = float(np.hypot(*cands[best]))
        if dist[best] <= max(0.25 * size, 60.0) and dist[best] < float(np.hypot(*offset)):
            verdict = best
    elif med > 150.0 and med_u < 0.5 * med:
        verdict = "gcj02"
    return ShiftCheck(matches, offset, expected, med, med_u, verdict)


def component_share(net: WalkNetwork, snapped: Snapped, weight: np.ndarray) -> tuple[float, float, int]:
    """Demand on network pieces other than the largest.

    Returns
    -------
    (share, weight, pieces): the share (0-1) and the total weight (persons or points) of snapped demand
    attached to a minor component only (no attachment to the largest one within the snap limit), and the
    number of connected pieces of the network.
    """
    weight = np.asarray(weight, float)
    pieces = int(net.component.max()) + 1 if net.n_nodes else 0
    ok = snapped.ok
    if not ok.any():
        return 0.0, 0.0, pieces
    minor = np.zeros(len(snapped), dtype=bool)
    minor[ok] = net.component[net.edge_u[snapped.edge[ok]]] != 0
    if snapped.alt_edge is not None:
        minor &= snapped.alt_edge < 0  # joined to the main piece too: not stranded
    total = float(weight[ok].sum())
    w = float(weight[minor].sum())
    return (w / total if total > 0 else 0.0), w, pieces


def component_message(share: float, weight: float, pieces: int, label: str = "demand points") -> str | None:
    """The warning for :func:`component_share` ("problem; what to do"), or None when all demand is on the
    largest piece."""
    if weight <= 0:
        return None
    return (f"the walking network has {pieces} separate pieces; {share:.1%} of demand ({weight:,.0f} {label}) "
            "is on pieces other than the largest, where it can reach only facilities on the same piece; they are "
            "kept, not dropped: check the extract for missing links (bridges, paths), or clip it")


def facility_source_checks(cfg: Config, facilities: gpd.GeoDataFrame, net: WalkNetwork) -> list[tuple[str, str, str]]:
    """Chinese map shifts per configured facility file, as warnings: (file name, problem, fix). A file whose
    longitude and latitude are swapped is refused (:class:`~access15.errors.InputError`): every figure of its
    categories would be wrong.

    Parameters
    ----------
    cfg : the :class:`~access15.config.Config` whose ``facilities`` sources were loaded.
    facilities : the loaded facilities (any CRS) with the ``source`` column set to each file's name.
    net : the walking network.

    OpenStreetMap sources are WGS84 by definition and are not checked. The OSM features used as the
    reference for name matching are read from the network file only when a file source lies in China.
    """
    out: list[tuple[str, str, str]] = []
    if "source" not in facilities.columns or not len(facilities):
        return out
    fac = facilities.to_crs(WGS84)
    reference: gpd.GeoDataFrame | None = None
    net_path = cfg.resolve(cfg.network.path)
    for src in cfg.facilities:
        if src.path.lower() == "osm":
            continue
        path = cfg.resolve(src.path)
        rows = fac[fac["source"] == path.name]
        if not len(rows):
            continue
        lonlat = shapely.get_coordinates(rows.geometry.values)
        sw = swap_check(lonlat, net, cfg.network.max_snap_m)
        if sw.swapped:
            fix = ("remove swap_lonlat = true" if src.swap_lonlat else "set swap_lonlat = true in [[facilities]]")
            raise InputError(path, f"longitude and latitude look swapped: {sw.outside} of {sw.n} facilities lie "
                             f"outside the network's extent and {sw.inside_if_swapped} of them fall inside with the "
                             "two exchanged", fix)
        declared = parse_crs(src.crs, path)
        if not (declared.is_wgs84 or declared.system == "gcj02"):
            continue
        if not in_china(lonlat[:, 0], lonlat[:, 1]).any():
            continue
        if reference is None:
            try:
                reference = (read_osm_facilities(net_path) if is_osm_file(net_path)
                             else gpd.GeoDataFrame({"name": []}, geometry=[], crs=WGS84))
            except Exception:  # the reference is optional: a failure only weakens the check
                reference = gpd.GeoDataFrame({"name": []}, geometry=[], crs=WGS84)
        chk = shift_check(rows, net, reference, cfg.network.max_snap_m)
        if chk is None or chk.verdict is None:
            continue
        if declared.system == "gcj02" and chk.verdict != "wgs84-as-gcj02":
            continue
        if declared.is_wgs84 and chk.verdict == "wgs84-as-gcj02":
            continue
        out.append((path.name, *chk.explain(declared.label if declared.declared else "WGS84 (no crs)")))
    return out


def units_beyond_extract(units: pd.DataFrame, max_snap_m: float, what: str = "demand",
                         min_share: float = 0.2, show: int = 5) -> str | None:
    """A warning naming the units of which more than ``min_share`` of the demand is farther than
    ``max_snap_m`` from every walkable street: typically boundaries larger than the OSM extract.

    ``units`` is the per-unit coverage table (columns ``unit``, ``category``, ``demand``, ``unreachable``,
    optionally ``level``). Returns None when no unit is affected.
    """
    if units is None or not len(units):
        return None
    first = units[units["category"] == units["category"].iloc[0]]
    share = (first["unreachable"] / first["demand"].where(first["demand"] > 0)).fillna(0.0)
    bad = first.assign(share=share)[share > min_share].sort_values("share", ascending=False)
    if not len(bad):
        return None
    names = ", ".join(f"{u} ({s:.0%})" for u, s in zip(bad["unit"].astype(str), bad["share"]))
    if len(bad) > show:
        names = ", ".join(f"{u} ({s:.0%})" for u, s in zip(bad["unit"].astype(str)[:show], bad["share"][:show]))
        names += f" and {len(bad) - show} more"
    return (f"{len(bad)} units lie largely beyond the walking network (share of {what} farther than "
            f"{max_snap_m:g} m from any walkable street): {names}; that {what} counts as not covered — use an OSM "
            "extract that covers the whole units, or clip the boundaries to the area studied")


def unit_reach_table(assign: UnitAssignment, weight: np.ndarray, on_network: np.ndarray) -> pd.DataFrame:
    """Per unit (every level): its demand and the part not on the walking network, as the table
    :func:`units_beyond_extract` reads. O(n) per level."""
    w = np.asarray(weight, dtype=np.float64)
    frames = []
    for lvl in assign.unit.columns:
        df = pd.DataFrame({"unit": assign.unit[lvl].to_numpy(), "demand": w, "unreachable": w * ~on_network})
        t = df.dropna(subset=["unit"]).groupby("unit", sort=False)[["demand", "unreachable"]].sum().reset_index()
        t.insert(0, "level", lvl)
        frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["level", "unit", "demand",
                                                                                   "unreachable"])
    out["category"] = ""
    return out


def duplicate_facilities(fac: gpd.GeoDataFrame, tol_m: float = 1.0) -> pd.DataFrame:
    """Facilities that repeat an earlier one: the same category within ``tol_m`` metres (``fac`` in a metric
    CRS; positions rounded to a ``tol_m`` grid). One row per repeat: ``row`` (position in ``fac``), ``first``
    (position of the row it repeats), ``category``, ``facility_id``, ``first_id``. O(n log n)."""
    xy = np.round(shapely.get_coordinates(fac.geometry.values) / tol_m)
    key = pd.DataFrame({"c": fac["category"].to_numpy(), "x": xy[:, 0], "y": xy[:, 1]})
    dup = key.duplicated(keep="first").to_numpy()
    first = key.reset_index().groupby(["c", "x", "y"])["index"].transform("min").to_numpy()
    rows = np.flatnonzero(dup)
    ids = fac["facility_id"].astype(str).to_numpy()
    return pd.DataFrame({"row": rows, "first": first[rows], "category": key["c"].to_numpy()[rows],
                         "facility_id": ids[rows], "first_id": ids[first[rows]]})


#: Facilities farther than this from the street they join are noted with the distance (metres).
FAR_FROM_STREET_M = 50.0


def judge_facilities(cfg: Config, fac: gpd.GeoDataFrame, area: shapely.Geometry, max_snap_m: float,
                     show: int = 5) -> dict[str, str]:
    """Checks of the loaded, snapped facilities (network CRS; ``snap_m`` set) that change no figure by
    themselves but must be seen: duplicated rows (a warning: they are counted, so per-1,000 ratios are
    inflated), facilities outside the study area and facilities far from any street (notes). Returns the
    note per category for the coverage table ("3 duplicate facilities counted")."""
    table: dict[str, str] = {}
    dups = duplicate_facilities(fac)
    if len(dups):
        listed = ", ".join(f"{r.facility_id} = {r.first_id}" for r in dups.head(show).itertuples())
        more = f" and {len(dups) - show} more" if len(dups) > show else ""
        warnings.warn(f"{len(dups)} facilities repeat another of the same category within 1 m ({listed}{more}) and "
                      "are counted twice: facility counts and per-1,000 ratios are inflated; delete the repeated rows",
                      AccessWarning, stacklevel=3)
        for cat, n in dups["category"].value_counts().items():
            table[cat] = f"{n} duplicate facilities counted"
    xy = shapely.get_coordinates(fac.geometry.values)
    outside = ~shapely.contains_xy(area, xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0, bool)
    if outside.any():
        warnings.warn(f"{int(outside.sum())} facilities lie outside the study area; they still serve the people "
                      "inside within their circle", AccessNote, stacklevel=3)
    far = np.flatnonzero(fac["snap_m"].to_numpy(dtype=float) > FAR_FROM_STREET_M)
    if len(far):
        order = far[np.argsort(-fac["snap_m"].to_numpy(dtype=float)[far], kind="stable")]
        listed = ", ".join(f"{fid} {d:,.0f} m" for fid, d in zip(fac["facility_id"].astype(str).to_numpy()[order][:show],
                                                                 fac["snap_m"].to_numpy(dtype=float)[order][:show]))
        warnings.warn(f"{len(far)} facilities are more than {FAR_FROM_STREET_M:g} m from the street they join "
                      f"({listed}{', ...' if len(far) > show else ''}); that distance is walked in a straight line "
                      "(snap_m in the facilities layer)", AccessNote, stacklevel=3)
    return table
