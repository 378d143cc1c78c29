"""Coordinates: the local metric CRS, projection, China's GCJ-02 / BD-09 systems, and declared systems.

Every computation runs in one metric CRS (a UTM zone picked from the data's centre), chosen once at the edge
of the pipeline (:func:`utm_crs_for`, :func:`transform_xy`). Inputs declare their coordinates with ``crs``:
any EPSG/PROJ CRS (``"EPSG:4490"``, ``"EPSG:32650"``) or one of China's non-EPSG systems, ``"gcj02"``
(AMap/Gaode, Tencent) or ``"bd09"`` (Baidu), converted to WGS84 at load time (:func:`parse_crs`,
:func:`convert_lonlat`, :func:`frame_to_wgs84`).

GCJ-02 is WGS84 shifted by a published, deterministic offset (a few hundred metres) inside mainland China and
equal to WGS84 outside it; BD-09 is a further rotation-and-shift of GCJ-02. The forward transforms are the
widely published closed forms (as in ``eviltransform`` / ``prcoords``, public domain, and Baidu's published
conversion); the inverses are computed by fixed-point iteration on the forward transform (error < 1e-9
degrees, well under 1 mm).

CSV coordinate headers are recognised when the configured names are absent: ``经度``/``纬度``,
``lng``/``lat``, ``lon``/``lat``, ``longitude``/``latitude``, ``x``/``y`` and a few more pairs
(case-insensitive, ignoring spaces, a UTF-8 BOM and a trailing unit such as ``经度(GCJ02)``).

Everything is vectorised over numpy arrays (O(n) in the number of coordinates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from typing import Callable

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from .errors import InputError

WGS84 = pyproj.CRS.from_epsg(4326)


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 / UTM zone CRS containing the point (lon, lat), in degrees."""
    infos = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    # the database returns the zone(s) whose area contains the point; prefer a plain UTM zone
    infos = [i for i in infos if "UTM zone" in i.name] or infos
    return pyproj.CRS.from_epsg(int(infos[0].code))


def transform_xy(xy: np.ndarray, src: pyproj.CRS | str, dst: pyproj.CRS | str) -> np.ndarray:
    """Project an (n, 2) array of x/y (lon/lat for geographic CRSs) from ``src`` to ``dst``."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


# --- China's non-EPSG systems: GCJ-02 and BD-09 ------------------------------------------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

#: Non-EPSG systems access15 accepts wherever a CRS can be declared.
CHINESE_SYSTEMS = ("gcj02", "bd09")


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether points fall in the rough mainland-China box where GCJ-02 differs from WGS84."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    s = np.sin
    pi = np.pi
    common = (20.0 * s(6.0 * x * pi) + 20.0 * s(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * s(y * pi) + 40.0 * s(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * s(y / 12.0 * pi) + 320.0 * s(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * s(x * pi) + 40.0 * s(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * s(x / 12.0 * pi) + 300.0 * s(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sq) * pi)
    dlon = (dlon * 180.0) / (_A / sq * np.cos(rad) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> GCJ-02 (degrees). Points outside China are returned unchanged."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _invert(forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], lon: ArrayLike,
            lat: ArrayLike, start: tuple[np.ndarray, np.ndarray] | None = None, tol: float = 1e-10,
            max_iter: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(w) = (lon, lat) for w by fixed-point iteration (vectorised)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = (lon.copy(), lat.copy()) if start is None else start
    for _ in range(max_iter):
        flon, flat = forward(wlon, wlat)
        dlon, dlat = flon - lon, flat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if np.nanmax(np.abs(np.concatenate([np.ravel(dlon), np.ravel(dlat)])), initial=0.0) < tol:
            break
    return wlon, wlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS84 (degrees), by iterating the forward transform to < 1e-10 degrees."""
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 (degrees)."""
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02 (degrees): Baidu's closed-form approximation refined by iteration."""
    x, y = np.asarray(lon, float) - 0.0065, np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon, lat, start=(z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> BD-09 (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS84 (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert from ``system`` ("gcj02" or "bd09") to WGS84 (degrees)."""
    system = system.lower().replace("-", "").replace("_", "")
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {system!r}; expected one of {CHINESE_SYSTEMS}")


# --- declared systems, coordinate headers, conversion to WGS84 -----------------------------------------


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


def looks_swapped(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Rows whose "latitude" is outside ±90 while swapping the pair gives valid longitude/latitude."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)


def declared_crs(crs_text: str | None, fallback: pyproj.CRS | None, path: str | PathLike, what: str,
                 section: str = "[population]") -> pyproj.CRS | str:
    """The declared CRS (``crs_text``, see :func:`parse_crs`) or the file's (``fallback``);
    ``"gcj02"``/``"bd09"`` are returned as text for :func:`geometry_to`. A file without a CRS and without a
    declaration is an InputError."""
    if crs_text:
        declared = parse_crs(crs_text, path)
        return declared.system or declared.crs
    if fallback is None:
        raise InputError(path, f"{what} has no coordinate reference system",
                         f"declare it with crs = \"EPSG:4326\" (or the right code) in {section}")
    return fallback


def geometry_to(geom: np.ndarray, crs: pyproj.CRS | str, dst: pyproj.CRS) -> np.ndarray:
    """Geometries from ``crs`` (a pyproj CRS, or "gcj02"/"bd09" degrees) to ``dst``, vertex by vertex."""
    if isinstance(crs, str):
        geom = geometries_to_wgs84(geom, parse_crs(crs))
        crs = WGS84
    tr = pyproj.Transformer.from_crs(crs, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
