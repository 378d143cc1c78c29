"""networkx / OSMnx graphs in and out of access15.

In: :func:`network_from_networkx` turns an OSMnx ``MultiDiGraph`` (projected or not, simplified or not) or any
networkx graph whose nodes have ``x``/``y`` and whose ``graph["crs"]`` names their CRS into a
:class:`~access15.network.WalkNetwork`, the same structure the OSM reader builds; :func:`network_from_graphml`
reads an OSMnx GraphML file into one. Walking is undirected, as in the OSM reader: one-way flags are ignored,
and the two directed copies OSMnx keeps of a two-way street (``u -> v`` and ``v -> u``, same length, reversed
geometry) become one edge. Parallel edges stay (the routing graph keeps the shortest), self-loops stay as edges
and are dropped from the routing graph, exactly as for an OSM extract.

Out: :func:`to_networkx` returns the walking network of an analysis as a networkx graph with the minutes to the
nearest facility of every category on each node, for plotting, centrality or routing in OSMnx/networkx.

Complexity: one Python pass over networkx's node dict and one over its edge dict (unavoidable: that is
where the data lives); everything else is vectorised NumPy/shapely/pyproj, O(V + E) plus O(E log E) to sort.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyproj
import shapely

from .coords import utm_crs_for
from .errors import InputError
from .network import WalkNetwork
from .result import AnalysisResult
from .routing import nearest_facility
from .snap import Snapped, snap_points

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

GRAPHML_SUFFIXES = (".graphml", ".graphml.xml")


def is_graphml(path: str | Path) -> bool:
    """True when ``path`` is named like a GraphML file (``.graphml``)."""
    return str(path).lower().endswith(GRAPHML_SUFFIXES)


def _to_float(values: list, source: str, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(source, f"node {what} missing or not numbers on some nodes",
                         "give every node numeric 'x' and 'y' attributes (OSMnx graphs have them)") from None


def _metric_crs(crs: pyproj.CRS, xy: np.ndarray) -> pyproj.CRS:
    """``crs`` when it is a UTM zone (metres, true lengths), else the UTM zone of the data's centre."""
    if crs.is_projected and crs.utm_zone is not None:
        return crs
    lonlat = xy if crs.is_geographic else np.column_stack(
        pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1]))
    lo, hi = np.nanmin(lonlat, axis=0), np.nanmax(lonlat, axis=0)
    return utm_crs_for(*(lo + hi) / 2)


def network_from_networkx(graph: nx.Graph, *, source: str = "networkx graph", crs: pyproj.CRS | None = None,
                          length_attr: str | None = "length") -> WalkNetwork:
    """A :class:`WalkNetwork` from a networkx graph (e.g. an OSMnx graph).

    Parameters
    ----------
    graph : networkx ``Graph``/``DiGraph``/``MultiGraph``/``MultiDiGraph``
        Nodes need numeric ``x``/``y``; ``graph.graph["crs"]`` names their CRS (OSMnx sets it; EPSG:4326 for
        unprojected graphs). An edge's ``geometry`` (shapely LineString in the same CRS, running from ``u`` to
        ``v`` or the other way) is kept when present, else the edge is the straight line between its nodes.
    source : str
        Name used in messages and in the run record.
    crs : pyproj.CRS, optional
        Metric CRS of the result. Default: the graph's own CRS when it is a UTM zone, else the UTM zone of the
        graph's centre (as for OSM extracts).
    length_attr : str or None
        Edge attribute holding the length in metres (OSMnx: ``length``); edges without it (or ``None``) are
        measured along their geometry in the metric CRS.

    Returns
    -------
    WalkNetwork in a metric CRS (metres). ``node_id`` holds the graph's node keys when they are integers (OSM
    node ids for OSMnx), else 0..N-1; ``edge_highway`` the ``highway`` attribute when present.
    """
    src_crs = graph.graph.get("crs")
    if src_crs is None:
        raise InputError(source, "the graph has no 'crs' graph attribute",
                         "set G.graph['crs'] = 'EPSG:4326' (or the CRS of the node x/y) before passing it")
    try:
        src_crs = pyproj.CRS.from_user_input(src_crs)
    except pyproj.exceptions.CRSError:
        raise InputError(source, f"graph crs {graph.graph.get('crs')!r} is not a CRS",
                         "set G.graph['crs'] to an EPSG code such as 'EPSG:4326'") from None
    # the one pass over the node dict
    keys = list(graph.nodes)
    if not keys:
        raise InputError(source, "the graph has no nodes", "check the graph covers the study area")
    xs, ys = zip(*((d.get("x"), d.get("y")) for _, d in graph.nodes(data=True)))
    node_xy = np.column_stack([_to_float(xs, source, "x"), _to_float(ys, source, "y")])
    bad = ~np.isfinite(node_xy).all(axis=1)
    if bad.any():
        raise InputError(source, f"node x/y missing or not numbers on {int(bad.sum())} of {len(bad)} nodes",
                         "give every node numeric 'x' and 'y' attributes (OSMnx graphs have them)")
    # the one pass over the edge dict
    line = shapely.LineString
    rows = [(u, v, g if isinstance(g := d.get("geometry"), (line, str)) else None,  # str: WKT from GraphML
             d.get(length_attr) if length_attr else None,
             h[0] if isinstance(h := d.get("highway"), list) and h else h)  # simplified OSMnx edges: lists
            for u, v, d in graph.edges(data=True)]
    if not rows:
        raise InputError(source, "the graph has no edges", "check the graph covers the study area")
    eu, ev, egeom, elen, ehw = zip(*rows)
    index = pd.Index(keys)
    u = index.get_indexer(list(eu))
    v = index.get_indexer(list(ev))

    metric = crs if crs is not None else _metric_crs(src_crs, node_xy)
    tr = None if metric.equals(src_crs) else pyproj.Transformer.from_crs(src_crs, metric, always_xy=True)
    proj = (lambda c: c) if tr is None else (lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    xy = proj(node_xy)

    # edge polylines as flat coordinate arrays (no geometry objects until the end: creating shapely objects next
    # to a large networkx graph is dominated by garbage-collector passes): the given geometry, else u -> v
    n_e = len(rows)
    given = np.empty(n_e, dtype=object)
    given[:] = egeom
    wkt = ~shapely.is_geometry(given) & pd.notna(given)  # text left by networkx's GraphML reader
    if wkt.any():
        given[wkt] = shapely.from_wkt(given[wkt].astype(str), on_invalid="ignore")
    cg, ig = shapely.get_coordinates(given, return_index=True)
    straight = np.flatnonzero(shapely.is_missing(given) | (np.bincount(ig, minlength=n_e) < 2))
    cg, ig = cg[np.isin(ig, straight, invert=True)], ig[np.isin(ig, straight, invert=True)]
    cs = np.stack([node_xy[u[straight]], node_xy[v[straight]]], axis=1).reshape(-1, 2)
    idx = np.concatenate([ig, np.repeat(straight, 2)])
    order = np.argsort(idx, kind="stable")
    idx, coords = idx[order], proj(np.concatenate([cg, cs]))[order]
    counts = np.bincount(idx, minlength=n_e)
    starts = np.cumsum(counts) - counts
    ends = starts + counts - 1
    # orient every polyline from u to v
    first, last = coords[starts], coords[ends]
    xy_u, xy_v = xy[u], xy[v]
    flip = (np.hypot(*(first - xy_v).T) + np.hypot(*(last - xy_u).T)
            < np.hypot(*(first - xy_u).T) + np.hypot(*(last - xy_v).T))
    pos = np.arange(len(idx))
    coords = coords[np.where(flip[idx], starts[idx] + ends[idx] - pos, pos)]
    inner = idx[1:] == idx[:-1]
    d = coords[1:] - coords[:-1]
    measured = np.bincount(idx[:-1][inner], weights=np.hypot(*d[inner].T), minlength=n_e)
    length = measured
    if length_attr is not None:
        attr = pd.to_numeric(pd.Series(elen, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        length = np.where(np.isfinite(attr) & (attr >= 0), attr, measured)

    # undirected: drop the reverse copy of each two-way edge. Copies share end nodes, length and vertices (same
    # count and coordinate sums); within such a group keep the edges of the more numerous direction (u < v, or a
    # counter-clockwise ring for a self-loop), so a way mapped twice over the same nodes stays twice, as in the
    # OSM reader.
    if graph.is_directed():
        sx = np.bincount(idx, weights=coords[:, 0], minlength=n_e)
        sy = np.bincount(idx, weights=coords[:, 1], minlength=n_e)
        cross = coords[:-1, 0] * coords[1:, 1] - coords[1:, 0] * coords[:-1, 1]
        area2 = np.bincount(idx[:-1][inner], weights=cross[inner], minlength=n_e)
        fwd = (u < v) | ((u == v) & (area2 > 0))
        key = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "l": np.round(length, 2), "n": counts,
                            "sx": np.round(sx, 1), "sy": np.round(sy, 1), "f": fwd})
        grp = key.groupby(["a", "b", "l", "n", "sx", "sy"], sort=False)
        n_f = grp["f"].transform("sum").to_numpy()
        n_b = grp["f"].transform("size").to_numpy() - n_f
        keep = np.where(fwd, n_f >= n_b, n_b > n_f)
    else:
        keep = np.ones(n_e, dtype=bool)
    kept = np.flatnonzero(keep)
    new_id = np.cumsum(keep) - 1
    on = keep[idx]
    geom = shapely.linestrings(coords[on], indices=new_id[idx[on]])
    u, v, length = u[kept], v[kept], length[kept]
    hw = np.empty(n_e, dtype=object)
    hw[:] = ehw
    hw = hw[kept]

    # nodes used by an edge, renumbered compactly (isolated nodes dropped, as for OSM extracts)
    used, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    key_arr = pd.Index(keys)[used]
    node_id = (np.asarray(key_arr, dtype=np.int64) if pd.api.types.is_integer_dtype(key_arr.dtype)
               else _numeric_ids(key_arr))
    net = WalkNetwork(crs=metric, node_xy=xy[used], node_id=node_id, edge_u=inv[:len(u)].astype(np.int64),
                      edge_v=inv[len(u):].astype(np.int64), edge_length=np.asarray(length, dtype=np.float64),
                      edge_geometry=geom, source=source,
                      edge_highway=hw if not pd.isna(hw).all() else None)
    net.info["graph"] = {"nodes": len(keys), "edges": len(rows), "directed": bool(graph.is_directed()),
                         "crs": src_crs.to_string()}
    return net


def _numeric_ids(keys: pd.Index) -> np.ndarray:
    """Integer ids from node keys that are digit strings (GraphML), else 0..N-1."""
    ids = pd.to_numeric(pd.Series(keys.astype(str)), errors="coerce")
    if ids.notna().all() and ids.is_unique:
        return ids.to_numpy(dtype=np.int64)
    return np.arange(len(keys), dtype=np.int64)


def read_graphml(path: str | Path, *, use_osmnx: bool = True) -> nx.MultiDiGraph:
    """An OSMnx GraphML file as a networkx graph with numeric ``x``/``y``/``length`` and shapely ``geometry``.

    Uses :func:`osmnx.load_graphml` when OSMnx is installed (and ``use_osmnx``), else networkx's reader (the
    attributes OSMnx writes as text are then converted here).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "network file not found", "check [network] path in the config")
    try:
        import networkx as nx  # optional dependency (the online extra)
    except ImportError:
        raise InputError(path, "reading GraphML needs networkx", "pip install 'access15[online]'") from None
    try:
        try:
            import osmnx as ox
        except ImportError:
            ox = None
        ox = ox if use_osmnx else None
        if ox is not None:
            return ox.load_graphml(path)
        graph = nx.read_graphml(path)
    except Exception as exc:  # networkx/lxml raise several types for unreadable files
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(path, f"cannot read as GraphML ({first})",
                         "save the graph with osmnx.save_graphml(G, path) or networkx.write_graphml") from None
    return graph  # attributes stay text; network_from_networkx parses x/y, length and WKT geometry vectorised


def network_from_graphml(path: str | Path) -> WalkNetwork:
    """A :class:`WalkNetwork` from an OSMnx GraphML file (see :func:`network_from_networkx`)."""
    path = Path(path)
    return network_from_networkx(read_graphml(path), source=path.name)


def _node_snaps(net: WalkNetwork) -> Snapped:
    """Every node as a point on one of its edges (offset 0 at ``u``, the edge length at ``v``; no access leg)."""
    ends = np.concatenate([net.edge_u, net.edge_v])
    nodes, first = np.unique(ends, return_index=True)
    edge = np.full(net.n_nodes, -1, dtype=np.int64)
    offset = np.full(net.n_nodes, np.nan)
    e = first % net.n_edges
    edge[nodes] = e
    offset[nodes] = np.where(first < net.n_edges, 0.0, net.edge_length[e])
    return Snapped(edge, offset, np.where(edge >= 0, 0.0, np.nan), net.node_xy.copy())


def node_times(result: AnalysisResult) -> pd.DataFrame:
    """Minutes from every network node to the nearest facility of each category of ``result``.

    The same search as the pipeline's (multi-source Dijkstra from the facilities' attachment points, their
    access legs included, at the configured walking speed, up to the largest of ``max_minutes`` and the
    circles); a node is its own demand point (no access leg). ``inf`` beyond that limit or in a network piece
    without a facility. Per-class travel profiles are not applied (walking speed throughout).

    Returns
    -------
    DataFrame indexed by node index (0..N-1) with ``time_<category>`` (minutes) and ``nearest_<category>``
    (facility_id, "" where none).
    """
    cfg, net, fac = result.config, result.network, result.facilities
    speed = cfg.speed_m_per_min
    nodes = _node_snaps(net)
    fxy = shapely.get_coordinates(fac.geometry.values)
    fsnap = snap_points(net, fxy, cfg.network.max_snap_m)
    out = pd.DataFrame(index=pd.RangeIndex(net.n_nodes))
    ids = fac["facility_id"].astype(str).to_numpy()
    for cat, kcfg in cfg.categories.items():
        sel = np.flatnonzero((fac["category"] == cat).to_numpy())
        limit_min = max([cfg.max_minutes, kcfg.minutes, *kcfg.minutes_by_class.values()])
        res = nearest_facility(net, fsnap.take(sel), nodes, limit_m=limit_min * speed)
        out[f"time_{cat}"] = res.dist_m / speed
        out[f"nearest_{cat}"] = np.where(res.facility >= 0, ids[sel][np.maximum(res.facility, 0)]
                                         if len(sel) else "", "")
    return out


def to_networkx(result: AnalysisResult, *, directed: bool = True) -> nx.MultiDiGraph | nx.MultiGraph:
    """The walking network of an analysis as a networkx graph, ready for OSMnx.

    Parameters
    ----------
    result : AnalysisResult
    directed : bool
        True (default): a ``MultiDiGraph`` with both directions of every street, as OSMnx builds walking
        networks (geometry reversed on the ``v -> u`` copy); False: an undirected ``MultiGraph``.

    Returns
    -------
    networkx graph. Graph attribute ``crs`` (the analysis' metric CRS, e.g. ``"EPSG:32633"``). Nodes keyed by
    OSM node id (by index for road-line networks) with ``x``, ``y`` (metres, in ``crs``), ``time_<category>``
    (minutes to the nearest facility of that category from the node itself, see :func:`node_times`; ``inf``
    beyond the search limit) and ``nearest_<category>`` (its facility_id). Edges with ``length`` (metres),
    ``geometry`` (shapely LineString in ``crs``) and ``highway`` where known.
    """
    import networkx as nx  # optional dependency (the online extra)

    net = result.network
    times = node_times(result)
    keys = net.node_id if len(np.unique(net.node_id)) == net.n_nodes else np.arange(net.n_nodes)
    node_attrs = pd.DataFrame({"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]}).join(times)
    g = (nx.MultiDiGraph if directed else nx.MultiGraph)(crs=net.crs.to_string(), created_with="access15",
                                                         source=net.source)
    g.add_nodes_from(zip(keys.tolist(), node_attrs.to_dict("records")))
    hw = net.edge_highway if net.edge_highway is not None else np.full(net.n_edges, None, dtype=object)
    ku, kv = keys[net.edge_u].tolist(), keys[net.edge_v].tolist()
    lengths = net.edge_length.tolist()
    g.add_edges_from((a, b, {"length": ln, "geometry": ge, **({"highway": h} if h is not None else {})})
                     for a, b, ln, ge, h in zip(ku, kv, lengths, net.edge_geometry, hw))
    if directed:
        back = shapely.reverse(net.edge_geometry)
        loop = net.edge_u == net.edge_v
        g.add_edges_from((b, a, {"length": ln, "geometry": ge, **({"highway": h} if h is not None else {})})
                         for a, b, ln, ge, h, lp in zip(ku, kv, lengths, back, hw, loop) if not lp)
    return g
