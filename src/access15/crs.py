"""Coordinate reference systems: choosing the local metric CRS and projecting arrays into it.

Every computation runs in one metric CRS (a UTM zone picked from the data's centre), chosen once at the
edge of the pipeline. Inputs in EPSG:4326 or any declared CRS are projected with pyproj.
"""

from __future__ import annotations

import numpy as np
import pyproj
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

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
