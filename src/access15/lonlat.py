"""Coordinates as planners' files give them: declared systems, header names, and conversion to WGS84.

A facility, population or boundary source may declare ``crs`` as any EPSG/PROJ CRS (``"EPSG:4490"``,
``"EPSG:32650"``) or as one of China's non-EPSG systems: ``"gcj02"`` (AMap/Gaode, Tencent) or ``"bd09"``
(Baidu). Chinese systems are converted to WGS84 at load time with :mod:`access15.coordsys` (iterative
inverse, error < 1e-9 degrees, i.e. well under 1 mm); EPSG systems are reprojected with pyproj. Every
function here is vectorised over numpy arrays (O(n) in the number of coordinates).

CSV coordinate headers are recognised when the configured names are absent: ``经度``/``纬度``,
``lng``/``lat``, ``lon``/``lat``, ``longitude``/``latitude``, ``x``/``y`` and a few more pairs
(case-insensitive, ignoring spaces, a UTF-8 BOM and a trailing unit such as ``经度(GCJ02)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from .coordsys import in_china, to_wgs84, wgs84_to_gcj02
from .errors import InputError

WGS84 = pyproj.CRS.from_epsg(4326)

#: Spellings of the Chinese systems accepted in ``crs = "..."`` (compared lower-case, without - and _).
SYSTEM_ALIASES: dict[str, str] = {
    "gcj02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "gaode": "gcj02", "autonavi": "gcj02", "tencent": "gcj02",
    "mars": "gcj02", "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09",
}

#: Header pairs recognised for (longitude, latitude), in order of preference (normalised form). Only
#: whole pairs count: a lone ``x`` beside ``lat`` is not taken for a longitude.
LONLAT_HEADERS = (("lon", "lat"), ("lng", "lat"), ("long", "lat"), ("longitude", "latitude"), ("经度", "纬度"),
                  ("x", "y"), ("point_x", "point_y"), ("wgs84_lng", "wgs84_lat"), ("gcj02_lng", "gcj02_lat"),
                  ("bd09_lng", "bd09_lat"), ("lon_wgs84", "lat_wgs84"), ("东经", "北纬"))


@dataclass(frozen=True)
class DeclaredCRS:
    """What a source says its coordinates are.

    ``system`` is ``"gcj02"`` or ``"bd09"`` for China's non-EPSG systems (coordinates are then
    longitude/latitude degrees in that system) and ``None`` otherwise; ``crs`` is the pyproj CRS the
    raw coordinates are in (EPSG:4326 for the Chinese systems, whose conversion is not a pyproj one).
    ``declared`` is the text as written (``None`` when nothing was declared).
    """

    declared: str | None
    system: str | None
    crs: pyproj.CRS

    @property
    def is_wgs84(self) -> bool:
        """True when the coordinates are plain WGS84 longitude/latitude (declared or by default)."""
        return self.system is None and self.crs.equals(WGS84, ignore_axis_order=True)

    @property
    def label(self) -> str:
        """A short name for messages: "GCJ-02", "BD-09", "EPSG:4326", ..."""
        if self.system:
            return {"gcj02": "GCJ-02", "bd09": "BD-09"}[self.system]
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.name


def parse_crs(value: str | int | None, source: str | PathLike | None = None, field: str = "crs") -> DeclaredCRS:
    """Interpret a declared coordinate system.

    Parameters
    ----------
    value : ``None`` (WGS84), ``"gcj02"``/``"bd09"`` (and their aliases in :data:`SYSTEM_ALIASES`), or
        anything pyproj understands (``"EPSG:4326"``, ``4490``, a WKT or PROJ string).
    source, field : where the value came from, for the error message.

    Raises
    ------
    InputError : the value names no coordinate system.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return DeclaredCRS(None, None, WGS84)
    if isinstance(value, str):
        key = re.sub(r"[\s_\-]", "", value).lower()
        if key in SYSTEM_ALIASES:
            return DeclaredCRS(value, SYSTEM_ALIASES[key], WGS84)
        if key in ("bd09mc", "baidumercator"):
            raise InputError(source, f"'{value}' (Baidu Mercator, in metres) is not supported",
                             "export Baidu longitude/latitude (BD-09) and declare crs = \"bd09\"", field=field)
    try:
        crs = pyproj.CRS.from_user_input(value)
    except (pyproj.exceptions.CRSError, TypeError, ValueError):
        raise InputError(source, f"unknown CRS {value!r}",
                         "use an EPSG code such as \"EPSG:4326\", or \"gcj02\" (AMap/Tencent) / \"bd09\" (Baidu)",
                         field=field) from None
    return DeclaredCRS(str(value), None, crs)


def _norm_header(name: object) -> str:
    text = str(name).replace("\ufeff", "").strip().lower()
    text = re.sub(r"[（(\[].*?[)）\]]\s*$", "", text).strip()  # a trailing unit or system: 经度(GCJ02)
    return re.sub(r"\s+", "", text)


def find_lonlat_columns(columns: list[str], lon: str, lat: str) -> tuple[str, str] | None:
    """The (longitude, latitude) column names of a table.

    The configured names win when both are present; otherwise the first pair of :data:`LONLAT_HEADERS`
    found (case-insensitive, ignoring spaces, a BOM and a trailing unit like ``经度(GCJ02)``). ``None``
    when no whole pair is found.
    """
    cols = [str(c) for c in columns]
    if lon in cols and lat in cols:
        return lon, lat
    normed: dict[str, str] = {}
    for c in cols:
        normed.setdefault(_norm_header(c), c)
    for a, b in ((_norm_header(lon), _norm_header(lat)), *LONLAT_HEADERS):
        if a in normed and b in normed and normed[a] != normed[b]:
            return normed[a], normed[b]
    return None


def convert_lonlat(lon: np.ndarray, lat: np.ndarray, declared: DeclaredCRS) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in the declared system -> WGS84 longitude/latitude (degrees)."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    if declared.system:
        return to_wgs84(lon, lat, declared.system)
    if declared.is_wgs84:
        return lon, lat
    tr = pyproj.Transformer.from_crs(declared.crs, WGS84, always_xy=True)
    return tr.transform(lon, lat)


def geometries_to_wgs84(geoms: np.ndarray, declared: DeclaredCRS) -> np.ndarray:
    """Shapely geometries (points, lines, polygons) in the declared system -> WGS84 (every vertex converted)."""
    geoms = np.asarray(geoms, dtype=object)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = convert_lonlat(xy[:, 0], xy[:, 1], declared)
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def frame_to_wgs84(gdf: gpd.GeoDataFrame, declared: DeclaredCRS | None) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326.

    ``declared`` overrides the layer's own CRS (a GeoJSON always says WGS84, even when its numbers are
    GCJ-02); with ``declared=None`` the layer's CRS is used.
    """
    if declared is None or declared.declared is None:
        return gdf.to_crs(WGS84)
    if declared.system:
        geom = geometries_to_wgs84(gdf.geometry.values, declared)
        return gdf.set_geometry(gpd.GeoSeries(geom, index=gdf.index, crs=WGS84), crs=WGS84)
    return gdf.set_crs(declared.crs, allow_override=True).to_crs(WGS84)


def gcj02_shift_m(lon: float, lat: float) -> tuple[float, float]:
    """The east/north displacement (metres) that GCJ-02 adds to a WGS84 point; (0, 0) outside China."""
    glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    k = np.pi / 180.0 * 6371008.8
    return float((glon[0] - lon) * k * np.cos(np.radians(lat))), float((glat[0] - lat) * k)


def looks_swapped(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Rows whose "latitude" is outside ±90 while swapping the pair gives valid longitude/latitude."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)


def any_in_china(lon: np.ndarray, lat: np.ndarray) -> bool:
    """Whether any point lies where GCJ-02 differs from WGS84."""
    return bool(np.any(in_china(lon, lat)))
