"""Load facilities and boundaries from files (GeoJSON, GeoPackage, Shapefile, CSV) or from OSM.

Everything is returned as a GeoDataFrame in EPSG:4326 with validated columns; projection to the
analysis CRS happens once, in the pipeline. Problems are raised as one-line :class:`InputError`s that
name the file, the row and the field.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .config import FacilitySource
from .errors import AccessWarning, InputError
from .osm import load_tag_rules, read_osm_facilities

FACILITY_COLUMNS = ["category", "name", "facility_id", "capacity", "source", "geometry"]


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV read as text, trying UTF-8 (with or without BOM) then GBK (common for Chinese exports)."""
    last: Exception | None = None
    for enc in ("utf-8-sig", "gbk"):
        try:
            return pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False, na_values=[""])
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(path, f"cannot parse as CSV ({str(exc).splitlines()[0]})",
                             "save it as comma-separated UTF-8 text with a header row") from None
    raise InputError(path, f"unknown text encoding ({last})", "save the CSV as UTF-8") from None


def _numeric(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"'{df[column].iloc[i]}' is not a number", "fill in a decimal coordinate",
                         row=i + 1, field=column)
    return values.to_numpy(dtype=np.float64)


def _points_from_csv(path: Path, df: pd.DataFrame, lon: str, lat: str, crs: str | None) -> gpd.GeoDataFrame:
    for col in (lon, lat):
        if col not in df.columns:
            raise InputError(path, f"no coordinate column '{col}' (columns: {', '.join(df.columns)})",
                             "name the columns with lon = \"...\" and lat = \"...\" in [[facilities]]", field=col)
    x, y = _numeric(df, lon, path), _numeric(df, lat, path)
    declared = pyproj.CRS.from_user_input(crs) if crs else pyproj.CRS.from_epsg(4326)
    if declared.is_geographic:
        bad_lon = np.flatnonzero(np.abs(x) > 180)
        bad_lat = np.flatnonzero(np.abs(y) > 90)
        if len(bad_lon) or len(bad_lat):
            big = len(bad_lon) == len(x) and len(bad_lat) == len(y)
            if big and not crs:
                raise InputError(path, "coordinates are not longitude/latitude (they look projected, in metres)",
                                 "declare the file's CRS, e.g. crs = \"EPSG:32650\", in [[facilities]]")
            i = int(min(np.r_[bad_lon, bad_lat]))
            field = lon if i in set(bad_lon) else lat
            raise InputError(path, f"coordinate ({x[i]}, {y[i]}) is out of range for longitude/latitude",
                             "longitude must be within ±180 and latitude within ±90; check for swapped or mistyped values",
                             row=i + 1, field=field)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs=declared)


def read_facility_file(src: FacilitySource, path: Path) -> gpd.GeoDataFrame:
    """Read one facility file into the standard columns (EPSG:4326)."""
    if not path.is_file():
        raise InputError(path, "facility file not found", "check the path in [[facilities]]")
    if path.suffix.lower() in (".csv", ".txt"):
        gdf = _points_from_csv(path, _read_table(path), src.lon, src.lat, src.crs)
    else:
        try:
            gdf = gpd.read_file(path, layer=src.layer)
        except Exception as exc:  # pyogrio raises several types for unreadable files
            raise InputError(path, f"cannot read as a GIS layer ({str(exc).splitlines()[0]})",
                             "use GeoJSON, GeoPackage, Shapefile or CSV with lon/lat columns") from None
        if src.crs:
            gdf = gdf.set_crs(src.crs, allow_override=True)
        elif gdf.crs is None:
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
    if len(gdf) == 0:
        raise InputError(path, "no rows", "add facilities or remove this [[facilities]] entry")
    if src.category:
        gdf["category"] = src.category
    elif src.category_column not in gdf.columns:
        raise InputError(path, f"no category column '{src.category_column}'",
                         "add it, set category_column, or give every row one category with category = \"...\"",
                         field=src.category_column)
    else:
        cat = gdf[src.category_column].astype("string").str.strip()
        missing = cat.isna() | (cat == "")
        if missing.any():
            i = int(np.flatnonzero(missing.to_numpy())[0])
            raise InputError(path, "empty category", "fill in the category", row=i + 1, field=src.category_column)
        gdf["category"] = cat.astype(str)
    out = gpd.GeoDataFrame({
        "category": gdf["category"].to_numpy(),
        "name": gdf[src.name_column].fillna("").astype(str).to_numpy() if src.name_column in gdf.columns else "",
        "facility_id": (gdf[src.id_column].astype(str).to_numpy() if src.id_column and src.id_column in gdf.columns
                        else [f"{path.stem}:{i + 1}" for i in range(len(gdf))]),
        "capacity": (pd.to_numeric(gdf[src.capacity_column], errors="coerce").to_numpy()
                     if src.capacity_column and src.capacity_column in gdf.columns else np.nan),
        "source": path.name,
    }, geometry=gdf.geometry.values, crs=gdf.crs)
    return out.to_crs(4326)


def load_facilities(sources: list[FacilitySource], resolve, categories: list[str],
                    network_path: Path | None) -> gpd.GeoDataFrame:
    """Facilities from every configured source, limited to ``categories``, in EPSG:4326.

    ``resolve`` maps a config path to an absolute path. Rows of categories that are not configured are
    dropped with a warning that names them.
    """
    frames = []
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
    return out[out["category"].isin(categories)].reset_index(drop=True)


def load_boundaries(path: Path, name_column: str, crs: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Administrative units (polygons) with a ``unit`` name column, in EPSG:4326."""
    if not path.is_file():
        raise InputError(path, "boundary file not found", "check [boundaries] path in the config")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(path, f"cannot read boundaries ({str(exc).splitlines()[0]})",
                         "use a GeoJSON or GeoPackage of polygons") from None
    if crs:
        gdf = gdf.set_crs(crs, allow_override=True)
    elif gdf.crs is None:
        raise InputError(path, "boundaries have no CRS", "declare crs = \"EPSG:4326\" in [boundaries]")
    if name_column not in gdf.columns:
        raise InputError(path, f"no name column '{name_column}' (columns: {', '.join(map(str, gdf.columns))})",
                         "set name_column in [boundaries]", field=name_column)
    kinds = set(shapely.get_type_id(gdf.geometry.values).tolist())
    if not kinds <= {3, 6}:
        raise InputError(path, "boundaries must be polygons", "export the administrative areas as polygons")
    geom = shapely.make_valid(gdf.geometry.values)
    return gpd.GeoDataFrame({"unit": gdf[name_column].astype(str).to_numpy()}, geometry=geom, crs=gdf.crs).to_crs(4326)
