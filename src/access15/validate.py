"""``access15 validate``: check every input of a config before any computation.

:func:`validate` reads the config and each file it names and returns every problem it finds, not just the
first: each a :class:`Problem` with the file, the row (1-based data row), the field, what is wrong, what
to do, and a severity: ``error`` (the analysis would fail or be wrong), ``warning`` (it runs, but look),
``info`` (how a file was read). Checks:

* config: TOML syntax, every misspelt key (with the closest valid key), values the loader refuses;
* files: presence, text encoding (UTF-8, UTF-8 with BOM, GBK) and delimiter, coordinate headers;
* facility rows: unparseable or empty coordinates, out-of-range or swapped longitude/latitude,
  unparseable numbers (capacity ``40张`` -> 40), empty categories, categories not in the config,
  duplicates (same category within 1 m), empty geometries, points outside the study area;
* the set of facilities: swapped lon/lat and GCJ-02/BD-09 shifts against the network
  (:mod:`access15.checks`);
* boundaries: CRS, name column, empty, non-polygon and invalid polygons;
* network: readable, the OSM extract's timestamp, and the share of demand on disconnected pieces;
* elevation (``[network] elevation``): the DEM is sampled along the network as the run does (errors: not a
  raster, no CRS, covering none of the network; warnings: the share walked flat, impossible values), and a note
  gives its CRS, cells, the elevation range and nodata share under the network.

Cost: one network load and one snap of the demand points; every row check is vectorised.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .checks import duplicate_facilities
from .config import TOP_KEYS, Config, config_from_dict
from .coords import WGS84, find_lonlat_columns, looks_swapped, parse_crs, transform_xy, utm_crs_for
from .elevation import describe_dem
from .errors import AccessNote, AccessWarning, InputError
from .fetch import fetch_paths, is_online
from .fetch import prepare as fetch_prepare
from .io.facilities import read_facility_file
from .io.osm import is_osm_file, load_tag_rules, osm_header_info, read_osm_facilities
from .io.poi import load_poi_source, merge_duplicates
from .io.tables import (
    BOUNDARY_FIX,
    CATEGORY_HEADERS,
    GIS_FIX,
    is_table,
    number_fix,
    parse_numbers,
    read_layer,
    read_table,
    resolve_column,
)
from .network import check_network_path
from .pipeline import Prepared, prepare
from .schema import closest_key, dataclass_in
from .walking import edge_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SEVERITIES = ("error", "warning", "note")
MAX_ROWS_PER_CHECK = 20


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate`."""

    file: str
    row: int | None
    field: str | None
    problem: str
    suggestion: str
    severity: str = "error"

    @classmethod
    def from_error(cls, exc: InputError, severity: str = "error") -> "Problem":
        """The problem an :class:`InputError` describes."""
        return cls(exc.source or "", exc.row, exc.field, exc.problem, exc.fix, severity)


class _Report:
    """Collects problems; caps each row-level check at :data:`MAX_ROWS_PER_CHECK` rows plus a summary."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str | Path, problem: str, suggestion: str = "", severity: str = "error",
            row: int | None = None, field: str | None = None) -> None:
        """One problem."""
        self.items.append(Problem(str(file), None if row is None else int(row), field, problem, suggestion, severity))

    def rows(self, file: str | Path, mask: np.ndarray, field: str | None, problem: str | Callable[[int], str],
             suggestion: str | Callable[[int], str], severity: str = "error") -> None:
        """One problem per flagged row; ``problem``/``suggestion`` are strings or callables of the row index."""
        idx = np.flatnonzero(mask)
        for i in idx[:MAX_ROWS_PER_CHECK]:
            self.add(file, problem(i) if callable(problem) else problem,
                     suggestion(i) if callable(suggestion) else suggestion, severity, row=i + 1, field=field)
        if len(idx) > MAX_ROWS_PER_CHECK:
            self.add(file, f"... and {len(idx) - MAX_ROWS_PER_CHECK} more rows like these", "", severity, field=field)

    def guard(self, fn: Callable[..., Any], *args: Any, severity: str = "error", **kw: Any) -> Any:
        """Run ``fn``; an :class:`InputError` becomes a problem and the result is None."""
        try:
            return fn(*args, **kw)
        except InputError as exc:
            self.items.append(Problem.from_error(exc, severity))
            return None


# --------------------------------------------------------------------------------------------- config


def unknown_config_keys(data: dict, source: str) -> list[Problem]:
    """Every key of a parsed config that no config dataclass knows, with the closest valid key."""
    out: list[Problem] = []
    for key in data:
        if key not in TOP_KEYS:
            out.append(Problem(source, None, key, f"unknown top-level key '{key}'", closest_key(key, TOP_KEYS)))
    hints = typing.get_type_hints(Config)
    for key, value in data.items():
        cls = dataclass_in(hints.get(key))
        if cls is None:
            continue
        origin = typing.get_origin(hints[key]) or hints[key]
        if origin is list and isinstance(value, list):
            tables = [(f"{key} #{i}", t) for i, t in enumerate(value, start=1)]
        elif origin is dict and isinstance(value, dict):
            tables = [(f"{key}.{name}", t) for name, t in value.items()]
        else:
            tables = [(key, value)]
        fixed = {"name"} if cls.__name__ == "CategoryConfig" else set()
        names = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
        for where, table in tables:
            if not isinstance(table, dict):
                continue
            for k in table:
                if k not in names:
                    out.append(Problem(source, None, k, f"unknown key '{k}' in [{where}]", closest_key(k, names)))
    return out


def _load_config(path: Path, rep: _Report) -> Config | None:
    if not path.is_file():
        rep.add(path, "config file not found", "check the path")
        return None
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        rep.add(path, "the config is not UTF-8 text", "save it as UTF-8")
        return None
    except tomllib.TOMLDecodeError as exc:
        rep.add(path, f"not valid TOML ({exc})", "fix the syntax at the position given")
        return None
    unknown = unknown_config_keys(data, str(path))
    rep.items.extend(unknown)
    try:
        return config_from_dict(data, base_dir=path.resolve().parent, source=path)
    except InputError as exc:
        if not (unknown and "unknown" in exc.problem):
            rep.items.append(Problem.from_error(exc))
        return None


# --------------------------------------------------------------------------------------------- files


def _check_table(src, path: Path, cats: list[str], rep: _Report) -> None:
    """Row-level checks of a CSV facility list (everything the loader would stop at, and more)."""
    got = rep.guard(read_table, path)
    if got is None:
        return
    df, info = got
    if info.encoding == "xlsx":
        rep.add(path, f"read the first sheet of the Excel workbook, {len(df)} rows", "", "note")
    else:
        enc = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "gbk": "GBK"}[info.encoding]
        sep = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[info.delimiter]
        rep.add(path, f"read as {enc} text, {sep}-separated, {len(df)} rows", "", "note")
    if len(df) == 0:
        rep.add(path, "no data rows", "add facilities or remove this [[facilities]] entry")
        return
    cols = find_lonlat_columns(list(df.columns), src.lon, src.lat)
    if cols is None:
        rep.add(path, f"no longitude/latitude columns (columns: {', '.join(df.columns)})",
                "name them with lon = \"...\" and lat = \"...\" in [[facilities]] "
                "(recognised: 经度/纬度, lng/lat, lon/lat, longitude/latitude, x/y)", field=src.lon)
        return
    if cols != (src.lon, src.lat):
        rep.add(path, f"longitude/latitude read from columns '{cols[0]}'/'{cols[1]}'", "", "note")
    declared = rep.guard(parse_crs, src.crs, path)
    xy = []
    for col in cols:
        vals, bad = parse_numbers(df[col])
        text = df[col]
        rep.rows(path, bad, col, lambda i, t=text: f"'{t.iloc[i]}' is not a number",
                 lambda i, t=text: number_fix(t.iloc[i], "a decimal coordinate"))
        rep.rows(path, ~bad & np.isnan(vals), col, "empty coordinate", "fill it in or delete the row")
        xy.append(vals)
    x, y = xy
    if src.swap_lonlat:
        x, y = y, x
    if declared is not None and declared.crs.is_geographic:
        ok = np.isfinite(x) & np.isfinite(y)
        swapped = ok & looks_swapped(x, y)
        rep.rows(path, swapped, cols[1], lambda i: f"longitude and latitude look swapped ({x[i]:g}, {y[i]:g})",
                 "set swap_lonlat = true in [[facilities]], or swap the column names")
        rng = ok & ~swapped & ((np.abs(x) > 180) | (np.abs(y) > 90))
        rep.rows(path, rng, cols[0], lambda i: f"({x[i]:g}, {y[i]:g}) is not a longitude/latitude",
                 "declare the file's CRS (e.g. crs = \"EPSG:32650\") or fix the value")
    if src.capacity_column:
        if src.capacity_column not in df.columns:
            rep.add(path, f"no capacity column '{src.capacity_column}'", "fix capacity_column in [[facilities]]",
                    field=src.capacity_column)
        else:
            text = df[src.capacity_column]
            _, bad = parse_numbers(text)
            rep.rows(path, bad, src.capacity_column, lambda i: f"'{text.iloc[i]}' is not a number",
                     lambda i: number_fix(text.iloc[i], "the capacity", short=True))
    if not src.category:
        col = resolve_column(list(df.columns), src.category_column, CATEGORY_HEADERS)
        if col is None:
            rep.add(path, f"no category column '{src.category_column}'",
                    "set category_column, or category = \"...\" for the whole file", field=src.category_column)
        else:
            cat = df[col].astype("string").str.strip()
            rep.rows(path, (cat.isna() | (cat == "")).to_numpy(dtype=bool, na_value=True), col,
                     "empty category", "fill in the category")


def _check_gis(src, path: Path, rep: _Report) -> None:
    try:
        gdf = read_layer(path, src.layer, "as a GIS layer", GIS_FIX)
    except InputError as exc:
        rep.add(path, exc.problem, exc.fix)
        return
    rep.add(path, f"{len(gdf)} features, CRS {gdf.crs.to_string() if gdf.crs else 'none'}", "", "note")
    empty = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    rep.rows(path, empty, "geometry", "empty geometry", "give the facility a location or delete the row")


def _facility_checks(cfg: Config, fac: gpd.GeoDataFrame, area: shapely.Geometry, area_name: str,
                     rep: _Report) -> None:
    """Checks on the loaded facilities of one source (EPSG:4326): categories, duplicates, study area."""
    path = fac.attrs.get("path", "")
    cats = list(cfg.categories)
    unknown = fac.loc[~fac["category"].isin(cats), "category"]
    for cat, rows in unknown.groupby(unknown, sort=True).groups.items():
        first = int(np.flatnonzero(fac.index.isin(rows))[0]) + 1
        rep.add(path, f"category '{cat}' ({len(rows)} row{'s' if len(rows) > 1 else ''}) is not in [categories]; "
                "these rows are ignored",
                f"add [categories.{cat}] or fix the spelling ({closest_key(str(cat), cats)})", "warning",
                row=first, field="category")
    if not len(fac):
        return
    # duplicates: the same category within 1 m (the analysis's own rule, in a local metric CRS), row by row
    xy = shapely.get_coordinates(fac.geometry.values)
    lon0, lat0 = np.nanmedian(xy, axis=0)
    dups = duplicate_facilities(fac.to_crs(utm_crs_for(float(lon0), float(lat0))).reset_index(drop=True))
    first = dict(zip(dups["row"], dups["first"]))
    rep.rows(path, np.isin(np.arange(len(fac)), dups["row"]), None,
             lambda i: f"duplicate of row {first[i] + 1} (same place and category '{fac['category'].iloc[i]}')",
             "delete one of them, or check the coordinates", "warning")
    inside = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    rep.rows(path, ~inside, None, f"outside the study area ({area_name})",
             "check the coordinates and their CRS; facilities outside still serve people inside", "note")


def _check_boundaries(cfg: Config, rep: _Report) -> None:
    """Row-by-row checks of a boundary file (every empty, non-polygon and invalid polygon listed)."""
    b = cfg.boundaries
    if b.path.lower() == "osm":
        return  # read by the analysis's own preparation (its refusal, if any, is reported from there)
    path = cfg.resolve(b.path)
    if not path.is_file():
        rep.add(path, "boundary file not found", "check [boundaries] path")
        return None
    try:
        raw = read_layer(path, b.layer, "boundaries", BOUNDARY_FIX)
    except InputError as exc:
        rep.add(path, exc.problem, exc.fix)
        return None
    declared = rep.guard(parse_crs, b.crs, path)
    crs_text = declared.label if declared is not None and declared.declared else (raw.crs.to_string() if raw.crs else "none")
    rep.add(path, f"{len(raw)} units, coordinates {crs_text}", "", "note")
    geom = raw.geometry.values
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    rep.rows(path, empty, "geometry", "empty geometry", "give every unit a polygon or delete the row")
    types = shapely.get_type_id(geom)
    rep.rows(path, ~empty & ~np.isin(types, [3, 6]), "geometry", "not a polygon", "export the units as polygons")
    invalid = ~empty & np.isin(types, [3, 6]) & ~shapely.is_valid(geom)
    reasons = shapely.is_valid_reason(geom)
    rep.rows(path, invalid, "geometry", lambda i: f"invalid polygon ({reasons[i]})",
             "it is repaired with make_valid for the analysis; fix it in a GIS to be sure", "warning")
    if b.name_column not in raw.columns:
        rep.add(path, f"no name column '{b.name_column}' (columns: {', '.join(map(str, raw.columns))})",
                "set name_column in [boundaries]", field=b.name_column)
        return None
    return None


# --------------------------------------------------------------------------------------------- main


def validate(config: str | Path | Config) -> list[Problem]:
    """Check a config and every input it names; return all problems found (errors first).

    Two passes. First every file is read row by row, so that every bad row is listed, not only the first one
    the analysis would stop at. Then, when no row is in error, the analysis's own preparation runs
    (:func:`access15.pipeline.prepare`: load, check, snap; no routing): its refusals are errors, its warnings
    warnings and its notes notes, so ``validate`` and ``run`` judge a config alike.
    """
    rep = _Report()
    cfg = config if isinstance(config, Config) else _load_config(Path(config), rep)
    if cfg is None:
        return _sorted(rep.items)
    if is_online(cfg):  # [network] place/polygon/bbox: check the downloaded files
        if not rep.guard(lambda: fetch_paths(cfg).complete()):
            rep.add(cfg.source or "config", "the [network] area is not downloaded yet",
                    f"run 'access15 fetch {cfg.source or 'CONFIG'}' (needs internet), then validate again")
            return _sorted(rep.items)
        cfg = fetch_prepare(cfg)[0]
    loaded = _check_files(cfg, rep)
    if has_errors(rep.items):
        return _sorted(rep.items)
    _merged_sources(cfg, loaded, rep)
    prepared = judge(cfg, rep)
    if prepared is not None:
        net = prepared.network
        net_path = cfg.resolve(cfg.network.path)
        head = osm_header_info(net_path) if is_osm_file(net_path) else {}
        stamp = f", extract of {head['timestamp']}" if head.get("timestamp") else ""
        rep.add(net_path, f"{net.n_nodes:,} nodes, {net.n_edges:,} edges{stamp}", "", "note")
        if cfg.network.elevation:  # the DEM the preparation sampled (kept on the network): what it holds
            dem = cfg.resolve(cfg.network.elevation)
            prof = edge_profile(net, dem, cfg.network.elevation_spacing_m)
            rep.add(dem, rep.guard(describe_dem, dem, net, prof) or "", "", "note")
        if cfg.population is not None:
            rep.add(cfg.resolve(cfg.population.path) if cfg.population.path else net_path,
                    f"population {prepared.points['weight'].sum():,.0f} on {len(prepared.points):,} demand points",
                    "", "note")
        if prepared.boundaries is not None:
            area, area_name = (shapely.union_all(prepared.boundaries.to_crs(WGS84).geometry.values),
                               "outside every boundary unit")
        else:
            hull = shapely.buffer(net.hull(), cfg.network.max_snap_m)
            area = shapely.polygons(transform_xy(shapely.get_coordinates(hull), net.crs, WGS84))
            area_name = f"farther than {cfg.network.max_snap_m:g} m beyond the network"
        shapely.prepare(area)
        for fac in loaded:
            _facility_checks(cfg, fac, area, area_name, rep)
    return _sorted(rep.items)


def _merged_sources(cfg: Config, loaded: list[gpd.GeoDataFrame], rep: _Report) -> None:
    """With a POI export among the sources, the facilities the analysis will count once because two sources
    list them (:func:`access15.io.poi.merge_duplicates`, as :func:`load_facilities` does): a note per pair."""
    if len(loaded) < 2 or not any(src.format for src in cfg.facilities):
        return
    _, merged = merge_duplicates(gpd.GeoDataFrame(pd.concat(loaded, ignore_index=True), crs=4326))
    for r in merged.head(MAX_ROWS_PER_CHECK).itertuples():
        rep.add(r.dropped_source, f"'{r.dropped_name}' ({r.dropped_id}) is '{r.kept_name}' of {r.kept_source}, "
                f"{r.distance_m:.0f} m apart: counted once", "", "note")
    if len(merged) > MAX_ROWS_PER_CHECK:
        rep.add(cfg.source or "config", f"{len(merged) - MAX_ROWS_PER_CHECK} more facilities listed by two sources "
                "are counted once", "", "note")


def judge(cfg: Config, rep: _Report) -> Prepared | None:
    """The analysis's own judgement of ``cfg`` (:func:`access15.pipeline.prepare`), added to ``rep``: its
    refusal as an error, its warnings and notes as such. Returns the prepared inputs, or None when refused."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AccessWarning)
        warnings.simplefilter("always", AccessNote)
        try:
            prepared = prepare(cfg)
        except InputError as exc:
            rep.items.append(Problem.from_error(exc))
            prepared = None
    for w in caught:
        if issubclass(w.category, (AccessWarning, AccessNote)):
            m = w.message
            rep.add(m.source or "", m.problem, m.fix, "warning" if issubclass(w.category, AccessWarning) else "note")
    return prepared


def _check_files(cfg: Config, rep: _Report) -> list[gpd.GeoDataFrame]:
    """Row-by-row checks of every facility and boundary file; returns the facility files read (EPSG:4326)."""
    cats = list(cfg.categories)
    net_path = cfg.resolve(cfg.network.path)
    if rep.guard(check_network_path, net_path) is None:
        return []
    if cfg.boundaries is not None:
        _check_boundaries(cfg, rep)
    loaded = []
    for i, src in enumerate(cfg.facilities, start=1):
        if src.path.lower() == "osm":
            if not is_osm_file(net_path):
                rep.add(f"[[facilities]] #{i}", "path = \"osm\" needs an OSM network file",
                        "point [network] path at an .osm.pbf, or list facilities in a file")
                continue
            trules = rep.guard(load_tag_rules, cfg.resolve(src.tags) if src.tags else None)
            if trules is None:
                continue
            want = [c for c in (src.categories or cats) if c in cats]
            missing = [c for c in want if c not in trules.categories]
            for c in missing:
                rep.add(f"[[facilities]] #{i}", f"no OSM tag mapping for category '{c}'",
                        f"load it from a file, or add it to a tags TOML (built-in: {', '.join(trules.categories)})")
            osm = rep.guard(read_osm_facilities, net_path, trules, [c for c in want if c in trules.categories])
            if osm is not None:
                counts = osm["category"].value_counts().to_dict()
                rep.add(net_path.name, "OSM facilities: " + ", ".join(f"{c} {counts.get(c, 0)}" for c in want
                                                                      if c in trules.categories), "", "note")
            continue
        path = cfg.resolve(src.path)
        if not path.is_file():
            rep.add(path, "facility file not found", "check the path in [[facilities]]")
            continue
        if src.format:  # POI exports: read, map, and show what the mapping did
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = rep.guard(load_poi_source, src, path, cfg.resolve(src.preset) if src.preset else None)
            if res is not None:
                fac, prep = res
                rep.add(path, prep.summary(), "", "note")
                for r in prep.counts.itertuples():
                    rep.add(path, f"POI mapping: {r.category} / {r.subkind}: {r.count}", "", "note")
                for r in prep.unmatched.head(10).itertuples():
                    rep.add(path, f"POI type not mapped: '{r.type}' {r.typecode} x{r.count}",
                            "add a [[type]] rule for it to a project preset (preset = \"...\") if it is a facility",
                            "note")
                fac.attrs["path"] = str(path)
                loaded.append(fac)
            continue
        if is_table(path):
            _check_table(src, path, cats, rep)
        else:
            _check_gis(src, path, rep)
        if any(p.severity == "error" and p.file == str(path) for p in rep.items):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fac = rep.guard(read_facility_file, src, path)
        if fac is None:
            continue
        fac.attrs["path"] = str(path)
        if src.category is not None and src.category not in cats:
            rep.add(path, f"category '{src.category}' is not in [categories]", closest_key(src.category, cats))
        loaded.append(fac)
    return loaded


def _sorted(items: list[Problem]) -> list[Problem]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(items, key=lambda p: order.get(p.severity, 9))  # stable: file order kept within a severity


def has_errors(problems: list[Problem]) -> bool:
    """True when any problem is an error."""
    return any(p.severity == "error" for p in problems)
