"""The walking network built from real OSM extracts and from road centre-line layers."""

from __future__ import annotations

import bz2

import geopandas as gpd
import numpy as np
import pytest
import shapely

from access15.errors import InputError
from access15.io.osm import load_tag_rules, read_osm_facilities
from access15.network import load_network, network_from_lines

from .conftest import OSM


def test_porto_alegre_network_is_one_big_component(porto_alegre_network):
    net = porto_alegre_network
    assert net.crs.to_epsg() == 32722  # UTM 22S, picked from the data
    assert net.n_edges > 20_000 and net.n_nodes > 15_000
    assert (net.edge_length > 0).all()
    # lengths are measured along the stored geometry, in metres
    np.testing.assert_allclose(net.edge_length, shapely.length(net.edge_geometry), rtol=1e-9)
    # geometry runs from u to v
    start = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    np.testing.assert_allclose(start, net.node_xy[net.edge_u], atol=1e-6)
    assert (net.component == 0).mean() > 0.95


def test_graph_is_symmetric_and_keeps_shortest_parallel_edge(helsinki_network):
    g = helsinki_network.graph
    assert (g != g.T).nnz == 0
    net = helsinki_network
    keep = net.edge_u != net.edge_v
    a, b = np.minimum(net.edge_u[keep], net.edge_v[keep]), np.maximum(net.edge_u[keep], net.edge_v[keep])
    w = net.edge_length[keep]
    order = np.lexsort((w, b, a))
    first = np.r_[True, (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])]
    np.testing.assert_allclose(np.asarray(g[a[order][first], b[order][first]]).ravel(),
                               np.maximum(w[order][first], 1e-9))


WALK_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="60.0000" lon="24.0000"/><node id="2" lat="60.0000" lon="24.0010"/>
 <node id="3" lat="60.0000" lon="24.0020"/><node id="4" lat="60.0010" lon="24.0010"/>
 <node id="5" lat="60.0020" lon="24.0010"/><node id="6" lat="59.9990" lon="24.0010"/>
 <node id="7" lat="59.9980" lon="24.0010"/><node id="8" lat="60.0010" lon="24.0020"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
 <way id="11"><nd ref="2"/><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
 <way id="12"><nd ref="2"/><nd ref="6"/><tag k="highway" v="motorway"/></way>
 <way id="13"><nd ref="6"/><nd ref="7"/><tag k="highway" v="service"/><tag k="access" v="private"/></way>
 <way id="14"><nd ref="3"/><nd ref="8"/><tag k="highway" v="primary"/><tag k="foot" v="no"/></way>
 <way id="15"><nd ref="4"/><nd ref="8"/><tag k="highway" v="service"/><tag k="access" v="private"/><tag k="foot" v="yes"/></way>
 <way id="16"><nd ref="1"/><nd ref="3"/><tag k="building" v="yes"/></way>
</osm>
"""


def test_walk_filter_and_topology(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(WALK_XML)
    net = load_network(path)
    # ways 10 (split at node 2), 11 (split at 4) and 15 are walkable; motorway, private, foot=no and building are not
    assert set(net.node_id.tolist()) == {1, 2, 3, 4, 5, 8}
    assert net.n_edges == 5
    # walking ignores oneway: the graph is symmetric
    assert (net.graph != net.graph.T).nnz == 0


def test_reads_bzip2_osm_xml():
    net = load_network(OSM / "west_oakland.osm.bz2")
    assert net.n_edges > 20 and net.crs.to_epsg() == 32610


def test_road_line_layer_gives_the_same_network(helsinki_network, tmp_path):
    """A planning bureau's centre-line layer (here: the OSM edges exported as lines) rebuilds the same graph."""
    lines = helsinki_network.edges_gdf().to_crs(4326)
    path = tmp_path / "roads.gpkg"
    lines[["geometry"]].to_file(path, layer="roads")
    net = load_network(path, tolerance_m=0.01)
    assert net.n_nodes == helsinki_network.n_nodes
    # OSM keeps two distinct nodes at one spot apart; a geometry-only layer joins them (one extra split here)
    assert abs(net.n_edges - helsinki_network.n_edges) <= 2
    assert net.edge_length.sum() == pytest.approx(helsinki_network.edge_length.sum(), abs=1e-3)


def test_road_lines_joined_within_tolerance():
    # two lines whose ends are 0.4 m apart join into one network; 5 m apart they do not
    base = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0)]),
                                      shapely.LineString([(100.4, 0), (200, 0)])], crs=32650)
    near = network_from_lines(base.assign(geometry=base.geometry.translate(500000, 3300000)), tolerance_m=1.0)
    assert near.n_nodes == 3
    far = network_from_lines(base.assign(geometry=base.geometry.translate(500000, 3300000)), tolerance_m=0.1)
    assert far.n_nodes == 4


def test_osm_facilities_from_tags():
    fac = read_osm_facilities(OSM / "beijing_haidian_tsinghua.osm.pbf", categories=["childcare", "clinic", "fitness"])
    counts = fac["category"].value_counts()
    assert counts["childcare"] >= 1 and counts["clinic"] >= 2 and counts["fitness"] >= 20
    assert (fac.geom_type == "Point").all() and fac.crs.to_epsg() == 4326
    # polygons become a point inside the polygon: Tsinghua's pitches are ways
    assert (fac["osm_type"] == "way").any()
    assert fac["name"].str.contains("[\u4e00-\u9fff]", regex=True).any()  # Chinese names kept


def test_tag_mapping_is_data(tmp_path):
    custom = tmp_path / "tags.toml"
    custom.write_text('[walk]\nexclude_highway = []\n[categories]\nlibrary = [ { amenity = ["library"] } ]\n')
    rules = load_tag_rules(custom)
    fac = read_osm_facilities(OSM / "helsinki.osm.pbf", rules, ["library"])
    assert len(fac) >= 5 and set(fac["category"]) == {"library"}


@pytest.mark.parametrize("content", [b"", b"this is not an osm file at all" * 10])
def test_unreadable_osm_is_one_line_error(tmp_path, content):
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        load_network(path)
    assert "broken.osm.pbf" in str(exc.value) and "\n" not in str(exc.value)


def test_truncated_pbf_is_one_line_error(tmp_path):
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes((OSM / "helsinki.osm.pbf").read_bytes()[:50_000])
    with pytest.raises(InputError, match="cut.osm.pbf"):
        load_network(path)


def test_no_walkable_ways(tmp_path):
    path = tmp_path / "nowalk.osm.bz2"
    xml = WALK_XML.replace('k="highway" v="residential"', 'k="building" v="yes"').replace(
        'k="highway" v="footway"', 'k="building" v="yes"').replace('<tag k="foot" v="yes"/>', "")
    path.write_bytes(bz2.compress(xml.encode()))
    with pytest.raises(InputError, match="no walkable ways"):
        load_network(path)


def test_childcare_from_kindergarten_tags_in_a_whole_analysis(tmp_path):
    """Aguascalientes (Mexico): 11 kindergartens mapped as nodes drive a childcare circle."""
    from access15 import analyze
    from access15.config import config_from_dict

    path = OSM / "aguascalientes.osm.pbf"
    fac = read_osm_facilities(path, categories=["childcare"])
    assert len(fac) == 11 and set(fac["osm_type"]) == {"node"}
    cfg = config_from_dict({"network": {"path": str(path)}, "categories": {"childcare": {}},
                            "facilities": [{"path": "osm"}]}, base_dir=tmp_path)
    r = analyze(cfg)
    row = r.coverage.set_index("category").loc["childcare"]
    assert row["facilities"] == 11 and 0 < row["share_covered"] < 1


def test_walkable_way_filter_follows_osmnx_walk_on_trunk_links_and_motorroads():
    """trunk_link is walked like trunk (as in OSMnx's walk network; it cut a 52-edge island out of a real
    extract when it was excluded); motorroad=yes closes a way unless foot allows it."""
    from access15.io.osm import load_tag_rules

    rules = load_tag_rules()
    assert rules.is_walkable({"highway": "trunk_link"}) and rules.is_walkable({"highway": "trunk"})
    assert not rules.is_walkable({"highway": "trunk", "motorroad": "yes"})
    assert rules.is_walkable({"highway": "trunk", "motorroad": "yes", "foot": "yes"})
    assert not rules.is_walkable({"highway": "motorway"}) and not rules.is_walkable({"highway": "motorway_link"})
    assert rules.is_walkable({"highway": "cycleway"})  # kept: see docs/inputs.md, "Which ways are walked"
