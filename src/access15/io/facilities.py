"""Load facilities from files (GeoJSON, GeoPackage, Shapefile, CSV) or from OSM tags.

Everything is returned as a GeoDataFrame in EPSG:4326 with validated columns; projection to the
analysis CRS happens once, in the pipeline. Problems are raised as one-line :class:`InputError`s that
name the file, the row and the field.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config import FacilitySource
from ..coords import convert_lonlat, find_lonlat_columns, frame_to_wgs84, looks_swapped, parse_crs
from ..errors import AccessNote, AccessWarning, InputError
from .osm import load_tag_rules, read_osm_facilities
from .poi import load_poi_source, merge_duplicates
from .tables import (
    CATEGORY_HEADERS,
    GIS_FIX,
    NAME_HEADERS,
    is_table,
    number_error,
    parse_numbers,
    read_layer,
    read_table,
    require_geometry,
    resolve_column,
)

FACILITY_COLUMNS = ["category", "name", "facility_id", "capacity", "source", "geometry"]


def _numeric(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values, bad = parse_numbers(df[column])
    missing = ~bad & np.isnan(values)
    if bad.any() or missing.any():
        if bad.any():
            raise number_error(path, df[column], bad, column, "a decimal coordinate")
        i = int(np.flatnonzero(missing)[0])
        raise InputError(path, "empty coordinate", "fill in a decimal coordinate or delete the row",
                         row=i + 1, field=column)
    return values


def _points_from_csv(path: Path, df: pd.DataFrame, src: FacilitySource) -> gpd.GeoDataFrame:
    """Points from a table's longitude/latitude columns, converted from the declared system to WGS84."""
    cols = find_lonlat_columns(list(df.columns), src.lon, src.lat)
    if cols is None:
        missing = [c for c in (src.lon, src.lat) if c not in df.columns]
        raise InputError(path, f"no coordinate column '{missing[0]}' (columns: {', '.join(df.columns)})",
                         "name the columns with lon = \"...\" and lat = \"...\" in [[facilities]] "
                         "(recognised: 经度/纬度, lng/lat, lon/lat, longitude/latitude, x/y)", field=missing[0])
    lon, lat = cols
    if (lon, lat) != (src.lon, src.lat):
        warnings.warn(AccessNote(f"read longitude/latitude from columns '{lon}'/'{lat}'", source=path.name),
                      stacklevel=3)
    x, y = _numeric(df, lon, path), _numeric(df, lat, path)
    declared = parse_crs(src.crs, path)
    if src.swap_lonlat:
        x, y = y, x
        lon, lat = lat, lon
    if declared.crs.is_geographic:
        bad_lon = np.flatnonzero(np.abs(x) > 180)
        bad_lat = np.flatnonzero(np.abs(y) > 90)
        if len(bad_lon) or len(bad_lat):
            big = len(bad_lon) == len(x) and len(bad_lat) == len(y)
            if big and not src.crs:
                raise InputError(path, "coordinates are not longitude/latitude (they look projected, in metres)",
                                 "declare the file's CRS, e.g. crs = \"EPSG:32650\", in [[facilities]]")
            i = int(min(np.r_[bad_lon, bad_lat]))
            field = lon if i in set(bad_lon) else lat
            swapped = looks_swapped(x, y)
            if swapped[i] and not src.swap_lonlat:
                raise InputError(path, f"longitude and latitude look swapped ('{lat}' = {y[i]:g} is not a latitude; "
                                 f"{int(swapped.sum())} of {len(x)} rows)",
                                 "set swap_lonlat = true in [[facilities]], or swap the lon/lat column names",
                                 row=i + 1, field=lat)
            raise InputError(path, f"coordinate ({x[i]}, {y[i]}) is out of range for longitude/latitude",
                             "longitude must be within ±180 and latitude within ±90; check for swapped or mistyped values",
                             row=i + 1, field=field)
    x, y = convert_lonlat(x, y, declared)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs=4326)


def read_facility_file(src: FacilitySource, path: Path) -> gpd.GeoDataFrame:
    """Read one facility file into the standard columns (EPSG:4326)."""
    if not path.is_file():
        raise InputError(path, "facility file not found", "check the path in [[facilities]]")
    if is_table(path):
        gdf = _points_from_csv(path, read_table(path)[0], src)
    else:
        gdf = read_layer(path, src.layer, "as a GIS layer", GIS_FIX)
        gdf = require_geometry(gdf, path, "points")
        if gdf.crs is None and not src.crs:
            raise InputError(path, "layer has no coordinate reference system",
                             "declare it with crs = \"EPSG:4326\" (or the right code) in [[facilities]]")
        empty = gdf.geometry.isna() | gdf.geometry.is_empty
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(path, "empty geometry", "give every facility a location or delete the row", row=i + 1,
                             field="geometry")
        geom = gdf.geometry.values
        polys = ~np.isin(shapely.get_type_id(geom), [0])
        if polys.any():
            geom = geom.copy()
            geom[polys] = shapely.point_on_surface(geom[polys])
            gdf = gdf.set_geometry(gpd.GeoSeries(geom, index=gdf.index, crs=gdf.crs))
        if src.swap_lonlat:
            gdf = gdf.set_geometry(gpd.GeoSeries(shapely.transform(gdf.geometry.values, lambda xy: xy[:, ::-1]),
                                                 index=gdf.index, crs=gdf.crs))
        gdf = frame_to_wgs84(gdf, parse_crs(src.crs, path))
    if len(gdf) == 0:
        raise InputError(path, "no rows", "add facilities or remove this [[facilities]] entry")
    cat_col = resolve_column(list(gdf.columns), src.category_column, CATEGORY_HEADERS) or src.category_column
    name_col = resolve_column(list(gdf.columns), src.name_column, NAME_HEADERS) or src.name_column
    if src.category:
        gdf["category"] = src.category
    elif cat_col not in gdf.columns:
        raise InputError(path, f"no category column '{src.category_column}'",
                         "add it, set category_column, or give every row one category with category = \"...\"",
                         field=src.category_column)
    else:
        cat = gdf[cat_col].astype("string").str.strip()
        missing = (cat.isna() | (cat == "")).to_numpy(dtype=bool, na_value=True)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise InputError(path, "empty category", "fill in the category", row=i + 1, field=cat_col)
        gdf["category"] = cat.astype(str)
    capacity = np.full(len(gdf), np.nan)
    if src.capacity_column:
        if src.capacity_column not in gdf.columns:
            raise InputError(path, f"no capacity column '{src.capacity_column}' (columns: {', '.join(map(str, gdf.columns))})",
                             "fix capacity_column in [[facilities]] or remove it", field=src.capacity_column)
        capacity, bad = parse_numbers(gdf[src.capacity_column])
        if bad.any():
            raise number_error(path, gdf[src.capacity_column], bad, src.capacity_column, "the capacity")
    out = gpd.GeoDataFrame({
        "category": gdf["category"].to_numpy(),
        "name": gdf[name_col].fillna("").astype(str).to_numpy() if name_col in gdf.columns else "",
        "facility_id": (gdf[src.id_column].astype(str).to_numpy() if src.id_column and src.id_column in gdf.columns
                        else [f"{path.stem}:{i + 1}" for i in range(len(gdf))]),
        "capacity": capacity,
        "source": path.name,
    }, geometry=gdf.geometry.values, crs=gdf.crs)
    return out.to_crs(4326)


def load_facilities(sources: list[FacilitySource], resolve: Callable[[str], Path], categories: list[str],
                    network_path: Path | None) -> gpd.GeoDataFrame:
    """Facilities from every configured source, limited to ``categories``, in EPSG:4326.

    ``resolve`` maps a config path to an absolute path. Rows of categories that are not configured are
    dropped with a warning that names them.
    """
    frames = []
    any_poi = False
    for src in sources:
        wanted = src.categories or ([src.category] if src.category else None)
        if src.path.lower() == "osm":
            if network_path is None:
                raise InputError("[[facilities]]", "path = \"osm\" needs an OSM network file",
                                 "point [network] path at an .osm.pbf, or list facilities in a file")
            rules = load_tag_rules(resolve(src.tags) if src.tags else None)
            cats = [c for c in (wanted or categories) if c in rules.categories]
            osm = read_osm_facilities(network_path, rules, cats)
            osm["facility_id"] = osm["osm_type"].str[0] + osm["osm_id"].astype(str)
            frames.append(osm[FACILITY_COLUMNS])
        elif src.format:  # POI exports (AMap/Baidu JSON, POI CSV): categories from the preset's rules
            gdf, report = load_poi_source(src, resolve(src.path), resolve(src.preset) if src.preset else None)
            warnings.warn(report.summary(), AccessWarning, stacklevel=2)
            any_poi = True
            frames.append(gdf[gdf["category"].isin(wanted)] if wanted else gdf)
        else:
            path = resolve(src.path)
            gdf = read_facility_file(src, path)
            unknown = sorted(set(gdf["category"]) - set(categories))
            if unknown:
                warnings.warn(f"{path.name}: categories {', '.join(unknown)} are not in [categories] and are ignored",
                              AccessWarning, stacklevel=2)
            if wanted:
                gdf = gdf[gdf["category"].isin(wanted)]
            frames.append(gdf[FACILITY_COLUMNS])
    out = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame(columns=FACILITY_COLUMNS)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    out = out[out["category"].isin(categories)].reset_index(drop=True)
    if any_poi:  # one facility listed by several sources (a POI export and a government list) is merged
        out, merged = merge_duplicates(out)
        out = out.reset_index(drop=True)
        if len(merged):
            warnings.warn(f"{len(merged)} facilities listed by two sources merged (same category, within 30 m, "
                          "similar names), e.g. " + "; ".join(f"'{r.dropped_name}' ({r.dropped_source}) = "
                          f"'{r.kept_name}' ({r.kept_source}), {r.distance_m:g} m" for r in merged.head(3).itertuples()),
                          AccessWarning, stacklevel=2)
    return out
