"""WKB of points straight from their coordinates, for the GeoParquet and GeoPackage writers.

A 2D point's WKB (OGC Simple Features, little-endian) is always the same 21 bytes: byte order ``1``, geometry
type ``1`` (uint32), x and y (float64). :func:`points` lays those records out in one numpy array and hands
them to Arrow as a binary column, without making a GEOS point per row: 404,512 points in 0.02 s instead of
0.45 s (``shapely.points`` then ``shapely.to_wkb``), bit-equal to shapely's WKB (tested).

Imports numpy and pyarrow only (the GeoPackage worker uses it).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: One little-endian 2D WKB point.
POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def points(xy: np.ndarray) -> pa.BinaryArray:
    """The points ``xy`` (n, 2), any CRS, as an Arrow binary array of their little-endian 2D WKB, one per row
    (what ``shapely.to_wkb(shapely.points(xy), output_dimension=2)`` gives). O(n)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    records = np.empty(len(xy), dtype=POINT)
    records["order"], records["type"] = 1, 1
    records["x"], records["y"] = xy[:, 0], xy[:, 1]
    offsets = np.arange(0, POINT.itemsize * (len(xy) + 1), POINT.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), len(xy), [None, pa.py_buffer(offsets), pa.py_buffer(records)])

