"""networkx / OSMnx graphs in and out (access15.graphs), against OSMnx itself on real bundled extracts.

OSMnx builds its graph offline from OSM XML converted with pyosmium from the bundled .pbf (tests/overpass_lite.py).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pytest

from access15 import analyze
from access15.config import config_from_dict
from access15.errors import InputError
from access15.graphs import network_from_graphml, network_from_networkx, to_networkx
from access15.io.osm import load_tag_rules

sys.path.insert(0, str(Path(__file__).parent))
from overpass_lite import extract_elements, select_ways, tag_filter, write_osm_xml

OSM = Path(__file__).resolve().parents[1] / "data" / "osm"
CATS = ["clinic", "fitness", "culture", "convenience"]


def _cfg(pbf: Path, **demand):
    return config_from_dict({"network": {"path": str(pbf)}, "categories": {c: {} for c in CATS},
                             "facilities": [{"path": "osm"}], "demand": demand or {"kind": "grid"}}, base_dir=".")


def _shares(result) -> dict[str, float]:
    t = result.coverage
    return dict(zip(t.iloc[:, 0], t["share_covered"]))


@pytest.fixture(scope="module")
def helsinki_elements():
    return extract_elements(OSM / "helsinki.osm.pbf")


@pytest.fixture(scope="module")
def helsinki_osmnx(helsinki_elements, tmp_path_factory):
    """OSMnx's graph of the Helsinki extract, from XML holding the ways access15's walk filter keeps."""
    xml = write_osm_xml(select_ways(helsinki_elements, load_tag_rules().is_walkable),
                        tmp_path_factory.mktemp("xml") / "helsinki_walk.osm")
    return ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)


@pytest.fixture(scope="module")
def helsinki_reader_result():
    return analyze(_cfg(OSM / "helsinki.osm.pbf"))


def test_osmnx_graph_gives_the_readers_coverage(helsinki_osmnx, helsinki_reader_result):
    """Same ways, two builders: coverage agrees within 1 percentage point per category (measured: identical).

    The networks differ only in ways that do not change a walk: OSMnx merges through every degree-2 node
    (fewer nodes), measures great-circle lengths where access15 measures the polyline in UTM (about 0.25 % here),
    and its simplification drops rings that touch no other way (measured: 92.66 km against 93.08 km in all).
    """
    ours = helsinki_reader_result
    theirs = analyze(_cfg(OSM / "helsinki.osm.pbf"), network=helsinki_osmnx)
    assert theirs.network.crs == ours.network.crs
    assert len(theirs.demand) == len(ours.demand)
    a, b = _shares(ours), _shares(theirs)
    for cat in [*CATS, "combined"]:
        assert abs(a[cat] - b[cat]) <= 0.01, (cat, a[cat], b[cat])
    # the same streets: total length within 1.5 %, and every OSMnx edge lies on an access15 edge
    assert theirs.network.edge_length.sum() == pytest.approx(ours.network.edge_length.sum(), rel=0.015)
    # per demand point the times agree closely where both are finite
    t0, t1 = ours.demand["time_clinic"].to_numpy(), theirs.demand["time_clinic"].to_numpy()
    both = np.isfinite(t0) & np.isfinite(t1)
    assert both.mean() > 0.9
    assert np.median(np.abs(t0[both] - t1[both])) < 0.1  # minutes


def test_osmnx_walk_filter_differs_only_by_tagging(helsinki_elements, helsinki_reader_result, tmp_path):
    """With OSMnx's own ``network_type="walk"`` filter the graph loses shared foot/cycle paths
    (highway=cycleway + foot=designated/yes) and platforms, which access15 walks on: coverage can only drop
    (measured: clinic 85.2 % -> 77.8 % of the 100 m cells). The test pins that explanation."""
    walk = tag_filter(ox._overpass._get_network_filter("walk"))
    rules = load_tag_rules()
    only_ours = [w["tags"] for w in helsinki_elements["ways"] if rules.is_walkable(w["tags"]) and not walk(w["tags"])]
    explained = [t for t in only_ours if t.get("highway") in ("cycleway", "platform")]
    assert len(explained) >= 0.95 * len(only_ours) and len(only_ours) > 50
    xml = write_osm_xml(select_ways(helsinki_elements, walk), tmp_path / "walk.osm")
    g = ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)
    theirs = analyze(_cfg(OSM / "helsinki.osm.pbf"), network=g)
    a, b = _shares(helsinki_reader_result), _shares(theirs)
    assert all(b[c] <= a[c] + 0.01 for c in CATS)
    assert a["clinic"] - b["clinic"] > 0.02  # the footpaths matter


@pytest.fixture(scope="module")
def monaco_xml(tmp_path_factory):
    el = extract_elements(OSM / "monaco.osm.pbf")
    return write_osm_xml(select_ways(el, load_tag_rules().is_walkable), tmp_path_factory.mktemp("xml") / "monaco.osm")


def test_graph_variants_give_the_same_network(monaco_xml):
    """Projected, unsimplified, undirected and plain networkx without geometry: the same walking network
    (total length, shortest paths) as the OSMnx graph they came from."""
    xml = monaco_xml
    g = ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)
    base = network_from_networkx(g)
    assert base.crs.utm_zone is not None
    total = base.edge_length.sum()
    proj = network_from_networkx(ox.project_graph(g))
    assert proj.crs == base.crs and proj.edge_length.sum() == pytest.approx(total)
    np.testing.assert_allclose(np.sort(shapely_lengths(proj)), np.sort(shapely_lengths(base)), atol=0.01)
    raw = network_from_networkx(ox.graph_from_xml(xml, bidirectional=True, simplify=False, retain_all=True))
    assert raw.n_nodes > base.n_nodes and raw.edge_length.sum() == pytest.approx(total, rel=1e-6)
    und = network_from_networkx(ox.convert.to_undirected(g))
    assert und.n_edges == base.n_edges and und.edge_length.sum() == pytest.approx(total)
    # plain networkx: no geometry, no length -> straight lines measured in UTM (shorter than the curves)
    plain = nx.Graph(crs="EPSG:4326")
    plain.add_nodes_from((n, {"x": d["x"], "y": d["y"]}) for n, d in g.nodes(data=True))
    plain.add_edges_from((u, v) for u, v in g.edges())
    pn = network_from_networkx(plain)
    assert 0.8 * total < pn.edge_length.sum() <= total * 1.003
    # one-ways are ignored: every street is walked both ways (symmetric routing graph)
    assert (base.graph != base.graph.T).nnz == 0
    # shortest paths equal those of networkx over the OSMnx lengths (undirected)
    from scipy.sparse import csgraph

    src = int(np.argmax(np.bincount(base.edge_u, minlength=base.n_nodes)))
    ours = csgraph.dijkstra(base.graph, indices=src)
    nid = base.node_id
    ref = nx.single_source_dijkstra_path_length(ox.convert.to_undirected(g), int(nid[src]), weight="length")
    got = {int(nid[i]): ours[i] for i in range(base.n_nodes) if np.isfinite(ours[i])}
    assert set(got) == set(ref)
    assert max(abs(got[k] - ref[k]) for k in ref) < 1e-6


def shapely_lengths(net):
    import shapely

    return shapely.length(net.edge_geometry)


def test_bad_graphs_give_one_line_errors(tmp_path):
    g = nx.MultiDiGraph()
    g.add_edge(1, 2)
    with pytest.raises(InputError, match="no 'crs' graph attribute"):
        network_from_networkx(g)
    g.graph["crs"] = "EPSG:4326"
    with pytest.raises(InputError, match="x/y missing or not numbers on 2 of 2 nodes"):
        network_from_networkx(g)
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><oops")
    with pytest.raises(InputError, match="cannot read as GraphML") as e:
        network_from_graphml(bad)
    assert "\n" not in str(e.value)


def test_to_networkx_carries_node_times(tmp_path):
    """Graphs out: node times equal the pipeline's times for node demand; the graph works in OSMnx."""
    res = analyze(_cfg(OSM / "monaco.osm.pbf", kind="nodes"))
    g = to_networkx(res)
    net = res.network
    assert isinstance(g, nx.MultiDiGraph) and g.graph["crs"] == net.crs.to_string()
    assert g.number_of_nodes() == net.n_nodes
    assert g.number_of_edges() == 2 * net.n_edges - int((net.edge_u == net.edge_v).sum())
    *_, d = next(iter(g.edges(data=True)))
    assert d["length"] > 0 and d["geometry"].length == pytest.approx(d["length"], rel=1e-6)
    dem = res.demand
    main = net.component[dem["node"].to_numpy()] == 0
    ids = net.node_id[dem["node"].to_numpy()]
    for cat in CATS:
        got = np.array([g.nodes[int(i)][f"time_{cat}"] for i in ids])
        want = dem[f"time_{cat}"].to_numpy()
        np.testing.assert_allclose(got[main], want[main], rtol=1e-9, atol=1e-9)
    # continue in OSMnx: GeoDataFrames and a route by length
    nodes, edges = ox.graph_to_gdfs(g)
    assert nodes.crs == net.crs and "time_clinic" in nodes.columns and len(edges) == g.number_of_edges()
    a, b = nodes.index[0], nodes.index[-1]
    route = ox.shortest_path(g, a, b, weight="length")
    assert route is None or route[0] == a
    # saved by OSMnx, read back as [network] path = "*.graphml": the same network
    ox.save_graphml(g, tmp_path / "out.graphml")
    back = network_from_graphml(tmp_path / "out.graphml")
    assert back.n_edges == net.n_edges and back.edge_length.sum() == pytest.approx(net.edge_length.sum())
    assert back.crs == net.crs
    from access15.graphs import read_graphml  # without OSMnx: networkx's reader and our attribute conversion

    plain = network_from_networkx(read_graphml(tmp_path / "out.graphml", use_osmnx=False))
    assert plain.n_edges == back.n_edges and plain.edge_length.sum() == pytest.approx(back.edge_length.sum())
    np.testing.assert_array_equal(np.sort(plain.node_id), np.sort(back.node_id))
    assert not math.isnan(nodes["time_clinic"].iloc[0])
