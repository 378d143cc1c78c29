"""Metro-size test networks built by tiling a real extract (no internet, no synthetic streets).

The bundled extract is clipped to a dense inner rectangle (every street crossing its border is cut exactly
on the border), then copies are laid side by side on an ``nx x ny`` grid, every other copy mirrored, so
that each cut street meets its own mirror image at the shared border: the copies are stitched wherever a
real street crossed the rectangle. Vertices are identified by their coordinates quantised to 1 mm (a KD-tree
free exact join), so the stitched cut points become one node. Facilities are tiled the same way.

Complexity: O(V log V) for V vertices of the tiled network (one ``np.unique`` over quantised keys),
no Python loop over tiles' contents (one loop over the tiles themselves, O(tiles)).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

from access15.network import WalkNetwork, network_from_vertices


def clip_network(net: WalkNetwork, rect: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Cut every edge at the rectangle ``(xmin, ymin, xmax, ymax)`` (network CRS, metres).

    Returns the vertex coordinates (V, 2) and polyline offsets (L+1,) of the parts inside.
    """
    clipped = shapely.clip_by_rect(net.edge_geometry, *rect)
    parts = shapely.get_parts(clipped[~shapely.is_empty(clipped)])
    parts = parts[shapely.get_type_id(parts) == 1]
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(idx, minlength=len(parts)))])
    return xy, offsets


def _place(xy: np.ndarray, rect: tuple[float, float, float, float], i: int, j: int) -> np.ndarray:
    """Coordinates of tile (i, j): shifted by whole tile widths, mirrored in x when i is odd, in y when j is."""
    xmin, ymin, xmax, ymax = rect
    w, h = xmax - xmin, ymax - ymin
    x = (xmax - xy[:, 0]) if i % 2 else (xy[:, 0] - xmin)
    y = (ymax - xy[:, 1]) if j % 2 else (xy[:, 1] - ymin)
    return np.column_stack([xmin + x + i * w, ymin + y + j * h])


def grid_shape(n_tiles: int) -> tuple[int, int]:
    """A near-square ``(nx, ny)`` with at least ``n_tiles`` tiles."""
    nx = math.ceil(math.sqrt(n_tiles))
    return nx, math.ceil(n_tiles / nx)


def tile_network(net: WalkNetwork, rect: tuple[float, float, float, float], nx: int, ny: int) -> WalkNetwork:
    """The clipped network tiled ``nx`` by ``ny`` times and stitched at the borders (see module doc)."""
    xy, offsets = clip_network(net, rect)
    nv, nl = len(xy), len(offsets) - 1
    tiles = [(i, j) for j in range(ny) for i in range(nx)]
    all_xy = np.concatenate([_place(xy, rect, i, j) for i, j in tiles])
    all_off = np.concatenate([[0]] + [offsets[1:] + k * nv for k in range(len(tiles))])
    q = np.round(all_xy * 1000.0).astype(np.int64)  # mm; tiled extents stay far below 2**31 mm
    q -= q.min(axis=0)
    _, key = np.unique(q[:, 0] * (int(q[:, 1].max()) + 1) + q[:, 1], return_inverse=True)
    del q, _  # (0.3 GB at 5M edges, not kept while the network is folded)
    out = network_from_vertices(key.astype(np.int64, copy=False), all_xy, all_off, net.crs,
                                source=f"{net.source} tiled {nx}x{ny}")
    out.info.update({"tiles": len(tiles), "tile_grid": (nx, ny), "tile_rect_m": rect, "lines_per_tile": nl})
    return out


def tile_points(gdf: gpd.GeoDataFrame, rect: tuple[float, float, float, float], nx: int, ny: int) -> gpd.GeoDataFrame:
    """Point features (in the network CRS) inside ``rect``, copied onto every tile the same way as the network."""
    xmin, ymin, xmax, ymax = rect
    xy = shapely.get_coordinates(gdf.geometry.values)
    inside = (xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax)
    base = gdf[inside].reset_index(drop=True)
    frames = []
    for j in range(ny):
        for i in range(nx):
            t = base.copy()
            t["geometry"] = shapely.points(_place(xy[inside], rect, i, j))
            t["facility_id"] = base["facility_id"].astype(str) + f"@{i},{j}"
            frames.append(t)
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), geometry="geometry", crs=gdf.crs)


def dense_rect(net: WalkNetwork, side_m: float = 8000.0, cell_m: float = 1000.0) -> tuple[float, float, float, float]:
    """The ``side_m`` square (aligned to ``cell_m`` from the network's lower-left corner) holding the most nodes."""
    lo = net.node_xy.min(axis=0)
    k = int(side_m // cell_m)
    span = np.ceil((net.node_xy.max(axis=0) - lo) / cell_m).astype(int)
    h, _, _ = np.histogram2d(*net.node_xy.T, bins=span, range=[[lo[0], lo[0] + span[0] * cell_m],
                                                                [lo[1], lo[1] + span[1] * cell_m]])
    c = np.cumsum(np.cumsum(np.pad(h, ((1, 0), (1, 0))), axis=0), axis=1)
    win = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    i, j = np.unravel_index(np.argmax(win), win.shape)
    x0, y0 = lo[0] + i * cell_m, lo[1] + j * cell_m
    return (float(x0), float(y0), float(x0 + side_m), float(y0 + side_m))


def write_osm(net: WalkNetwork, path: str, highway: str = "residential") -> int:
    """Write the network as an OSM file (one way per edge, ``highway=<highway>``) with pyosmium's SimpleWriter,
    so the reader can be benchmarked on it. Graph nodes keep ids ``1..N``; intermediate vertices get ids
    after them. Coordinates go back to WGS84 (OSM stores 1e-7 degrees, about 1 cm). Returns the node count.

    One Python call per OSM object (nodes, then ways), so O(V + E) interpreted: about a minute per million edges.
    """
    import osmium
    from osmium.osm import mutable

    from access15.coords import WGS84, transform_xy

    coords, idx = shapely.get_coordinates(net.edge_geometry, return_index=True)
    counts = np.bincount(idx, minlength=net.n_edges)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ids = np.zeros(len(coords), dtype=np.int64)
    inner = np.ones(len(coords), dtype=bool)
    inner[starts] = False
    inner[starts + counts - 1] = False
    ids[starts] = net.edge_u + 1
    ids[starts + counts - 1] = net.edge_v + 1
    ids[inner] = net.n_nodes + 1 + np.arange(int(inner.sum()))
    node_ll = transform_xy(net.node_xy, net.crs, WGS84)
    inner_ll = transform_xy(coords[inner], net.crs, WGS84)
    all_ll = np.concatenate([node_ll, inner_ll]).tolist()
    tags = {"highway": highway}
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        for i, (lon, lat) in enumerate(all_ll, start=1):
            w.add_node(mutable.Node(id=i, location=(lon, lat)))
        bounds = np.concatenate([starts, [len(coords)]]).tolist()
        id_list = ids.tolist()
        for e in range(net.n_edges):
            w.add_way(mutable.Way(id=e + 1, nodes=id_list[bounds[e]:bounds[e + 1]], tags=tags))
    return len(all_ll)
