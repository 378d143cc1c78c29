"""``access15 serve``: the planner workbench, a local web app over the cached analysis.

One :class:`Workbench` holds the analysis, the :class:`~access15.scenario.ScenarioEngine` and the scenario
being edited; :func:`create_app` wraps it in a Starlette app with a small JSON API and one page (vanilla
JavaScript, the vendored Leaflet inlined: nothing is fetched from the internet).

Security and reliability: the server binds to 127.0.0.1 unless told otherwise; every request body is
limited to :data:`MAX_BODY` bytes and validated (coordinates, categories, capacities, years, ids), each
problem answered by a 4xx with a one-line ``{"error": ...}``; the browser never names a file path (scenarios
are saved in ``<output dir>/scenarios/`` under generated names, and loaded only by a name from that
folder's listing); edits are applied under a lock, and every file is written atomically.

API (JSON; ``year``, ``layer``, ``bands`` and ``units`` query parameters select the plan year, the gap
layer, the travel-time band layer and the boundary level of the unit choropleth of the answer):

=========================  ===================================================================
``GET  /``                 the page
``GET  /api/init``         categories, facilities, demand cells, boundaries, legends, the page's words
``GET  /api/figures``      the current scenario's figures (``bands=<category>``: travel-time band per cell)
``POST /api/sites``        add a proposed facility ``{category, lon, lat, name?, capacity?, year?}``
``PATCH /api/sites/{id}``  move / edit it (any of ``lon, lat, name, capacity, year``)
``DELETE /api/sites/{id}`` delete it
``POST /api/closures``     close an existing facility ``{facility_id, year?}``
``DELETE /api/closures/{facility_id}``  reopen it
``POST /api/suggest``      ``{category, k}``: k sites for the category (MCLP), not yet added
``POST /api/scenario/new``  start an empty scenario ``{name?}``
``POST /api/scenario/save`` save it (atomic, generated file name) ``{name?}``
``GET  /api/scenarios``     saved scenarios
``POST /api/scenario/load`` ``{file}``: one of the names listed
``GET  /api/compare``       ``with=<a listed name>`` or ``with=baseline``: gained / lost against it
``POST /api/export``        map.html + tables of the current scenario, scenario in the map footer
=========================  ===================================================================
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import threading
import time
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from .compare import compare_scenarios
from .coords import WGS84, transform_xy
from .coverage import COMBINED
from .errors import Access15Error, InputError
from .maps.html import band_classes, band_edges, band_legend, share_colour, share_legend, wgs84_layer
from .maps.mapdata import MINUTES_DECIMALS
from .maps.offline import vendored_head
from .outputs import write_outputs
from .scenario import Closure, Proposed, Scenario, ScenarioEngine, check_capacity, check_lonlat, check_year, safe_stem
from .siting import SiteContext, suggest_sites
from .text import TEXT, t, word

#: Largest request body accepted (bytes).
MAX_BODY = 64 * 1024
#: Most sites a suggestion may ask for, and most proposals in one scenario.
MAX_K, MAX_SITES = 25, 500
#: Unit rows sent to the page (worst first).
MAX_UNITS = 60


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and a one-line message."""
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _num(v: Any) -> Any:
    """JSON-safe scalar: NaN -> None, inf -> "inf", numpy scalars -> Python."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if v is pd.NA or v is None:
        return None
    return v


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict]:
    cols = [c for c in cols if c in df.columns]
    return [{c: _num(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False, name=None)]


class Workbench:
    """The analysis, the scenario engine and the scenario being edited (thread-safe).

    Parameters
    ----------
    ctx : the analysis with its siting context (:func:`~access15.siting.load_site_context`).
    out_dir : where scenarios and exports are written (default: the config's ``[output] dir``).
    """
    def __init__(self, ctx: SiteContext, out_dir: str | Path | None = None):
        self.ctx = ctx
        self.engine = ScenarioEngine(ctx)
        res = ctx.result
        self.result = res
        self.cfg = res.config
        self.lang = self.cfg.output.lang if self.cfg.output.lang in ("en", "zh") else "en"
        self.out_dir = Path(out_dir) if out_dir else self.cfg.resolve(self.cfg.output.dir)
        self.scenario_dir = self.out_dir / "scenarios"
        self.scenario = Scenario(name="scenario")
        self.lock = threading.Lock()
        self.version = 0  # bumped by every edit
        dem = res.demand
        self.dem_ll = transform_xy(shapely.get_coordinates(dem.geometry.values), res.network.crs, WGS84)
        self.weight = np.nan_to_num(dem["weight"].to_numpy(dtype=np.float64))
        self.base_covered = {c: dem[f"covered_{c}"].to_numpy(dtype=bool) for c in [*self.cfg.categories, COMBINED]}
        fac = res.facilities
        self.fac_ll = transform_xy(shapely.get_coordinates(fac.geometry.values), fac.crs, WGS84)
        self.base_coverage = res.coverage.set_index("category")
        self.band_edges = band_edges(self.cfg.max_minutes)
        self.levels = list(self.engine._levels)  # boundary levels, file order (empty without [boundaries])

    # -- validation --
    def _category(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ApiError(422, "category must be a string, e.g. \"clinic\"")
        try:
            self.engine.check_category(value)
        except InputError as exc:
            raise ApiError(422, str(exc)) from None
        return value

    def _layer(self, value: str | None) -> str:
        if value in (None, "", COMBINED):
            return COMBINED
        return self._category(value)

    @staticmethod
    def year_of(value: Any) -> int | None:
        try:
            return check_year(value, "plan")
        except InputError as exc:
            raise ApiError(422, str(exc)) from None

    def _proposal_fields(self, body: dict, partial: bool) -> dict:
        allowed = {"category", "lon", "lat", "name", "capacity", "year"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ApiError(422, f"unknown field '{str(unknown[0])[:40]}' (allowed: {', '.join(sorted(allowed))})")
        out: dict[str, Any] = {}
        try:
            if not partial or "category" in body:
                out["category"] = self._category(body.get("category"))
            if not partial or "lon" in body or "lat" in body:
                if partial and not ("lon" in body and "lat" in body):
                    raise ApiError(422, "give both lon and lat to move a site")
                if "lon" not in body or "lat" not in body:
                    raise ApiError(422, "lon and lat (WGS84 degrees) are required")
                out["lon"], out["lat"] = check_lonlat(body["lon"], body["lat"])
            if "name" in body:
                if body["name"] is not None and not isinstance(body["name"], str):
                    raise ApiError(422, "name must be text")
                out["name"] = (body["name"] or "").strip()[:120]
            if "capacity" in body:
                out["capacity"] = check_capacity(body["capacity"])
            if "year" in body:
                out["year"] = check_year(body["year"], "opening")
        except InputError as exc:
            raise ApiError(422, str(exc)) from None
        return out

    # -- edits (each under the lock; figures computed on a snapshot) --
    def add_site(self, body: dict) -> str:
        f = self._proposal_fields(body, partial=False)
        with self.lock:
            if len(self.scenario.added) >= MAX_SITES:
                raise ApiError(422, f"a scenario holds at most {MAX_SITES} proposed sites")
            pid = self.scenario.new_id()
            self.scenario.added.append(Proposed(pid, f["category"], f["lon"], f["lat"], f.get("name", ""),
                                                f.get("capacity"), f.get("year")))
            self.version += 1
        return pid

    def edit_site(self, pid: str, body: dict) -> None:
        f = self._proposal_fields(body, partial=True)
        with self.lock:
            try:
                p = self.scenario.proposed(pid)
            except KeyError:
                raise ApiError(404, f"no proposed site '{pid[:40]}'") from None
            for k, v in f.items():
                setattr(p, k, v)
            self.version += 1

    def delete_site(self, pid: str) -> None:
        with self.lock:
            n = len(self.scenario.added)
            self.scenario.added = [p for p in self.scenario.added if p.id != pid]
            if len(self.scenario.added) == n:
                raise ApiError(404, f"no proposed site '{pid[:40]}'")
            self.version += 1

    def close(self, body: dict) -> None:
        unknown = sorted(set(body) - {"facility_id", "year"})
        if unknown:
            raise ApiError(422, f"unknown field '{str(unknown[0])[:40]}' (allowed: facility_id, year)")
        fid = body.get("facility_id")
        if not isinstance(fid, (str, int)) or isinstance(fid, bool) or str(fid) == "":
            raise ApiError(422, "facility_id is required")
        fid = str(fid)
        try:
            self.engine.check_facility(fid)
            year = check_year(body.get("year"), "closing")
        except InputError as exc:
            raise ApiError(422 if "year" in str(exc) else 404, str(exc)) from None
        with self.lock:
            self.scenario.closed = [c for c in self.scenario.closed if c.facility_id != fid] + [Closure(fid, year)]
            self.version += 1

    def reopen(self, fid: str) -> None:
        with self.lock:
            n = len(self.scenario.closed)
            self.scenario.closed = [c for c in self.scenario.closed if c.facility_id != fid]
            if len(self.scenario.closed) == n:
                raise ApiError(404, f"facility '{fid[:40]}' is not closed in this scenario")
            self.version += 1

    def new(self, body: dict) -> None:
        name = body.get("name") if isinstance(body.get("name"), str) else "scenario"
        with self.lock:
            self.scenario = Scenario(name=name.strip()[:80] or "scenario")
            self.version += 1

    def snapshot(self) -> tuple[Scenario, int]:
        with self.lock:
            return copy.deepcopy(self.scenario), self.version

    # -- figures --
    def _level(self, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in self.levels:
            raise ApiError(422, f"unknown boundary level {str(value)[:40]!r}" + (
                f" (use one of: {', '.join(map(str, self.levels))})" if self.levels else " (no [boundaries] in the config)"))
        return value

    def figures(self, year: int | None, layer: str, bands: str | None = None, unit_level: str | None = None) -> dict:
        """The current scenario's figures in plan ``year``: coverage, units, targets, sites, the gap cells of
        ``layer``; with ``bands`` (a category), each cell's travel-time band as one character per cell
        (``"0"``: no value, ``"1"``: the first band of :func:`~access15.maps.html.band_classes`, ...); with
        ``unit_level`` (a boundary level), each unit's share covered in ``layer``'s circle and its choropleth colour
        (those of ``map.html``)."""
        sc, version = self.snapshot()
        t0 = time.perf_counter()
        sr = self.engine.apply(sc, year)
        ms = 1000 * (time.perf_counter() - t0)
        cov = sr.coverage.set_index("category")
        rows = []
        for cat in [*self.cfg.categories, COMBINED]:
            r, b = cov.loc[cat], self.base_coverage.loc[cat]
            k = self.cfg.categories.get(cat)
            rows.append({"category": cat, "label": k.label(self.lang) if k else t(self.lang, "combined"),
                         "minutes": _num(k.minutes) if k else None, "required": bool(k.required) if k else True,
                         "facilities": int(r["facilities"]), "base_facilities": int(b["facilities"]),
                         "demand": _num(r["demand"]), "covered": _num(r["covered"]), "share": _num(r["share_covered"]),
                         "base_covered": _num(b["covered"]), "base_share": _num(b["share_covered"]),
                         "delta": _num(r["covered"] - b["covered"]), "median_min": _num(r["median_min"]),
                         "p90_min": _num(r["p90_min"])})
        units = []
        uc = sr.unit_coverage
        if len(uc):
            comb = uc[uc["category"] == COMBINED]
            # unstack keeps a unit without demand (every share NaN), which pivot_table would drop
            shares = uc.set_index(["level", "unit", "category"])["share_covered"].unstack("category") \
                if "level" in uc else None
            for r in comb.head(MAX_UNITS).itertuples():
                row = {"level": _num(getattr(r, "level", "")), "unit": r.unit, "demand": _num(r.demand),
                       "covered": _num(r.covered), "share": _num(r.share_covered)}
                if shares is not None:
                    row["shares"] = {c: _num(v) for c, v in shares.loc[(r.level, r.unit)].items()}
                units.append(row)
        gaps = np.flatnonzero(~sr.covered[layer].to_numpy() & (self.weight > 0))
        return {"version": version, "year": year, "years": sc.years(), "layer": layer, "server_ms": round(ms, 1),
                "scenario": self.scenario_json(sc), "coverage": rows, "units": units,
                "units_total": int((uc["category"] == COMBINED).sum()) if len(uc) else 0,
                "targets": _records(sr.targets, ["target", "category", "measure", "level", "unit", "target_value",
                                                 "figure", "met", "status"]),
                "has_targets": bool(self.cfg.targets), "has_units": self.result.boundaries is not None,
                "sites": [{k: _num(r[k]) for k in ("id", "category", "name", "lon", "lat", "capacity", "year",
                                                    "status", "message")} for r in sr.site_rows],
                "closed": sr.closed, "notes": sr.notes, "description": sc.describe(year, self.lang),
                "gaps": gaps.tolist(), "bands": bands,
                "band_codes": self.band_codes(sr.times[bands].to_numpy()) if bands else None,
                "units_level": unit_level,
                "unit_fill": self.unit_fill(uc, unit_level, layer) if unit_level else None}

    @staticmethod
    def unit_fill(unit_coverage: pd.DataFrame, level: str, category: str) -> dict:
        """``{unit: {"share": 0-1 or None, "colour": choropleth colour}}`` of every unit of ``level``."""
        if not len(unit_coverage):
            return {}
        rows = unit_coverage[(unit_coverage["level"] == level) & (unit_coverage["category"] == category)]
        return {str(u): {"share": _num(v), "colour": share_colour(v)}
                for u, v in zip(rows["unit"], rows["share_covered"])}

    def band_codes(self, minutes: np.ndarray) -> str:
        """Travel-time band per demand cell as text, one character each: ``"0"`` no value (off the network),
        ``"1"`` + class of :func:`~access15.maps.html.band_classes` (the bands of ``map.html``)."""
        cls = band_classes(np.round(minutes, MINUTES_DECIMALS), self.band_edges)  # map.html's rounding
        return (cls + ord("1")).astype(np.uint8).tobytes().decode("ascii")

    def scenario_json(self, sc: Scenario) -> dict:
        return {"name": sc.name,
                "added": [{"id": p.id, "category": p.category, "lon": p.lon, "lat": p.lat, "name": p.name,
                           "capacity": p.capacity, "year": p.year} for p in sc.added],
                "closed": [{"facility_id": c.facility_id, "year": c.year} for c in sc.closed]}

    def init(self) -> dict:
        res, cfg = self.result, self.cfg
        fac = res.facilities
        cats = [{"key": c, "label": k.label(self.lang), "minutes": k.minutes, "required": bool(k.required)}
                for c, k in cfg.categories.items()]
        cell = None
        if res.grid is not None:
            lat0 = float(np.nanmean(self.dem_ll[:, 1])) if len(self.dem_ll) else 0.0
            half = res.grid.cell / 2
            cell = [half / (111_320.0 * max(math.cos(math.radians(lat0)), 1e-6)), half / 110_574.0]
        ll = np.round(self.dem_ll, 6)
        return {"name": cfg.name, "lang": self.lang, "categories": cats, "demand_label": res.demand_label,
                "bounds": [[float(ll[:, 1].min()), float(ll[:, 0].min())], [float(ll[:, 1].max()), float(ll[:, 0].max())]],
                "cells": {"lon": ll[:, 0].tolist(), "lat": ll[:, 1].tolist(),
                          "weight": np.round(self.weight, 2).tolist(), "half": cell},
                "facilities": [{"id": str(i), "category": c, "name": str(n), "lon": round(float(x), 6),
                                "lat": round(float(y), 6), "on_network": bool(o)}
                               for i, c, n, (x, y), o in zip(fac["facility_id"], fac["category"], fac["name"],
                                                              self.fac_ll, fac["on_network"])],
                "max_k": MAX_K,
                "bands": {"layers": {c: t(self.lang, "travel_time", label=k.label(self.lang))
                                     for c, k in cfg.categories.items()},
                          "classes": [{"colour": c, "label": lb} for c, lb in band_legend(cfg.max_minutes, self.lang)]},
                "units": self.units_init(),
                "text": self.page_text()}

    def units_init(self) -> dict | None:
        """The boundaries (WGS84 GeoJSON per level, simplified to ~2 m) and the choropleth legend of
        ``map.html``; None without boundaries."""
        bnd = self.result.boundaries
        if bnd is None or not len(bnd) or not self.levels:
            return None
        lang = self.lang
        labels = {c: k.label(lang) for c, k in self.cfg.categories.items()}
        labels[COMBINED] = t(lang, "combined")
        return {"levels": self.levels, "title": t(lang, "choropleth_title"),
                "layers": {c: t(lang, "choropleth", label=lb) for c, lb in labels.items()},
                "classes": [{"colour": c, "label": lb} for c, lb in share_legend()],
                "geo": {str(lvl): json.loads(wgs84_layer(bnd.loc[bnd["level"] == lvl, ["unit", "geometry"]]).to_json(
                    drop_id=True)) for lvl in self.levels}}

    def page_text(self) -> dict:
        """Every word of the page in the config's language (text.TEXT: the "page" group, the comparison panel
        and the band layer); the page holds no display string of its own."""
        lang = self.lang
        return {**TEXT["en"]["page"], **TEXT.get(lang, TEXT["en"])["page"],
                **{k: t(lang, k) for k in ("cmp_compare_with", "cmp_none", "cmp_baseline", "bands_title",
                                            "combined", "choropleth_title")},
                **{k: word(lang, "columns", k) for k in ("category", "gained", "lost", "net", "points", "unit")}}

    # -- suggestions against the current scenario --
    def suggest(self, body: dict, year: int | None) -> list[dict]:
        unknown = sorted(set(body) - {"category", "k"})
        if unknown:
            raise ApiError(422, f"unknown field '{str(unknown[0])[:40]}' (allowed: category, k)")
        cat = self._category(body.get("category"))
        k = body.get("k", 5)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ApiError(422, f"k must be a whole number from 1 to {MAX_K}")

        sc, _ = self.snapshot()
        res2, _ = self.engine.scenario_result(sc, year)
        ctx2 = SiteContext(res2, self.ctx.demand_snap, self.ctx.water, self.ctx.area)
        sugg = suggest_sites(ctx2, cat, k=k, method="greedy")
        return _records(sugg.sites, ["rank", "site", "lon", "lat", "newly_covered", "share_after"])

    # -- files: generated names only --
    def save(self, body: dict) -> dict:
        name = body.get("name")
        with self.lock:
            if isinstance(name, str) and name.strip():
                self.scenario.name = name.strip()[:80]
            sc = copy.deepcopy(self.scenario)
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            path = self.scenario_dir / f"{stamp}-{safe_stem(sc.name)}.geojson"
            sc.save(path, self.result.facilities)
        return {"file": path.name, "folder": str(self.scenario_dir)}

    def saved(self) -> list[dict]:
        if not self.scenario_dir.is_dir():
            return []
        out = []
        for p in sorted(self.scenario_dir.glob("*.geojson"), reverse=True):
            try:
                name = json.loads(p.read_text(encoding="utf-8")).get("name", "")
            except (OSError, ValueError):
                continue
            out.append({"file": p.name, "name": name, "modified": p.stat().st_mtime})
        return out

    def _saved_scenario(self, want: Any) -> Scenario:
        """The saved scenario named ``want``, which must be one of :meth:`saved`'s names (never a path),
        checked against the analysis."""
        files = {s["file"] for s in self.saved()}
        if not isinstance(want, str) or want not in files:
            raise ApiError(404, "no saved scenario of that name (choose one from /api/scenarios)")
        try:
            sc = Scenario.load(self.scenario_dir / want)
            for p in sc.added:
                self.engine.check_category(p.category)
            for c in sc.closed:
                self.engine.check_facility(c.facility_id)
        except InputError as exc:
            raise ApiError(422, str(exc)) from None
        return sc

    def load(self, body: dict) -> None:
        sc = self._saved_scenario(body.get("file"))
        with self.lock:
            self.scenario = sc
            self.version += 1

    def compare(self, other: Any, year: int | None) -> dict:
        """The current scenario against a saved one (``other``: a name from :meth:`saved`) or ``"baseline"``:
        residents gained and lost per category, and per unit for the combined circle (largest losses first)."""
        if other in (None, ""):
            raise ApiError(422, "give with=<a saved scenario from /api/scenarios> or with=baseline")
        ref = None if other == "baseline" else self._saved_scenario(other)
        sc, _ = self.snapshot()
        comp = compare_scenarios(self.engine, sc, ref, year)
        cats = comp.categories
        labels = {c: k.label(self.lang) for c, k in self.cfg.categories.items()}
        labels[COMBINED] = t(self.lang, "combined")
        cols = ["category", "demand", "covered_a", "covered_b", "gained", "lost", "net", "share_a", "share_b",
                "points"]
        rows = [{**r, "label": labels[r["category"]]} for r in _records(cats, cols)]
        uc = comp.units[comp.units["category"] == COMBINED] if len(comp.units) else comp.units
        return {"with": other, "year": year, "a": comp.a or t(self.lang, "cmp_baseline"),
                "b": comp.b or t(self.lang, "cmp_baseline"),
                "explain": t(self.lang, "cmp_explain", b=t(self.lang, "cmp_baseline") if ref is None else
                             (ref.name or other)),
                "categories": rows, "units": _records(uc.head(MAX_UNITS), ["level", "unit", *cols[1:]]) if len(uc) else [],
                "units_total": int(len(uc))}

    def export(self, year: int | None) -> dict:
        """The scenario in plan ``year`` as files for a briefing: tables, GeoPackage, the self-contained
        ``map.html``, the print maps (PNG per category and the combined circle, ``gap_maps.pdf``) and the scenario
        itself, in a new folder under the output folder."""
        sc, _ = self.snapshot()
        res2, sr = self.engine.scenario_result(sc, year)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        target = self.scenario_dir / "exports" / f"{stamp}-{safe_stem(sc.name)}{'-' + str(year) if year else ''}"
        written = write_outputs(res2, target, html=True)
        from .maps.static import write_static_maps  # matplotlib: heavy, and only for an export

        written.update(write_static_maps(res2, target))  # the print maps, the scenario named on each page
        sc.save(target / "scenario.geojson", self.result.facilities)
        return {"folder": str(target), "files": sorted(Path(p).name for p in written.values()) + ["scenario.geojson"],
                "description": sc.describe(year, self.lang)}


# --- the web app -------------------------------------------------------------------------------------

def page_html(title: str) -> str:
    """The workbench page: HTML, CSS and JavaScript from ``access15/web`` with Leaflet inlined."""


    web = resources.files("access15") / "web"
    html = (web / "index.html").read_text(encoding="utf-8")
    css = (web / "workbench.css").read_text(encoding="utf-8")
    js = (web / "workbench.js").read_text(encoding="utf-8")
    if "</script" in js.lower() or "</style" in css.lower():  # pragma: no cover
        raise RuntimeError("a workbench asset contains a closing tag and cannot be inlined")
    return (html.replace("<!--LEAFLET-->", vendored_head()).replace("/*CSS*/", css).replace("/*JS*/", js)
            .replace("{{TITLE}}", escape(title)))


def create_app(bench: Workbench):
    """The Starlette app of a :class:`Workbench`."""
    page = page_html(bench.cfg.name)

    def err(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body_json(request: Request) -> dict:
        size = request.headers.get("content-length")
        if size is not None:
            try:
                if int(size) > MAX_BODY:
                    raise ApiError(413, f"request body too large ({int(size):,} bytes; at most {MAX_BODY:,})")
            except ValueError:
                raise ApiError(400, "invalid Content-Length") from None
        chunks, n = [], 0
        async for chunk in request.stream():
            n += len(chunk)
            if n > MAX_BODY:
                raise ApiError(413, f"request body too large (more than {MAX_BODY:,} bytes)")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"malformed JSON ({getattr(exc, 'msg', 'not UTF-8')})") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object")
        return data

    def view(request: Request) -> tuple[int | None, str, str | None, str | None]:
        q = request.query_params
        bands = q.get("bands") or None
        return (bench.year_of(q.get("year")), bench._layer(q.get("layer")), bench._category(bands) if bands else None,
                bench._level(q.get("units")))

    def endpoint(fn, figures: bool = True, needs_body: bool = False):
        async def handler(request: Request):
            try:
                year, layer, bands, units = view(request)
                body = await body_json(request) if needs_body else {}
                out = await run_in_threadpool(fn, request, body, year)
                if figures:
                    fig = await run_in_threadpool(bench.figures, year, layer, bands, units)
                    out = {**(out or {}), "figures": fig}
                return JSONResponse(out or {})
            except ApiError as exc:
                return err(exc.status, exc.message)
            except Access15Error as exc:
                return err(422, str(exc))
        return handler

    async def index(request: Request):
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    routes = [
        Route("/", index),
        Route("/api/init", endpoint(lambda r, b, y: bench.init(), figures=False)),
        Route("/api/figures", endpoint(lambda r, b, y: {})),
        Route("/api/sites", endpoint(lambda r, b, y: {"id": bench.add_site(b)}, needs_body=True), methods=["POST"]),
        Route("/api/sites/{pid}", endpoint(lambda r, b, y: bench.edit_site(r.path_params["pid"], b), needs_body=True),
              methods=["PATCH"]),
        Route("/api/sites/{pid}", endpoint(lambda r, b, y: bench.delete_site(r.path_params["pid"])),
              methods=["DELETE"]),
        Route("/api/closures", endpoint(lambda r, b, y: bench.close(b), needs_body=True), methods=["POST"]),
        Route("/api/closures/{fid}", endpoint(lambda r, b, y: bench.reopen(r.path_params["fid"])), methods=["DELETE"]),
        Route("/api/suggest", endpoint(lambda r, b, y: {"suggested": bench.suggest(b, y)}, figures=False,
                                       needs_body=True), methods=["POST"]),
        Route("/api/scenario/new", endpoint(lambda r, b, y: bench.new(b), needs_body=True), methods=["POST"]),
        Route("/api/scenario/save", endpoint(lambda r, b, y: bench.save(b), figures=False, needs_body=True),
              methods=["POST"]),
        Route("/api/scenarios", endpoint(lambda r, b, y: {"scenarios": bench.saved()}, figures=False)),
        Route("/api/scenario/load", endpoint(lambda r, b, y: bench.load(b), needs_body=True), methods=["POST"]),
        Route("/api/compare", endpoint(lambda r, b, y: {"comparison": bench.compare(r.query_params.get("with"), y)},
                                       figures=False)),
        Route("/api/export", endpoint(lambda r, b, y: bench.export(y), figures=False, needs_body=True),
              methods=["POST"]),
    ]

    async def not_found(request: Request, exc):
        return err(getattr(exc, "status_code", 404), getattr(exc, "detail", None) or "not found")

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
