"""The walkable-way reader (``io.osm.read_walk_ways``) against a plain per-way pyosmium reading.

``read_walk_ways`` lets libosmium write the ways as OPL text and parses it in blocks with pyarrow, so no way goes
through Python one by one. ``reference_read`` below is the straightforward reading it replaced (every way and
node through pyosmium's Python objects); both must give exactly the same ``WayArrays``: the same ways in the same
order, node ids aligned with their coordinates, the same dtypes. Real extracts: the bundled ones (Helsinki has
ways whose nodes lie outside the extract, Tsinghua escaped Chinese text in its tags), the hand-written crossing /
kerb fixture, and a small .osm written here for the edge cases of the tag text and of locations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pytest

from access15.io.osm import CROSSING_HIGHWAY, NODE_TAGS, WALK_TAGS, WayArrays, load_tag_rules, read_walk_ways

ROOT = Path(__file__).resolve().parents[1]
OSM = ROOT / "data" / "osm"
CROSSINGS = ROOT / "tests" / "data" / "walk_crossings.osm"


def reference_read(path, rules=None, bbox=None) -> WayArrays:
    """Every way and tagged node as a pyosmium object, its node list read one node at a time."""
    rules = rules or load_tag_rules()
    ways, node_ids, node_extra = [], [], []
    fp = (osmium.FileProcessor(str(path)).with_locations()
          .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY | osmium.osm.NODE))
          .with_filter(osmium.filter.KeyFilter(*NODE_TAGS)))
    for obj in fp:
        t = obj.tags
        if obj.is_node():
            if t.get("highway") in CROSSING_HIGHWAY or "crossing" in t or "kerb" in t:
                node_ids.append(obj.id)
                node_extra.append([t.get(k) for k in NODE_TAGS])
            continue
        if not rules.is_walkable(t):
            continue
        nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        if len(nodes) < 2:
            continue
        xs, ys = [n[1] for n in nodes], [n[2] for n in nodes]
        if bbox is not None and (max(xs) < bbox[0] or min(xs) > bbox[2] or max(ys) < bbox[1] or min(ys) > bbox[3]):
            continue
        ways.append((obj.id, nodes, t.get("highway"), [t.get(k) for k in WALK_TAGS]))
    order = np.argsort(np.array(node_ids, dtype=np.int64), kind="stable")
    flat = [n for w in ways for n in w[1]]
    return WayArrays(
        node_id=np.array([n[0] for n in flat], dtype=np.int64),
        lonlat=np.array([(n[1], n[2]) for n in flat], dtype=np.float64).reshape(-1, 2),
        offsets=np.cumsum([0] + [len(w[1]) for w in ways]).astype(np.int64),
        way_id=np.array([w[0] for w in ways], dtype=np.int64),
        highway=np.array([w[2] for w in ways], dtype=object),
        tags={k: np.array([w[3][i] for w in ways], dtype=object) for i, k in enumerate(WALK_TAGS)},
        tagged_node_id=np.array(node_ids, dtype=np.int64)[order],
        node_tags={k: np.array([e[i] for e in node_extra], dtype=object)[order] for i, k in enumerate(NODE_TAGS)},
    )


def assert_same(got: WayArrays, want: WayArrays) -> None:
    for name in ("node_id", "lonlat", "offsets", "way_id", "tagged_node_id"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert np.array_equal(g, w), name  # exact: the same doubles, not close ones
    assert got.highway.dtype == object and got.highway.tolist() == want.highway.tolist()
    for field in ("tags", "node_tags"):
        g, w = getattr(got, field), getattr(want, field)
        assert list(g) == list(w), field
        for k in w:
            assert g[k].dtype == object and g[k].tolist() == w[k].tolist(), (field, k)


def quarter(path) -> tuple[float, float, float, float]:
    ll = reference_read(path).lonlat
    (x0, y0), (x1, y1) = ll.min(axis=0), ll.max(axis=0)
    return x0, y0, (x0 + x1) / 2, (y0 + y1) / 2


@pytest.mark.parametrize("path", [OSM / "porto_alegre.osm.pbf", OSM / "helsinki.osm.pbf",
                                  OSM / "beijing_haidian_tsinghua.osm.pbf", OSM / "west_oakland.osm.bz2",
                                  CROSSINGS], ids=lambda p: p.name)
def test_same_arrays_as_the_per_way_reading(path):
    want = reference_read(path)
    assert len(want.way_id) > 0
    assert_same(read_walk_ways(path), want)


@pytest.mark.parametrize("path", [OSM / "porto_alegre.osm.pbf", OSM / "helsinki.osm.pbf", CROSSINGS],
                         ids=lambda p: p.name)
def test_same_arrays_with_a_bbox(path):
    box = quarter(path)
    want = reference_read(path, bbox=box)
    assert 0 < len(want.way_id) < len(reference_read(path).way_id)
    assert_same(read_walk_ways(path, bbox=box), want)


def test_crossing_and_kerb_nodes():
    got = read_walk_ways(CROSSINGS)
    assert got.tagged_node_id.tolist() == [2, 4, 22, 32, 34, 42]
    assert got.node_tags["kerb"].tolist() == [None, None, None, "raised", "lowered", "raised"]
    assert_same(got, reference_read(CROSSINGS))


def test_missing_nodes_dropped_and_ids_stay_with_their_coordinates():
    """Helsinki is cut out of a larger extract: some way nodes have no location and are dropped."""
    path = OSM / "helsinki.osm.pbf"
    got = read_walk_ways(path)
    refs = sum(len(w.nodes) for w in osmium.FileProcessor(str(path), osmium.osm.WAY)
               .with_filter(osmium.filter.KeyFilter("highway")) if w.id in set(got.way_id.tolist()))
    assert len(got.node_id) < refs  # some nodes had no location
    loc = {n.id: (n.location.lon, n.location.lat) for n in osmium.FileProcessor(str(path), osmium.osm.NODE)}
    assert all(loc[i] == (x, y) for i, (x, y) in zip(got.node_id.tolist(), got.lonlat.tolist()))
    assert np.all(np.diff(got.offsets) >= 2) and len(set(got.way_id.tolist())) == len(got.way_id)


EDGE_CASES = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test_osm_reader">
  <node id="1" lat="30.0" lon="120.0"/>
  <node id="2" lat="30.001" lon="120.001"><tag k="highway" v="crossing"/><tag k="crossing" v="zebra, painted"/></node>
  <node id="3" lat="30.002" lon="120.002"><tag k="kerb" v="%raised%"/></node>
  <node id="4" lat="95.0" lon="120.003"/>
  <node id="5" lat="30.004" lon="180.0"/>
  <node id="6" lat="-90.0" lon="-180.0"/>
  <node id="-7" lat="30.005" lon="120.005"/>
  <node id="8" lat="30.0000001" lon="120.0000001"><tag k="highway" v="bus_stop"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="footway"/><tag k="incline" v="5%"/><tag k="wheelchair" v="limited, =see note"/>
    <tag k="name" v="步行街 a=b,c"/></way>
  <way id="11"><nd ref="1"/><nd ref="4"/><nd ref="99"/><tag k="highway" v="path"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="99"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="ramp:stroller" v="yes"/><tag k="step_count" v="12"/></way>
  <way id="13"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/><tag k="foot" v="yes"/></way>
  <way id="14"><nd ref="1"/><nd ref="2"/><tag k="highway" v="service"/><tag k="access" v="private"/></way>
  <way id="15"><nd ref="1"/><nd ref="2"/><tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
  <way id="16"><nd ref="2"/><nd ref="-7"/><nd ref="8"/><tag k="highway" v="living_street"/>
    <tag k="ramp" v="yes"/><tag k="step_count" v=""/></way>
  <way id="17"><nd ref="1"/><tag k="highway" v="footway"/></way>
  <way id="18"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>
  <way id="19"><nd ref="8"/><nd ref="1"/><nd ref="8"/><tag k="highway" v="trunk"/><tag k="motorroad" v="yes"/></way>
  <way id="20"><nd ref="8"/><nd ref="1"/><tag k="kerb" v="raised"/></way>
</osm>
"""


def test_tag_text_and_location_edge_cases(tmp_path):
    """Escaped text in tag values (commas, '=', '%', Chinese), empty values, missing and out-of-range
    locations (lat 95: written on a way by libosmium's OPL writer it aborts the process), a negative node id,
    one-node ways and the walk filter's cases."""
    path = tmp_path / "edge.osm"
    path.write_text(EDGE_CASES, encoding="utf-8")
    want = reference_read(path)
    got = read_walk_ways(path)
    assert_same(got, want)
    assert got.way_id.tolist() == [10, 12, 16]  # motorway, private, area, motorroad, one node: out
    assert got.tags["wheelchair"][0] == "limited, =see note" and got.tags["incline"][0] == "5%"
    assert got.node_id[got.offsets[1]:got.offsets[2]].tolist() == [3, 5, 6]  # 4 out of range, 99 missing
    assert got.tags["step_count"].tolist() == [None, "12", ""]
    assert -7 not in got.node_id  # no location for negative ids, as in pyosmium's location index
    assert got.node_tags["kerb"].tolist() == [None, "%raised%"]
    box = (120.0045, 30.0, 121.0, 31.0)
    assert_same(read_walk_ways(path, bbox=box), reference_read(path, bbox=box))


def test_no_walkable_way_gives_empty_arrays(tmp_path):
    path = tmp_path / "none.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/>'
                    '<node id="2" lat="1" lon="1.1"/><way id="1"><nd ref="1"/><nd ref="2"/>'
                    '<tag k="building" v="yes"/></way></osm>', encoding="utf-8")
    assert_same(read_walk_ways(path), reference_read(path))


def test_nodes_after_their_ways_are_found(tmp_path):
    """The one intended difference from a location-index reading: a file listing its ways before their nodes
    (e.g. two Overpass outputs appended) keeps its ways; ``with_locations`` saw no locations there."""
    path = tmp_path / "ways_first.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6"><way id="1"><nd ref="1"/><nd ref="2"/>'
                    '<tag k="highway" v="footway"/></way><node id="1" lat="1" lon="1"/>'
                    '<node id="2" lat="1" lon="1.1"/></osm>', encoding="utf-8")
    assert len(reference_read(path).way_id) == 0
    got = read_walk_ways(path)
    assert got.way_id.tolist() == [1] and got.lonlat.tolist() == [[1.0, 1.0], [1.1, 1.0]]
