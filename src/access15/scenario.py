"""What-if scenarios: add, move and close facilities, and get the analysis' figures for a plan year.

A :class:`Scenario` lists proposed facilities (category, WGS84 lon/lat, name, capacity, opening year) and
closures of existing facilities (by ``facility_id``, with the year they close). A proposed facility that
is "moved" is the same proposal with new coordinates. Scenarios are plain GeoJSON files
(:meth:`Scenario.save` / :meth:`Scenario.load`), written atomically.

:class:`ScenarioEngine` applies a scenario to a finished (cached) analysis without re-routing the city,
and its figures are **exactly** those of a full :func:`access15.analyze` re-run with the modified facility
set (:func:`scenario_facilities`); the tests compare the coverage tables with ``check_exact``.

Why the figures are exact. The pipeline's time of a demand point for a category is
``min over facilities f of D_f / speed``, where ``D_f`` is the floating-point walking distance from
facility ``f`` (virtual source link, then the edges, then the point's edge offset and access leg).
Dijkstra's ``d[v] = min_u (d[u] + w)`` with monotonic IEEE addition makes a multi-source distance the
minimum of the single-source ones, bit for bit, and the bounded search of :mod:`access15.reach` performs
the same additions (its docstring), so

* **added** facility ``c``: ``t' = min(t, D_c / speed)`` for the points ``c`` reaches within the routing
  limit (``max_minutes`` x speed, the pipeline's own search limit); every other point keeps ``t``.
  Division by a positive speed is monotonic, so ``min(D/s, D_c/s) = min(D, D_c)/s`` exactly.
* **closed** facility ``f``: a point whose recorded nearest facility is not ``f`` keeps its time (its
  minimum is attained by a facility that stays, and removing facilities never shortens a walk); the
  points whose nearest facility was ``f`` are re-routed by :func:`access15.routing.nearest_facility` (the
  pipeline's own function) from the remaining facilities of the category, restricted to those points.
  Points beyond the limit (no nearest facility) stay beyond it.

Complexity per edit: an addition is one bounded search (O(nodes within the routing limit)), cached per
(category, location); a closure is one multi-source search over the network for the affected points,
cached per (category, closed set); then the coverage table, O(n log n) for n demand points.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .catchment import candidate_reach
from .coords import WGS84, transform_xy
from .coverage import COMBINED, ROW_FIGURES, combined_minutes, coverage_table
from .errors import InputError
from .profiles import class_profile_times
from .result import AnalysisResult
from .routing import may_reach, nearest_facility
from .siting import OK, SiteContext, as_sites, site_context
from .siting.sites import validate_sites
from .snap import snap_points
from .standards import SCALE, evaluate_targets
from .text import t
from .units import UnitAssignment, assign_units, level_column, unit_tables

#: GeoJSON foreign member marking an access15 scenario file, and its format version.
FORMAT_KEY, FORMAT_VERSION = "access15_scenario", 1
#: Largest opening/closing year accepted (and smallest).
YEAR_RANGE = (1900, 2200)


# --- the scenario ---------------------------------------------------------------------------------------

@dataclass
class Proposed:
    """A proposed facility. ``lon``/``lat``: WGS84 degrees; ``capacity``: places (beds, seats), None when
    unknown; ``year``: the year it opens (None: open in every plan year); ``id``: unique in the scenario."""

    id: str
    category: str
    lon: float
    lat: float
    name: str = ""
    capacity: float | None = None
    year: int | None = None


@dataclass
class Closure:
    """An existing facility closed from ``year`` on (None: closed in every plan year)."""

    facility_id: str
    year: int | None = None


def check_year(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError("scenario", f"{what} year {value!r} is not a year", "give e.g. 2027, or leave it empty")
    try:
        y = float(value)
    except ValueError:
        raise InputError("scenario", f"{what} year {value!r} is not a year", "give e.g. 2027") from None
    if not (math.isfinite(y) and y == int(y) and YEAR_RANGE[0] <= y <= YEAR_RANGE[1]):
        raise InputError("scenario", f"{what} year {value!r} is not a year between {YEAR_RANGE[0]} and "
                         f"{YEAR_RANGE[1]}", "give e.g. 2027")
    return int(y)


def check_lonlat(lon: Any, lat: Any, what: str = "site") -> tuple[float, float]:
    """Validated WGS84 ``(lon, lat)``; a clear :class:`InputError` for non-numbers, NaN or out-of-range values
    (and a hint when they look swapped)."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError("scenario", f"{what}: ({lon!r}, {lat!r}) is not a longitude/latitude",
                         "give WGS84 degrees as numbers") from None
    if isinstance(lon, bool) or isinstance(lat, bool) or not (math.isfinite(x) and math.isfinite(y)):
        raise InputError("scenario", f"{what}: ({lon!r}, {lat!r}) is not a longitude/latitude",
                         "give WGS84 degrees as numbers")
    if abs(x) > 180 or abs(y) > 90:
        hint = ("longitude and latitude look swapped; give longitude first" if abs(y) <= 180 and abs(x) <= 90
                else "longitude within ±180, latitude within ±90")
        raise InputError("scenario", f"{what}: lat {y:g} is out of range (lon {x:g})" if abs(y) > 90 else
                         f"{what}: lon {x:g} is out of range", hint)
    return x, y


def check_capacity(value: Any, what: str = "site") -> float | None:
    """Places as a non-negative finite number, or None."""
    if value is None or value == "":
        return None
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise InputError("scenario", f"{what}: capacity {value!r} is not a number", "give places, e.g. 40") from None
    if isinstance(value, bool) or not math.isfinite(c) or c < 0:
        raise InputError("scenario", f"{what}: capacity {value!r} must be a non-negative number",
                         "give places (beds, seats), e.g. 40")
    return c


@dataclass
class Scenario:
    """Added (proposed, possibly moved) and closed facilities, each with a year."""

    name: str = ""
    added: list[Proposed] = field(default_factory=list)
    closed: list[Closure] = field(default_factory=list)

    # -- editing (ids are generated, never taken from a path or the user) --
    def new_id(self) -> str:
        used = {p.id for p in self.added}
        i = len(self.added) + 1
        while f"p{i}" in used:
            i += 1
        return f"p{i}"

    def proposed(self, pid: str) -> Proposed:
        for p in self.added:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def active(self, year: int | None) -> tuple[list[Proposed], set[str]]:
        """The proposals open and the facility ids closed in plan ``year`` (None: every edit applies)."""
        added = [p for p in self.added if year is None or p.year is None or p.year <= year]
        closed = {c.facility_id for c in self.closed if year is None or c.year is None or c.year <= year}
        return added, closed

    def years(self) -> list[int]:
        return sorted({p.year for p in self.added if p.year is not None}
                      | {c.year for c in self.closed if c.year is not None})

    def describe(self, year: int | None = None, lang: str = "en") -> str:
        """One line for a map footer, in ``lang``: ``Scenario 'x' (plan year 2027): +2 clinic (A, B); -1 closed
        (f12)``."""
        added, closed = self.active(year)

        def listed(items: list[str]) -> str:
            return ", ".join(items[:5]) + (", ..." if len(items) > 5 else "")

        parts = []
        for cat in sorted({p.category for p in added}):
            names = [p.name or p.id for p in added if p.category == cat]
            parts.append(t(lang, "sc_added", n=len(names), category=cat, names=listed(names)))
        if closed:
            parts.append(t(lang, "sc_closed", n=len(closed), ids=listed(sorted(closed))))
        head = t(lang, "sc_named", name=self.name) if self.name else t(lang, "sc_unnamed")
        when = t(lang, "sc_year", year=year) if year is not None else ""
        return head + when + t(lang, "sc_colon") + (t(lang, "sc_join").join(parts) if parts else t(lang, "sc_none"))

    # -- GeoJSON --
    def to_geojson(self, facilities: gpd.GeoDataFrame | None = None) -> dict:
        """A GeoJSON FeatureCollection: one Point per proposal (``action = "add"``) and per closure
        (``action = "close"``, at the facility's location when ``facilities`` is given, else null geometry)."""
        feats = []
        for p in self.added:
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                          "properties": {"action": "add", "id": p.id, "category": p.category, "name": p.name,
                                         "capacity": p.capacity, "year": p.year}})
        where = {}
        if facilities is not None and len(self.closed):
            f = facilities[facilities["facility_id"].astype(str).isin({c.facility_id for c in self.closed})]
            ll = transform_xy(shapely.get_coordinates(f.geometry.values), f.crs, WGS84) if len(f) else np.zeros((0, 2))
            where = {fid: (cat, xy) for fid, cat, xy in zip(f["facility_id"].astype(str), f["category"], ll)}
        for c in self.closed:
            cat, xy = where.get(c.facility_id, (None, None))
            feats.append({"type": "Feature",
                          "geometry": None if xy is None else {"type": "Point", "coordinates": [float(xy[0]), float(xy[1])]},
                          "properties": {"action": "close", "facility_id": c.facility_id, "category": cat,
                                         "year": c.year}})
        return {"type": "FeatureCollection", FORMAT_KEY: FORMAT_VERSION, "name": self.name, "features": feats}

    @classmethod
    def from_geojson(cls, data: Any, source: str = "scenario") -> "Scenario":
        """Parse (and validate) a scenario FeatureCollection; one :class:`InputError` line for bad input."""
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
                data.get("features"), list):
            raise InputError(source, "not a GeoJSON FeatureCollection", "write a scenario with access15 serve "
                             "or Scenario.save")
        name = str(data.get("name") or "")[:200]
        sc = cls(name=name)
        seen: set[str] = set()
        for i, f in enumerate(data["features"]):
            props = (f or {}).get("properties") or {} if isinstance(f, dict) else {}
            if not isinstance(props, dict):
                raise InputError(source, f"feature {i + 1} has no properties", "see docs/workbench.md")
            action = props.get("action", "add")
            if action == "add":
                geom = f.get("geometry") or {}
                coords = geom.get("coordinates") if isinstance(geom, dict) else None
                if geom.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
                    raise InputError(source, f"feature {i + 1}: a proposed facility needs a Point geometry",
                                     "give [lon, lat]")
                lon, lat = check_lonlat(coords[0], coords[1], f"feature {i + 1}")
                pid = str(props.get("id") or f"p{i + 1}")[:64]
                if pid in seen:
                    raise InputError(source, f"feature {i + 1}: duplicate id '{pid}'", "give each proposal its own id")
                seen.add(pid)
                cat = props.get("category")
                if not isinstance(cat, str) or not cat:
                    raise InputError(source, f"feature {i + 1}: no category", "e.g. \"category\": \"clinic\"")
                sc.added.append(Proposed(pid, cat, lon, lat, str(props.get("name") or "")[:200],
                                         check_capacity(props.get("capacity"), f"feature {i + 1}"),
                                         check_year(props.get("year"), f"feature {i + 1}: opening")))
            elif action == "close":
                fid = props.get("facility_id")
                if fid is None or str(fid) == "":
                    raise InputError(source, f"feature {i + 1}: a closure needs a facility_id", "see docs/workbench.md")
                sc.closed.append(Closure(str(fid), check_year(props.get("year"), f"feature {i + 1}: closing")))
            else:
                raise InputError(source, f"feature {i + 1}: unknown action {action!r}", "use \"add\" or \"close\"")
        return sc

    def save(self, path: str | Path, facilities: gpd.GeoDataFrame | None = None) -> Path:
        """Write the GeoJSON atomically (temporary file in the same folder, fsync, ``os.replace``)."""
        path = Path(path)
        write_atomic(path, json.dumps(self.to_geojson(facilities), ensure_ascii=False, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(path, f"cannot read the scenario ({exc.strerror})", "check the path") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON (line {exc.lineno}: {exc.msg})", "give a scenario GeoJSON") from None
        return cls.from_geojson(data, str(path))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- applying a scenario ------------------------------------------------------------------------------

@dataclass
class ScenarioResult:
    """A scenario's figures for one plan year.

    ``coverage``: the coverage table (per category + combined, as :attr:`AnalysisResult.coverage`);
    ``unit_coverage``: per unit, worst first (empty without boundaries); ``targets``: each plan target met
    or not (empty without ``[targets]``); ``times``: minutes per demand point and category;
    ``covered``: booleans per demand point and category + ``combined``; ``sites``: one row per active
    proposal with its ``status``/``message`` (only ``ok`` sites count); ``closed``: the facility ids closed;
    ``notes``: what the figures do not cover.
    """

    year: int | None
    coverage: pd.DataFrame
    unit_coverage: pd.DataFrame
    targets: pd.DataFrame
    times: pd.DataFrame
    covered: pd.DataFrame
    nearest: dict[str, np.ndarray]
    sites: pd.DataFrame
    closed: list[str]
    make_facilities: Any = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        """The modified facility table (network CRS): existing minus closed, plus the counted proposals;
        ``analyze(config, facilities=this)`` gives exactly these figures. Built on first access."""
        if not hasattr(self, "_fac"):
            self._fac = self.make_facilities()
        return self._fac


#: How many scenario answers an engine keeps (each holds per-point arrays: a few MB at 1M edges).
APPLIED_KEPT = 8


class ScenarioEngine:
    """Applies scenarios to one analysis, with caches of the bounded searches (thread-safe).

    Parameters
    ----------
    ctx : the analysis (or its :class:`~access15.siting.SiteContext`, e.g. from
        :func:`~access15.siting.load_site_context`, which reads the disk cache).
    cache_size : bounded searches kept in memory (per proposed location and per closed set).
    """

    def __init__(self, ctx: SiteContext | AnalysisResult, cache_size: int = 256):
        self.ctx = site_context(ctx)
        res = self.ctx.result
        self.result = res
        cfg = res.config
        self.cfg = cfg
        self.speed = cfg.speed_m_per_min
        self.categories = list(cfg.categories)
        dem = res.demand
        self.base_times = pd.DataFrame({c: dem[f"time_{c}"].to_numpy(dtype=np.float64) for c in self.categories})
        self.base_nearest = {c: dem[f"nearest_{c}"].astype(str).to_numpy(dtype=object) for c in self.categories}
        self.weight = dem["weight"].to_numpy()
        self.cat_w = {c: dem[k.population].to_numpy() for c, k in cfg.categories.items()
                      if k.population and k.population in dem.columns}
        self.thresholds: dict[str, np.ndarray] = {}
        if "unit_class" in dem.columns:
            import warnings

            from .units import class_thresholds
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.thresholds = class_thresholds(cfg.categories, dem["unit_class"].to_numpy(dtype=object))
        fac = res.facilities
        self.fac = fac
        self.fac_ids = fac["facility_id"].astype(str).to_numpy(dtype=object)
        self.fac_cat = fac["category"].astype(str).to_numpy(dtype=object)
        self.fac_on = fac["on_network"].to_numpy(dtype=bool)
        # the facilities snapped as the pipeline snapped them (snap_points on the same coordinates)
        self.fsnap = snap_points(res.network, shapely.get_coordinates(fac.geometry.values), cfg.network.max_snap_m)
        self.limit_min = {c: max([cfg.max_minutes, *k.minutes_by_class.values()]) for c, k in cfg.categories.items()}
        self._lock = threading.Lock()
        self._reach: OrderedDict = OrderedDict()
        self._closure: OrderedDict = OrderedDict()
        self._applied: OrderedDict = OrderedDict()  # the last answers (page reloads, plan-year switches)
        self._cache_size = cache_size
        self._fac_units = None
        self._levels: list[str] = []
        if res.boundaries is not None and len(res.boundaries):
            self._levels = list(dict.fromkeys(res.boundaries["level"].tolist())) if "level" in res.boundaries else []

    # -- caches --
    def _cached(self, store: OrderedDict, key, make, size: int | None = None):
        with self._lock:
            if key in store:
                store.move_to_end(key)
                return store[key]
        value = make()
        with self._lock:
            store[key] = value
            while len(store) > (size or self._cache_size):
                store.popitem(last=False)
        return value

    def check_category(self, category: str) -> None:
        if category not in self.cfg.categories:
            import difflib

            m = difflib.get_close_matches(str(category), self.categories, n=1, cutoff=0.5)
            raise InputError("scenario", f"unknown category {str(category)[:60]!r}",
                             f"did you mean '{m[0]}'?" if m else "use one of " + ", ".join(self.categories))

    def check_facility(self, facility_id: str) -> str:
        """The category of existing facility ``facility_id``; InputError when there is none."""
        hit = np.flatnonzero(self.fac_ids == str(facility_id))
        if not len(hit):
            raise InputError("scenario", f"no existing facility with id {str(facility_id)[:60]!r}",
                             "close facilities by their facility_id")
        return str(self.fac_cat[hit[0]])

    def _profile(self, category: str) -> bool:
        return bool(self.cfg.categories[category].profile_by_class) and "unit_class" in self.result.demand.columns

    def _site_reach(self, category: str, p: Proposed) -> tuple[str, str, float, np.ndarray, np.ndarray]:
        """(status, message, snap_m, demand indices, minutes) of a proposal within the routing limit."""
        def make():
            sites = as_sites([(p.lon, p.lat)])
            snap, status, message = validate_sites(self.ctx, sites)
            if status[0] == "outside_area" and abs(p.lat) <= 180 and abs(p.lon) <= 90:
                xy = transform_xy(np.array([[p.lat, p.lon]]), WGS84, self.result.network.crs)
                if shapely.intersects_xy(self.ctx.area, xy[0, 0], xy[0, 1]):
                    message[0] = (f"{message[0]}; ({p.lon:g}, {p.lat:g}) looks like latitude, longitude: "
                                  "give longitude first")
            if status[0] != OK:
                return str(status[0]), str(message[0]), float(snap.dist_m[0]), np.zeros(0, np.int64), np.zeros(0)
            wk = self.ctx.walk[category]  # how this category's residents walk (slope, profile), as the pipeline
            limit_m = wk.limit_m(self.limit_min[category])  # the pipeline's search limit, same float
            r = candidate_reach(self.result.network, snap, self.ctx.demand_snap, limit_m, index=self.ctx.demand_index,
                                rates=wk.rates)
            return OK, "", float(snap.dist_m[0]), r.dem, wk.minutes(r.dist_m)
        return self._cached(self._reach, (category, p.lon, p.lat), make)

    def _closure_times(self, category: str, closed: frozenset) -> tuple[np.ndarray, np.ndarray]:
        """Minutes and nearest facility ids of ``category`` with the ``closed`` facilities removed.

        Starts from the largest cached closure of a subset (else the baseline): closing more facilities only
        moves the points whose nearest facility is among the newly closed ones (any other point keeps its
        nearest, which is still open, and nothing can come closer), so only those are re-routed."""
        def make():
            with self._lock:
                prior = max((k[1] for k in self._closure if k[0] == category and k[1] < closed), key=len,
                            default=frozenset())
                start = self._closure.get((category, prior)) if prior else None
            t, near = ((start[0].copy(), start[1].copy()) if start is not None else
                       (self.base_times[category].to_numpy().copy(), self.base_nearest[category].copy()))
            hit = np.flatnonzero(pd.Series(near).isin(closed - prior if start is not None else closed).to_numpy())
            keep = np.flatnonzero((self.fac_cat == category) & ~np.isin(self.fac_ids, list(closed)))
            if len(hit):
                wk = self.ctx.walk[category]
                limit, dem = wk.limit_m(self.limit_min[category]), self.ctx.demand_snap.take(hit)
                keep = keep[may_reach(self.fsnap.take(keep), dem, limit, wk.rates)]  # the search stays local
                r = nearest_facility(self.result.network, self.fsnap.take(keep), dem, limit_m=limit, rates=wk.rates)
                t[hit] = wk.minutes(r.dist_m)
                ids = self.fac_ids[keep]
                near[hit] = np.where(r.facility >= 0, ids[np.maximum(r.facility, 0)] if len(keep) else "", "")
            return t, near
        return self._cached(self._closure, (category, closed), make)

    def _full_times(self, category: str, closed: set[str], sites: list[Proposed]) -> tuple[np.ndarray, np.ndarray]:
        """The pipeline's routing of one category (for per-class travel profiles, which the bounded search
        does not model): existing facilities minus ``closed`` plus ``sites``, re-routed."""

        res, cfg = self.result, self.cfg
        keep = np.flatnonzero((self.fac_cat == category) & ~np.isin(self.fac_ids, list(closed)))
        fs = self.fsnap.take(keep)
        ids = list(self.fac_ids[keep])
        if sites:
            xy = transform_xy(np.array([[p.lon, p.lat] for p in sites]), WGS84, res.network.crs)
            s = snap_points(res.network, xy, cfg.network.max_snap_m)
            fs = fs.concat(s)
            ids += [p.id for p in sites]
        lim = self.limit_min[category]
        wk = self.ctx.walk[category]
        r = nearest_facility(res.network, fs, self.ctx.demand_snap, limit_m=wk.limit_m(lim), rates=wk.rates)
        times = pd.DataFrame({category: wk.minutes(r.dist_m)})
        class_profile_times(res.network, fs, self.ctx.demand_snap, cfg.categories[category],
                            res.demand["unit_class"].to_numpy(dtype=object), self.speed, lim, times, r)
        ids = np.array(ids, dtype=object)
        near = np.where(r.facility >= 0, ids[np.maximum(r.facility, 0)] if len(ids) else "", "")
        return times[category].to_numpy(), near

    # -- the figures --
    def apply(self, scenario: Scenario, year: int | None = None) -> ScenarioResult:
        """The scenario's figures in plan ``year`` (None: every edit applies). Exactly those of
        ``analyze(config, facilities=scenario_facilities(...))`` (module docstring). The last few answers are
        kept, by the edits that apply in ``year`` (a result is read, never changed, by its callers)."""
        added, closed = scenario.active(year)
        key = (tuple((p.id, p.category, p.lon, p.lat, p.capacity, p.year, p.name) for p in added),
               frozenset(closed), year)
        return self._cached(self._applied, key, lambda: self._apply(added, closed, year), size=APPLIED_KEPT)

    def _apply(self, added: list[Proposed], closed: set[str], year: int | None) -> ScenarioResult:
        cfg = self.cfg
        for p in added:
            self.check_category(p.category)
        closed_cat = {fid: self.check_facility(fid) for fid in closed}
        times = self.base_times.copy()
        nearest = {}
        rows = []
        site_ok: list[Proposed] = []
        for p in added:
            status, message, snap_m, _, _ = self._site_reach(p.category, p)
            rows.append({"id": p.id, "category": p.category, "name": p.name, "lon": p.lon, "lat": p.lat,
                         "capacity": p.capacity, "year": p.year, "status": status, "message": message,
                         "snap_m": snap_m})
            if status == OK:
                site_ok.append(p)
        unchanged = []  # categories without an edit: their times, hence their coverage row, are the baseline's
        for cat in self.categories:
            gone = frozenset(f for f, c in closed_cat.items() if c == cat)
            mine = [p for p in site_ok if p.category == cat]
            if not (gone or mine):
                unchanged.append(cat)
            if self._profile(cat) and (gone or mine):
                t, near = self._full_times(cat, set(gone), mine)
            else:
                if gone:
                    t, near = self._closure_times(cat, gone)
                    t, near = t.copy(), near.copy()
                else:
                    t, near = times[cat].to_numpy().copy(), self.base_nearest[cat].copy()
                for p in mine:
                    _, _, _, idx, minutes = self._site_reach(cat, p)
                    better = minutes < t[idx]
                    near[idx[better]] = p.id
                    t[idx] = np.minimum(t[idx], minutes)
            times[cat] = t
            nearest[cat] = near
        # on-network facilities per category, as the pipeline counts them (counted proposals are on the network)
        keep = self.fac_on & ~np.isin(self.fac_ids, list(closed))
        counts = pd.Series(self.fac_cat[keep]).value_counts().to_dict()
        for p in site_ok:
            counts[p.category] = counts.get(p.category, 0) + 1
        facilities = _Lazy(lambda: self._facilities(closed, site_ok))
        base = self.result.coverage  # the same notes (e.g. duplicates) and walkers as the analysis
        per_cat = base[base["category"] != COMBINED].set_index("category")
        table = coverage_table(times, self.weight, cfg.categories, counts, self.cat_w, self.thresholds,
                               per_cat["note"].to_dict() if "note" in per_cat else None,
                               per_cat["profile"].to_dict() if "profile" in per_cat else None,
                               known={c: {k: per_cat.at[c, k] for k in ROW_FIGURES} for c in unchanged})
        covered, _ = combined_minutes(times, cfg.categories, self.thresholds)
        cov = pd.DataFrame({c: times[c].to_numpy() <= self.thresholds.get(c, k.minutes)
                            for c, k in cfg.categories.items()})
        cov[COMBINED] = covered
        units = self._unit_tables(times, facilities)
        targets, notes = self._targets(table, units, facilities)
        out = ScenarioResult(year, table, units, targets, times, cov, nearest,
                             pd.DataFrame(rows, columns=["id", "category", "name", "lon", "lat", "capacity", "year",
                                                         "status", "message", "snap_m"]),
                             sorted(closed), facilities, notes)
        out.site_rows = rows  # the same rows as plain dicts (cheap to serialise)
        return out

    def _facilities(self, closed: set[str], sites: list[Proposed]) -> gpd.GeoDataFrame:
        """The modified facility table (network CRS): existing minus closed, plus the ``ok`` proposals."""
        fac = self.fac[~np.isin(self.fac_ids, list(closed))]
        if not sites:
            return fac.reset_index(drop=True)
        return pd.concat([fac, self._sites_frame(sites)], ignore_index=True)

    def _sites_frame(self, sites: list[Proposed]) -> gpd.GeoDataFrame:
        net = self.result.network
        xy = transform_xy(np.array([[p.lon, p.lat] for p in sites]), WGS84, net.crs)
        s = snap_points(net, xy, self.cfg.network.max_snap_m)
        return gpd.GeoDataFrame({"category": [p.category for p in sites],
                                 "name": [p.name or f"proposed {p.id}" for p in sites],
                                 "facility_id": [p.id for p in sites],
                                 "capacity": [np.nan if p.capacity is None else p.capacity for p in sites],
                                 "source": "scenario", "snap_m": s.dist_m, "on_network": s.ok},
                                geometry=shapely.points(xy), crs=net.crs)

    def _unit_tables(self, times: pd.DataFrame, facilities: "_Lazy") -> pd.DataFrame:
        res = self.result
        if not self._levels:
            return pd.DataFrame()
        facilities = facilities()

        dem = res.demand
        assign = UnitAssignment(pd.DataFrame({lvl: dem[level_column(lvl)].to_numpy(dtype=object)
                                              for lvl in self._levels}),
                                dem["unit_class"].to_numpy(dtype=object), res.unit_check)
        onf = facilities["on_network"].to_numpy(dtype=bool)
        fac_units = assign_units(facilities, res.boundaries, np.ones(len(facilities)), warn=False).unit
        return unit_tables(times, self.weight, assign, self.cfg.categories, self.cat_w, self.thresholds,
                           fac_units[onf], facilities.loc[onf, "category"])

    def _targets(self, coverage: pd.DataFrame, units: pd.DataFrame,
                 facilities: "_Lazy") -> tuple[pd.DataFrame, list[str]]:
        res, cfg = self.result, self.cfg
        notes: list[str] = []
        if not cfg.targets:
            return pd.DataFrame(), notes

        fac_by_level: dict[str, pd.DataFrame] = {}
        if res.boundaries is not None and self._levels:
            facilities = facilities()
            fu = assign_units(facilities, res.boundaries, np.ones(len(facilities)), warn=False).unit
            for lvl in fu.columns:
                df = pd.DataFrame({"unit": fu[lvl].to_numpy(), "category": facilities["category"].to_numpy()}).dropna()
                df.attrs["units"] = list(dict.fromkeys(res.boundaries.loc[res.boundaries["level"] == lvl, "unit"]))
                fac_by_level[lvl] = df
        ucols = {lvl: level_column(lvl) for lvl in self._levels}
        estimated = bool(res.targets["population_estimated"].any()) if "population_estimated" in res.targets else False
        out = evaluate_targets(cfg.targets, cfg.categories, res.supply, coverage, units, fac_by_level, res.demand,
                               ucols, estimated=estimated, weighted=cfg.population is not None)
        if any(t.measure in SCALE for t in cfg.targets.values()):
            notes.append("per-capita targets (places per 1,000) show the baseline supply; re-run "
                         "'access15 run --scenario' for the scenario's supply ratios")
        return out, notes

    # -- a full result object (CLI outputs, exports) --
    def scenario_result(self, scenario: Scenario, year: int | None = None) -> tuple[AnalysisResult, ScenarioResult]:
        """An :class:`AnalysisResult` holding the scenario's demand columns, tables and facilities (for
        :func:`access15.outputs.write_outputs` and siting checks against the scenario)."""
        sr = self.apply(scenario, year)
        res = self.result
        # the map's other walkers ([output] map_profiles, "time_<cat>@<profile>") are the base run's: not kept
        dem = res.demand.drop(columns=[c for c in res.demand.columns if "@" in str(c)])
        for c in self.categories:
            dem[f"time_{c}"] = sr.times[c].to_numpy()
            dem[f"nearest_{c}"] = np.asarray(sr.nearest[c], dtype=object)
            dem[f"covered_{c}"] = sr.covered[c].to_numpy()
        covered, slowest = combined_minutes(sr.times, self.cfg.categories, self.thresholds)
        dem["time_combined"], dem["covered_combined"] = slowest, covered
        out = replace(res, demand=dem, facilities=sr.facilities, coverage=sr.coverage,
                      unit_coverage=sr.unit_coverage if len(sr.unit_coverage) else res.unit_coverage.iloc[0:0],
                      targets=sr.targets if len(sr.targets) else res.targets,
                      warnings=list(res.warnings) + sr.notes + [scenario.describe(year, self.cfg.output.lang)],
                      provenance={**(res.provenance or {}), "scenario": scenario.describe(year)})
        out.__dict__.pop("_site_context", None)
        return out, sr


class _Lazy:
    """A value computed on first call, then kept."""

    def __init__(self, make):
        self._make = make

    def __call__(self):
        if not hasattr(self, "_value"):
            self._value = self._make()
        return self._value


def scenario_facilities(engine: ScenarioEngine, scenario: Scenario, year: int | None = None) -> gpd.GeoDataFrame:
    """The facility set a scenario stands for in ``year``: existing minus closed, plus the proposals that
    can be counted (inside the area, on land, on the network). ``analyze(config, facilities=this)`` gives
    exactly the engine's figures."""
    return engine.apply(scenario, year).facilities


#: Characters allowed in generated scenario file names.
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_stem(text: str, fallback: str = "scenario") -> str:
    """A file-name stem made only of ``[A-Za-z0-9_-]`` (never a path)."""
    s = _SAFE.sub("-", str(text)).strip("-")[:40]
    return s or fallback


def scenario_context(ctx: SiteContext, scenario: Scenario | str | Path, year: int | None = None) -> SiteContext:
    """The siting context of ``ctx``'s analysis with ``scenario`` applied in ``year`` (for site checks against
    the scenario's facilities): its result holds exactly the figures a re-run would give."""
    sc = scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)
    res, _ = ScenarioEngine(ctx).scenario_result(sc, year)
    return SiteContext(res, ctx.demand_snap, ctx.water, ctx.area)
