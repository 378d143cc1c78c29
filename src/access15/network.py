"""Build the walking network: nodes, undirected edges with lengths in metres, and edge geometries.

Two sources give the same :class:`WalkNetwork`: a local OSM file (walkable ways chosen by tag) and a
road centre-line layer (nodes where lines meet within a tolerance). Intermediate vertices are folded
into edge geometries, so graph nodes are intersections and dead ends only; each edge keeps its exact
polyline and its length is measured along it in the local UTM CRS.

Complexity: O(V log V) in the number of way vertices V (one sort to find shared nodes); no Python loop
over nodes or edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import ConvexHull, QhullError, cKDTree

from .coords import WGS84, transform_xy, utm_crs_for
from .errors import InputError
from .io.osm import TagRules, is_osm_file, read_walk_ways
from .io.tables import read_layer, require_geometry


@dataclass
class WalkNetwork:
    """An undirected walking network in a metric CRS.

    Attributes
    ----------
    crs : pyproj.CRS
        The local metric CRS of every coordinate here (metres).
    node_xy : (N, 2) float array
        Node coordinates in ``crs``.
    node_id : (N,) int array
        OSM node ids (or sequential ids for road-line layers).
    edge_u, edge_v : (E,) int arrays
        Node indices of each edge's start and end; ``edge_geometry[i]`` runs from ``edge_u`` to ``edge_v``.
    edge_length : (E,) float array
        Length along the geometry, metres.
    edge_geometry : (E,) array of shapely LineStrings in ``crs``.
    source : str
        Where the network came from (file name).
    edge_highway : (E,) object array or None
        OSM highway class of each edge's way (e.g. "footway"); None for road-line layers.
    edge_wheelchair, edge_ramp, edge_ramp_stroller, edge_step_count, edge_incline : (E,) object arrays or None
        The way's ``wheelchair``, ``ramp``, ``ramp:stroller``, ``step_count`` and ``incline`` tags (text, None
        where untagged), for the walking profiles (:mod:`access15.walking`); None for road-line layers.
    edge_kerb : (E,) object array or None
        The most restrictive ``kerb`` tag (in :data:`KERB_ORDER`) of the OSM nodes along each edge, its two ends
        included (None where none is tagged); None for road-line layers.
    node_crossing : (N,) object array or None
        "traffic_signals" where the OSM node is signalised (``highway=traffic_signals`` or
        ``crossing=traffic_signals``), "uncontrolled" where it is another crossing (``highway=crossing`` or
        ``crossing=*``, except ``crossing=no``), else None; None for road-line layers.
    """

    crs: pyproj.CRS
    node_xy: np.ndarray
    node_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    source: str = ""
    info: dict = field(default_factory=dict)
    edge_highway: np.ndarray | None = None
    edge_wheelchair: np.ndarray | None = None
    edge_ramp: np.ndarray | None = None
    edge_ramp_stroller: np.ndarray | None = None
    edge_step_count: np.ndarray | None = None
    edge_incline: np.ndarray | None = None
    edge_kerb: np.ndarray | None = None
    node_crossing: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @cached_property
    def graph(self) -> sparse.csr_matrix:
        """Symmetric CSR adjacency (N x N), weights in metres; parallel edges keep the shortest,
        self-loops are dropped. Used by every shortest-path call."""
        n = self.n_nodes
        idx = np.int32 if max(n, 2 * self.n_edges) < 2**31 else np.int64  # the index type scipy would choose
        keep = self.edge_u != self.edge_v
        a = np.concatenate([self.edge_u[keep], self.edge_v[keep]]).astype(idx)
        b = np.concatenate([self.edge_v[keep], self.edge_u[keep]]).astype(idx)
        w = np.maximum(np.concatenate([self.edge_length[keep]] * 2), 1e-9)  # csgraph ignores zeros
        # sorted by (row, column) as one int64 key (one sort instead of lexsort's three), parallel edges merged to
        # the shortest: the CSR arrays directly, as the COO -> CSR conversion gives them
        key = a.astype(np.int64) * n + b
        order = np.argsort(key)
        key, a, b, w = key[order], a[order], b[order], w[order]
        del order
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        del key
        indptr = np.concatenate([[0], np.cumsum(np.bincount(a[first], minlength=n))]).astype(idx)
        return sparse.csr_matrix((np.minimum.reduceat(w, first), b[first], indptr), shape=(n, n))

    @cached_property
    def component(self) -> np.ndarray:
        """Connected-component label per node; 0 is the largest component."""
        _, labels = csgraph.connected_components(self.graph, directed=False)
        sizes = np.bincount(labels)
        rank = np.empty_like(sizes)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        return rank[labels]

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over edge geometries."""
        return shapely.STRtree(self.edge_geometry)

    @cached_property
    def chord_ratio(self) -> float:
        """The largest ratio of the straight line between an edge's end nodes to the edge's graph weight
        (at most 1 when every weight is a polyline length in metres). Bounds straight-line distance by
        network distance: O(E), once."""
        g = self.graph
        row = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
        chord = np.hypot(*(self.node_xy[row] - self.node_xy[g.indices]).T)
        return float(np.max(chord / g.data, initial=1.0))

    @cached_property
    def node_tree(self) -> cKDTree:
        """KD-tree over the node coordinates (metres)."""
        return cKDTree(self.node_xy)

    @cached_property
    def main_edges(self) -> np.ndarray:
        """Indices of the edges in the largest connected component."""
        return np.flatnonzero(self.component[self.edge_u] == 0)

    @cached_property
    def main_tree(self) -> shapely.STRtree:
        """Spatial index over the edges of the largest connected component (indices into ``main_edges``)."""
        return shapely.STRtree(self.edge_geometry[self.main_edges])

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """The edges as a GeoDataFrame (u, v, length_m) in the network CRS."""
        return gpd.GeoDataFrame({"u": self.edge_u, "v": self.edge_v, "length_m": self.edge_length},
                                geometry=self.edge_geometry, crs=self.crs)

    def hull(self) -> shapely.Geometry:
        """Convex hull of the nodes (metric CRS); computed once per network (see :attr:`_hull`)."""
        return self._hull

    @cached_property
    def _hull(self) -> shapely.Geometry:
        """Convex hull of the nodes: qhull (``scipy.spatial.ConvexHull``) finds the extreme nodes from the
        coordinate array, and GEOS builds the hull of those few, so there is no GEOS point per node (0.1 s and no
        extra memory at a million nodes, against 0.6 s through ``shapely.multipoints``). Fewer than three
        nodes, or all on one line (qhull refuses both), go to GEOS as they are. O(n log n)."""
        xy = self.node_xy
        if len(xy) > 3:
            try:
                xy = xy[ConvexHull(xy).vertices]
            except QhullError:
                pass  # degenerate: collinear or coincident nodes; GEOS gives the line or point
        return shapely.convex_hull(shapely.multipoints(xy))

    def drop_indexes(self) -> None:
        """Forget the spatial indexes (:attr:`tree`, :attr:`main_tree`, :attr:`node_tree`); the next use rebuilds
        them (about 0.3 s per million edges each). They take about 75 bytes per edge each (0.75 GB for the two
        edge trees at 5 million edges), and an analysis needs them only to lay its demand grid and to snap."""
        for name in ("tree", "main_tree", "node_tree"):
            self.__dict__.pop(name, None)


#: The per-edge OSM tag fields of :class:`WalkNetwork` (besides ``edge_highway``), by OSM key.
TAG_FIELDS = {"wheelchair": "edge_wheelchair", "ramp": "edge_ramp", "ramp:stroller": "edge_ramp_stroller",
              "step_count": "edge_step_count", "incline": "edge_incline"}
#: ``kerb=*`` values kept per edge, most restrictive first (other values are not kept).
KERB_ORDER = ("raised", "yes", "rolled", "lowered", "flush", "no")


def edge_fields(net: WalkNetwork, keep: np.ndarray) -> dict[str, np.ndarray | None]:
    """The per-edge tag arrays of ``net`` (highway and :data:`TAG_FIELDS`) taken at edge indices ``keep``."""
    return {f: (None if getattr(net, f) is None else getattr(net, f)[keep])
            for f in ("edge_highway", *TAG_FIELDS.values(), "edge_kerb")}


def _node_tag_fields(label: np.ndarray, node_tags: tuple[np.ndarray, dict[str, np.ndarray]], ends: np.ndarray,
                     vidx: np.ndarray, veid: np.ndarray, n_edges: int) -> dict[str, np.ndarray]:
    """``edge_kerb`` and ``node_crossing`` from the tagged OSM nodes (sorted ids, tags by key) for vertices with
    OSM ids ``label``: graph nodes are the vertices ``ends``, edge ``veid[k]`` passes vertex ``vidx[k]``."""
    tid, tags = node_tags
    pos = np.minimum(np.searchsorted(tid, label), max(len(tid) - 1, 0))
    hit = (tid[pos] == label) if len(tid) else np.zeros(len(label), dtype=bool)

    def tag(key: str) -> np.ndarray:
        out = np.full(len(label), None, dtype=object)
        out[hit] = tags[key][pos[hit]]
        return out

    hw, cr = tag("highway"), tag("crossing")
    signals = (hw == "traffic_signals") | (cr == "traffic_signals")
    crossing = ((hw == "crossing") | pd.notna(cr)) & (cr != "no")
    kind = np.where(signals & (cr != "no"), "traffic_signals", np.where(crossing, "uncontrolled", None))
    rank = pd.Series(tag("kerb"), dtype=object).map({k: i for i, k in enumerate(KERB_ORDER)}).to_numpy(
        dtype=np.float64, na_value=np.inf)
    best = np.full(n_edges, np.inf)
    np.minimum.at(best, veid, rank[vidx])
    kerb = np.full(n_edges, None, dtype=object)
    kerb[np.isfinite(best)] = np.asarray(KERB_ORDER, dtype=object)[best[np.isfinite(best)].astype(np.int64)]
    return {"edge_kerb": kerb, "node_crossing": kind.astype(object)[ends]}


def network_from_vertices(node_key: np.ndarray, xy: np.ndarray, offsets: np.ndarray, crs: pyproj.CRS,
                          source: str = "", node_label: np.ndarray | None = None,
                          line_class: np.ndarray | None = None,
                          line_tags: dict[str, np.ndarray] | None = None,
                          node_tags: tuple[np.ndarray, dict[str, np.ndarray]] | None = None) -> WalkNetwork:
    """Fold polylines into a network.

    Parameters
    ----------
    node_key : (V,) int array
        Identity of each vertex; vertices with the same key are the same point of the network.
    xy : (V, 2) float array
        Vertex coordinates in ``crs`` (metres).
    offsets : (L+1,) int array
        Polyline ``i`` is vertices ``offsets[i]:offsets[i+1]``.
    node_label : optional (V,) int array
        Id to report per node (e.g. the OSM id); defaults to ``node_key``.
    line_class : optional (L,) array
        A class per polyline (the OSM highway tag), kept per edge as ``edge_highway``.
    line_tags : optional {OSM key: (L,) object array}
        Tags per polyline (keys of :data:`TAG_FIELDS`), kept per edge in the matching fields.
    node_tags : optional (sorted ids, {OSM key: values})
        Tags of the OSM nodes with ids ``node_label`` that carry crossing / kerb tags (``highway``, ``crossing``,
        ``kerb``): kept as ``edge_kerb`` and ``node_crossing``.
    """
    same_label = node_label is None
    lengths = np.diff(offsets)
    line_of = np.repeat(np.arange(len(lengths)), lengths)
    # drop repeated consecutive vertices (zero-length segments)
    keep = np.ones(len(node_key), dtype=bool)
    keep[1:] = ~((line_of[1:] == line_of[:-1]) & (node_key[1:] == node_key[:-1]))
    node_key, xy, line_of = node_key[keep], xy[keep], line_of[keep]
    node_label = node_key if same_label else node_label[keep]
    del keep
    nv = len(node_key)
    if nv == 0:
        raise InputError(source, "no walkable ways in the network", "check the extract covers the study area")
    # (each temporary below is deleted once used: at 5 million edges every per-vertex array is about 0.1 GB)
    is_first = np.ones(nv, dtype=bool)
    is_first[1:] = line_of[1:] != line_of[:-1]
    is_last = np.ones(nv, dtype=bool)
    is_last[:-1] = line_of[1:] != line_of[:-1]
    _, inv, counts = np.unique(node_key, return_inverse=True, return_counts=True)
    del node_key
    brk = (counts[inv] > 1) | is_first | is_last  # intersections, shared vertices and line ends
    del counts, is_first
    starts = brk & ~is_last                       # vertices where an edge begins
    del brk
    seg = np.flatnonzero(~is_last)               # segment k runs from vertex k to k+1
    del is_last
    if len(seg) == 0:
        raise InputError(source, "no walkable ways in the network", "check the extract covers the study area")
    seg_edge = (np.cumsum(starts) - 1)[seg]
    n_edges = int(starts.sum())
    start_pos = np.flatnonzero(starts)
    del starts
    edge_line = line_of[start_pos]
    del line_of
    edge_len = np.bincount(seg_edge, weights=np.hypot(*(xy[seg + 1] - xy[seg]).T), minlength=n_edges)
    end_pos = seg[np.flatnonzero(np.r_[seg_edge[1:] != seg_edge[:-1], True])] + 1
    # edge geometries: each edge's segment starts, then its end vertex
    vidx = np.concatenate([seg, end_pos])
    veid = np.concatenate([seg_edge, np.arange(n_edges)])
    del seg, seg_edge
    order = np.lexsort((vidx, veid))
    geoms = shapely.linestrings(xy[vidx[order]], indices=veid[order])
    del order
    # compact node numbering over edge endpoints only
    ends = np.concatenate([start_pos, end_pos])
    uniq, first_at, node_of_end = np.unique(inv[ends], return_index=True, return_inverse=True)
    del inv
    return WalkNetwork(
        crs=crs,
        node_xy=xy[ends[first_at]],
        node_id=node_label[ends[first_at]],
        edge_u=node_of_end[:n_edges].astype(np.int64),
        edge_v=node_of_end[n_edges:].astype(np.int64),
        edge_length=edge_len,
        edge_geometry=geoms,
        source=source,
        edge_highway=None if line_class is None else np.asarray(line_class, dtype=object)[edge_line],
        **{f: np.asarray(line_tags[k], dtype=object)[edge_line]
           for k, f in TAG_FIELDS.items() if line_tags is not None and k in line_tags},
        **({} if node_tags is None else
           _node_tag_fields(node_label, node_tags, ends[first_at], vidx, veid, n_edges)),
    )


def subnetwork(net: WalkNetwork, area: shapely.Geometry) -> WalkNetwork:
    """The edges of ``net`` that meet ``area`` (network CRS), whole, with their nodes renumbered.

    Complexity: one STRtree query, O(log E + k) for k kept edges, and O(k log k) to renumber.
    """
    keep = np.sort(net.tree.query(area, predicate="intersects"))
    nodes, inv = np.unique(np.concatenate([net.edge_u[keep], net.edge_v[keep]]), return_inverse=True)
    return WalkNetwork(crs=net.crs, node_xy=net.node_xy[nodes], node_id=net.node_id[nodes],
                       node_crossing=None if net.node_crossing is None else net.node_crossing[nodes],
                       edge_u=inv[:len(keep)].astype(np.int64), edge_v=inv[len(keep):].astype(np.int64),
                       edge_length=net.edge_length[keep], edge_geometry=net.edge_geometry[keep],
                       **edge_fields(net, keep),
                       source=net.source, info={**{k: v for k, v in net.info.items() if k not in ("cache", "cache_key")},
                                                "clipped_from_edges": net.n_edges})  # not the cached network


def network_from_osm(path: str | Path, rules: TagRules | None = None,
                     crs: pyproj.CRS | None = None, bbox: tuple[float, float, float, float] | None = None) -> WalkNetwork:
    """Walking network from a local OSM file, projected to ``crs`` (default: the UTM zone of its centre);
    ``bbox`` (WGS84 min_lon, min_lat, max_lon, max_lat) keeps the ways that meet it."""
    path = Path(path)
    ways = read_walk_ways(path, rules, bbox)
    if len(ways.node_id) == 0:
        raise InputError(path, "no walkable ways (highway=* open to pedestrians) in this extract",
                         "check the file covers a built-up area, or loosen [walk] in the tag mapping")
    if crs is None:
        lo, hi = ways.lonlat.min(axis=0), ways.lonlat.max(axis=0)
        crs = utm_crs_for(*(lo + hi) / 2)
    xy = transform_xy(ways.lonlat, WGS84, crs)
    net = network_from_vertices(ways.node_id, xy, ways.offsets, crs, source=path.name, line_class=ways.highway,
                                line_tags=ways.tags, node_tags=None if ways.node_tags is None else
                                (ways.tagged_node_id, ways.node_tags))
    net.info["ways"] = int(len(ways.way_id))
    return net


def network_from_lines(lines: gpd.GeoDataFrame, tolerance_m: float = 1.0, source: str = "",
                       crs: pyproj.CRS | None = None) -> WalkNetwork:
    """Walking network from a road centre-line layer.

    Every vertex within ``tolerance_m`` metres of another becomes one node, so lines that meet at an
    end or at a shared vertex are connected. Lines that merely cross (bridges, tunnels, or un-noded data)
    are not joined.
    """
    if lines.crs is None:
        raise InputError(source, "road layer has no CRS", "save it with a CRS (e.g. EPSG:4326) or declare crs in [network]")
    geom = lines.geometry.values
    geom = geom[~(shapely.is_empty(geom) | shapely.is_missing(geom))]
    types = set(shapely.get_type_id(geom).tolist())
    if not types <= {1, 5}:
        raise InputError(source, "road layer must hold LineStrings or MultiLineStrings",
                         "export the road centre-lines, not polygons or points")
    parts = shapely.get_parts(geom)
    if len(parts) == 0:
        raise InputError(source, "road layer has no lines", "check the layer name and the file")
    coords, line_idx = shapely.get_coordinates(parts, return_index=True)
    if crs is None:
        lonlat = transform_xy(coords, lines.crs, WGS84)
        lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
        crs = utm_crs_for(*(lo + hi) / 2)
    xy = transform_xy(coords, lines.crs, crs)
    # merge vertices closer than the tolerance (connected components of the "close" relation)
    pairs = cKDTree(xy).query_pairs(tolerance_m, output_type="ndarray")
    n = len(xy)
    adj = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, key = csgraph.connected_components(adj, directed=False)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(line_idx, minlength=len(parts)))])
    return network_from_vertices(key.astype(np.int64), xy, offsets, crs, source=source)


_LAYER_FIX = "use an .osm.pbf/.osm file or a GeoPackage/Shapefile/GeoJSON of road centre-lines"


def check_network_path(path: str | Path) -> Path:
    """``path`` when it can be a street network (an existing file that is not a table), else the InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "network file not found", "check [network] path in the config")
    if path.is_dir():
        raise InputError(path, "is a folder, not a network file", "point [network] path at an .osm.pbf, .osm or "
                         "road-line file inside it")
    if path.suffix.lower() in (".csv", ".txt", ".xlsx", ".xls"):
        raise InputError(path, "a table cannot be a street network", _LAYER_FIX)
    return path


def load_network(path: str | Path, rules: TagRules | None = None, tolerance_m: float = 1.0,
                 layer: str | None = None, bbox: tuple[float, float, float, float] | None = None) -> WalkNetwork:
    """Load a walking network from an OSM file or a road-line layer, chosen by the file name.

    ``bbox`` (WGS84 min_lon, min_lat, max_lon, max_lat) keeps only the ways / lines that meet it.
    """
    path = check_network_path(path)
    if is_osm_file(path):
        return network_from_osm(path, rules, bbox=bbox)
    lines = require_geometry(read_layer(path, layer, "as a road-line layer", _LAYER_FIX), path, "road centre-lines")
    if bbox is not None and lines.crs is not None:
        box = gpd.GeoSeries([shapely.box(*bbox)], crs=WGS84).to_crs(lines.crs).iloc[0]
        lines = lines[lines.intersects(box)]
    return network_from_lines(lines, tolerance_m, source=path.name)
