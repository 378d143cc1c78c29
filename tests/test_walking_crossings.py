"""Waiting at crossings of major roads and kerbs (issue 15), on a hand-written OSM file
(tests/data/walk_crossings.osm: a primary road with a signalised and a zebra crossing, a signalised junction of
two residential streets, footways with raised and lowered kerbs) and on the real Porto Alegre extract."""

from __future__ import annotations

import dataclasses

import numpy as np
import osmium
import pytest

from access15.config import load_config
from access15.network import load_network
from access15.presets import load_walk_profiles
from access15.routing import nearest_facility
from access15.snap import snap_points
from access15.walking import DEFAULT_MODEL, crossing_waits, edge_rates, walkers

from .conftest import DEMO_CONFIG, OSM, ROOT

TINY = ROOT / "tests" / "data" / "walk_crossings.osm"
P = load_walk_profiles()


@pytest.fixture(scope="module")
def tiny():
    return load_network(TINY)


def _seconds(net, rates, profile, start: int, goal: int) -> float:
    """Seconds for ``profile`` to walk from OSM node ``start`` to OSM node ``goal`` (points at the nodes)."""
    xy = net.node_xy[[int(np.flatnonzero(net.node_id == i)[0]) for i in (start, goal)]]
    home, fac = snap_points(net, xy[:1], 5.0, prefer_main=False), snap_points(net, xy[1:], 5.0, prefer_main=False)
    return float(nearest_facility(net, fac, home, rates=rates).dist_m[0]) / profile.m_per_min * 60


def _metres(net, *pairs) -> float:
    """Length (metres) of the edges joining the given (OSM id, OSM id) node pairs."""
    idx = {int(o): i for i, o in enumerate(net.node_id)}
    total = 0.0
    for a, b in pairs:
        e = np.flatnonzero(((net.edge_u == idx[a]) & (net.edge_v == idx[b]))
                           | ((net.edge_u == idx[b]) & (net.edge_v == idx[a])))
        total += float(net.edge_length[e].min())
    return total


def test_crossings_and_kerbs_are_read_from_node_tags(tiny):
    """The signalised and the zebra crossing, and the signalised minor junction, are graph nodes with their
    kind; kerbs are kept on the edge whose way passes them (the raised one wins over none)."""
    kind = dict(zip(tiny.node_id.tolist(), tiny.node_crossing.tolist()))
    assert (kind[2], kind[4], kind[22]) == ("traffic_signals", "uncontrolled", "traffic_signals")
    assert sum(k is not None for k in kind.values()) == 3
    idx = {int(o): i for i, o in enumerate(tiny.node_id)}
    kerb = sorted((int(tiny.node_id[u]), int(tiny.node_id[v]), k)
                  for u, v, k in zip(tiny.edge_u, tiny.edge_v, tiny.edge_kerb) if k is not None)
    assert kerb == [(31, 33, "lowered"), (31, 33, "raised"), (41, 43, "raised")]
    assert {31, 33} <= set(idx)


@pytest.mark.parametrize("name", list(P))
def test_a_path_over_a_crossing_is_longer_by_exactly_the_wait(tiny, name):
    """With waits on, crossing the primary road costs exactly the profile's wait (signalised at node 2, zebra
    at node 4), in both directions; walking along the primary or through the signalised junction of two
    residential streets waits nothing; with waits off the time is the flat walk."""
    p = P[name]
    off, on = edge_rates(tiny, p), edge_rates(tiny, p, waits=True)
    for (a, b), mid, wait in (((11, 12), 2, p.wait_signals_s), ((13, 14), 4, p.wait_uncontrolled_s)):
        flat = _metres(tiny, (a, mid), (mid, b)) / p.m_per_min * 60
        for s, g in ((a, b), (b, a)):
            assert _seconds(tiny, off, p, s, g) == pytest.approx(flat, rel=1e-12)
            assert _seconds(tiny, on, p, s, g) - _seconds(tiny, off, p, s, g) == pytest.approx(wait, abs=1e-9)
    assert wait > 0
    for s, g in ((1, 5), (5, 1), (24, 25), (21, 23)):
        assert _seconds(tiny, on, p, s, g) == _seconds(tiny, off, p, s, g)
    # the stated rule: entering the crossing node from the footway and turning along the road also waits
    assert _seconds(tiny, on, p, 11, 1) - _seconds(tiny, off, p, 11, 1) == pytest.approx(p.wait_signals_s, abs=1e-9)


def test_raised_kerb_blocks_the_wheelchair_only(tiny):
    """A raised kerb on the only way (41-42-43) leaves the wheelchair no route; on 31-33 it takes the way round
    over the lowered kerb; walkers and the pram walk the way with the kerb as before."""
    w = P["wheelchair"]
    rates = edge_rates(tiny, w)
    assert np.isinf(_seconds(tiny, rates, w, 41, 43))
    detour = float(tiny.edge_length[tiny.edge_kerb == "lowered"][0])
    assert detour > _metres(tiny, (31, 33))
    assert _seconds(tiny, rates, w, 31, 33) == pytest.approx(detour / w.m_per_min * 60, abs=1e-6)
    no_kerb = dataclasses.replace(w, no_kerbs=[])
    assert np.isfinite(_seconds(tiny, edge_rates(tiny, no_kerb), w, 41, 43))
    for name in ("walk", "elderly", "pram"):
        p = P[name]
        r = edge_rates(tiny, p)
        assert (r.fwd == 1).all() and (r.bwd == 1).all()
        assert _seconds(tiny, r, p, 41, 43) == pytest.approx(_metres(tiny, (41, 43)) / p.m_per_min * 60, rel=1e-12)


def _osm_crossing_ids(path) -> tuple[set[int], set[int]]:
    """(signalised, other crossing) OSM node ids read directly with pyosmium."""
    sig, other = set(), set()
    for n in osmium.FileProcessor(str(path)).with_filter(osmium.filter.EntityFilter(osmium.osm.NODE)):
        hw, cr = n.tags.get("highway"), n.tags.get("crossing")
        if cr == "no":
            continue
        if "traffic_signals" in (hw, cr):
            sig.add(n.id)
        elif hw == "crossing" or cr is not None:
            other.add(n.id)
    return sig, other


def test_waits_on_the_real_extract(porto_alegre_network):
    """Porto Alegre: the crossing kinds of the graph nodes are the OSM tags; every wait is paid on a minor way
    entering a tagged node of a major road, at the profile's seconds; waits never lower a cost."""
    net = porto_alegre_network
    sig, other = _osm_crossing_ids(OSM / "porto_alegre.osm.pbf")
    ids = net.node_id.tolist()
    np.testing.assert_array_equal(net.node_crossing == "traffic_signals", [i in sig for i in ids])
    np.testing.assert_array_equal(net.node_crossing == "uncontrolled", [i in other for i in ids])
    p = P["walk"]
    wf, wb = crossing_waits(net, p)
    major = np.isin(net.edge_highway.astype(str), p.major_roads)
    on_major = np.zeros(net.n_nodes, bool)
    on_major[net.edge_u[major]] = on_major[net.edge_v[major]] = True
    for wait, node in ((wf, net.edge_v), (wb, net.edge_u)):
        paid = wait > 0
        assert paid.sum() > 100
        assert not (paid & major).any() and on_major[node[paid]].all()
        assert set(np.unique(wait[paid])) == {p.wait_signals_s, p.wait_uncontrolled_s}
        np.testing.assert_array_equal(wait[paid] == p.wait_signals_s, np.isin(net.node_id[node[paid]], list(sig)))
    off, on = edge_rates(net, p), edge_rates(net, p, waits=True)
    assert (on.fwd >= off.fwd).all() and (on.bwd >= off.bwd).all()
    np.testing.assert_array_equal(on.fwd[wf == 0], off.fwd[wf == 0])
    np.testing.assert_allclose(((on.fwd - off.fwd) * net.edge_length / p.m_per_min * 60)[wf > 0], wf[wf > 0],
                               rtol=1e-9)


def test_waits_in_the_demo_are_off_by_default_and_never_shorten(porto_alegre_network, demo_result):
    """The demo's walker has no waits unless ``[network] crossing_waits = true``; with them every time is at
    least today's, some are longer; with zero seconds of waiting every rate is exactly 1."""
    from access15 import analyze

    cfg = load_config(DEMO_CONFIG)
    assert cfg.network.crossing_waits is False
    assert all(w.rates is None for w in walkers(cfg, porto_alegre_network).values())
    cfg.network.crossing_waits = True
    res = analyze(cfg, network=porto_alegre_network)
    labels = res.coverage["profile"][res.coverage["profile"] != ""]
    assert len(labels) == len(cfg.categories) and labels.str.endswith("crossing waits").all()
    for cat in cfg.categories:
        new, old = res.demand[f"time_{cat}"].to_numpy(), demo_result.demand[f"time_{cat}"].to_numpy()
        ok = np.isfinite(old)
        assert (np.nan_to_num(new[ok], posinf=np.inf) >= old[ok] - 1e-9).all()
        assert (new[ok] > old[ok] + 0.1).mean() > 0.05
    r0 = edge_rates(porto_alegre_network, DEFAULT_MODEL, waits=True)  # 0 s: rates of 1, the flat times
    assert (r0.fwd == 1).all() and (r0.bwd == 1).all()
