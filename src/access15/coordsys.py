"""China's non-EPSG coordinate systems: GCJ-02 (AMap/Gaode, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS84 shifted by a published, deterministic offset (a few hundred metres) inside mainland
China and equal to WGS84 outside it; BD-09 is a further rotation-and-shift of GCJ-02. The forward
transforms are the widely published closed forms; the inverses are computed by fixed-point iteration
on the forward transform (accuracy far better than 1 cm after convergence). Everything is vectorised
over numpy arrays of longitudes/latitudes in degrees.

References: the GCJ-02 forward formula as published in e.g. ``eviltransform`` / ``prcoords`` (public
domain) and the BD-09 formula from Baidu's published conversion.
"""

from __future__ import annotations

import numpy as np

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


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> GCJ-02 (degrees). Points outside China are returned unchanged."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _invert(forward, lon, lat, start=None, tol: float = 1e-10, max_iter: int = 50):
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


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS84 (degrees), by iterating the forward transform to < 1e-10 degrees."""
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 (degrees)."""
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02 (degrees): Baidu's closed-form approximation refined by iteration."""
    x, y = np.asarray(lon, float) - 0.0065, np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon, lat, start=(z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> BD-09 (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS84 (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon, lat, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert from ``system`` ("gcj02" or "bd09") to WGS84 (degrees)."""
    system = system.lower().replace("-", "").replace("_", "")
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {system!r}; expected one of {CHINESE_SYSTEMS}")
