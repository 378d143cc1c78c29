"""Input checks against the network: swapped lon/lat, GCJ-02/BD-09 shifts declared as WGS84, split networks."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from access15 import analyze
from access15.checks import component_share, facility_source_checks, swap_check
from access15.config import Config, config_from_dict
from access15.errors import InputError
from access15.io.facilities import load_facilities
from access15.io.osm import read_osm_facilities
from access15.network import network_from_vertices
from access15.snap import snap_points

ROOT = Path(__file__).resolve().parents[1]
TD = ROOT / "tests" / "data"
TSINGHUA = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
CATS = ["fitness", "convenience", "clinic", "culture", "childcare"]


def tsinghua_config(path: Path, **fac) -> Config:
    return config_from_dict({
        "network": {"path": str(TSINGHUA)},
        "categories": {c: {} for c in CATS},
        "facilities": [{"path": str(path), "id_column": "编号", **fac}],
        "demand": {"cell_m": 150},
    })


def _warnings_for(cfg: Config, net) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fac = load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories), None)
    return [f"{name}: {problem}; {fix}" for name, problem, fix in facility_source_checks(cfg, fac, net)]


def test_swap_check_on_real_helsinki_points(helsinki_network):
    fac = read_osm_facilities(ROOT / "data" / "osm" / "helsinki.osm.pbf")
    lonlat = shapely.get_coordinates(fac.geometry.values)
    ok = swap_check(lonlat, helsinki_network)
    assert ok.outside == 0 and not ok.swapped
    bad = swap_check(lonlat[:, ::-1], helsinki_network)   # (60.17, 24.94): valid numbers, wrong place
    assert bad.swapped and bad.outside == len(lonlat) and bad.inside_if_swapped == len(lonlat)


def test_in_range_swap_reported_and_fixed_on_request(tmp_path, helsinki_network):
    helsinki = ROOT / "data" / "osm" / "helsinki.osm.pbf"
    truth = read_osm_facilities(helsinki)
    xy = shapely.get_coordinates(truth.geometry.values)
    # real Helsinki facilities with the columns the wrong way round: (60.17, 24.94) is a valid lon/lat pair
    df = pd.DataFrame({"name": truth["name"], "category": truth["category"], "lon": xy[:, 1], "lat": xy[:, 0]})
    p = tmp_path / "swapped.csv"
    df.to_csv(p, index=False)
    cats = sorted(set(truth["category"]))

    def cfg(**fac):
        return config_from_dict({"network": {"path": str(helsinki)}, "categories": {c: {} for c in cats},
                                 "facilities": [{"path": str(p), **fac}]})

    # every figure of these categories would be wrong: refused, with the fix
    with pytest.raises(InputError, match=rf"swapped.*{len(xy)} of {len(xy)} facilities lie outside.*swap_lonlat = true"):
        _warnings_for(cfg(), helsinki_network)
    assert _warnings_for(cfg(swap_lonlat=True), helsinki_network) == []
    fixed = load_facilities(cfg(swap_lonlat=True).facilities, lambda x: Path(x), cats, None)
    assert np.allclose(shapely.get_coordinates(fixed.geometry.values), xy)


def test_gcj02_list_declared_wgs84_is_flagged(tsinghua_network):
    msgs = _warnings_for(tsinghua_config(TD / "tsinghua_facilities_gcj02_utf8bom.csv"), tsinghua_network)
    assert len(msgs) == 1
    assert "look like GCJ-02" in msgs[0] and 'crs = "gcj02"' in msgs[0]
    # the offset it quotes is the GCJ-02 shift at Tsinghua: about 520 m east, 145 m north
    assert "+52" in msgs[0] and "E" in msgs[0]


def test_bd09_list_declared_wgs84_is_flagged_as_bd09(tsinghua_network):
    msgs = _warnings_for(tsinghua_config(TD / "tsinghua_facilities_bd09_gbk.csv"), tsinghua_network)
    assert len(msgs) == 1 and "BD-09" in msgs[0] and 'crs = "bd09"' in msgs[0]


@pytest.mark.parametrize("name,crs", [("tsinghua_facilities_gcj02_utf8bom.csv", "gcj02"),
                                      ("tsinghua_facilities_bd09_gbk.csv", "bd09")])
def test_correctly_declared_lists_are_quiet(tsinghua_network, name, crs):
    assert _warnings_for(tsinghua_config(TD / name, crs=crs), tsinghua_network) == []


def test_true_wgs84_list_is_quiet_and_wgs84_declared_gcj02_is_flagged(tmp_path, tsinghua_network):
    truth = read_osm_facilities(TSINGHUA)
    xy = shapely.get_coordinates(truth.geometry.values)
    df = pd.DataFrame({"编号": range(len(xy)), "名称": truth["name"], "类别": truth["category"],
                       "lng": np.round(xy[:, 0], 6), "lat": np.round(xy[:, 1], 6)})
    p = tmp_path / "wgs84.csv"
    df.to_csv(p, index=False)
    assert _warnings_for(tsinghua_config(p), tsinghua_network) == []
    msgs = _warnings_for(tsinghua_config(p, crs="gcj02"), tsinghua_network)
    assert len(msgs) == 1 and "probably WGS84 already" in msgs[0]


def test_component_share_counts_demand_on_minor_pieces():
    # two separate streets: a 1,000 m main street and a 100 m isolated one
    crs = pyproj.CRS.from_epsg(32633)
    xy = np.array([[0, 0], [500, 0], [1000, 0], [0, 500], [100, 500]], float)
    net = network_from_vertices(np.arange(5), xy, np.array([0, 3, 5]), crs)
    pts = np.array([[10, 5], [600, -5], [900, 3], [50, 505]], float)
    snapped = snap_points(net, pts, 50)
    share, weight, pieces = component_share(net, snapped, np.array([1.0, 1.0, 2.0, 4.0]))
    assert pieces == 2 and weight == 4.0 and share == pytest.approx(4 / 8)


def test_analyze_warns_about_split_network_and_gcj_shift(tsinghua_network):
    cfg = tsinghua_config(TD / "tsinghua_facilities_gcj02_utf8bom.csv")
    res = analyze(cfg, network=tsinghua_network)
    # the extract has small disconnected pieces, but every demand point has the main piece within reach
    # and joins it (snap.py), so no demand is stranded and no split warning is due
    assert tsinghua_network.component.max() > 0
    assert not [w for w in res.warnings if "separate pieces" in w]
    assert any("look like GCJ-02" in w for w in res.warnings)
    # the minor pieces' demand is still in the results (NaN/inf only where no facility is reachable)
    assert len(res.demand) == int(res.coverage["demand"].iloc[0])
