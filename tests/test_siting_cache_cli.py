"""The analysis cache behind siting checks, per-unit figures, the bounded search itself, and the CLI."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from access15 import analyze, load_config
from access15.cache import AnalysisCache
from access15.cache import analysis_key as cache_key
from access15.catchment import candidate_reach
from access15.cli import app
from access15.coords import WGS84, transform_xy
from access15.routing import nearest_facility
from access15.siting import as_sites, check_sites, load_site_context
from access15.snap import snap_points

from .test_siting import _recompute

POOL_LONLAT = "-51.2313,-30.05647"  # a reflecting pool (natural=water) in the extract

CONFIG = """
name = "Porto Alegre (test copy)"
[network]
path = "porto_alegre.osm.pbf"
max_snap_m = 500
[demand]
cell_m = 100
[categories.clinic]
minutes = 15
[categories.school]
minutes = 15
[[facilities]]
path = "facilities.csv"
category_column = "category"
id_column = "facility_id"
[output]
dir = "out"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, root):
    """A copy of the demo's inputs in a temporary folder, so a test may change them."""
    d = tmp_path_factory.mktemp("siting_project")
    shutil.copy(root / "data" / "osm" / "porto_alegre.osm.pbf", d / "porto_alegre.osm.pbf")
    shutil.copy(root / "data" / "facilities" / "porto_alegre_facilities.csv", d / "facilities.csv")
    (d / "site.toml").write_text(CONFIG, encoding="utf-8")
    return d


def _fail(*_a, **_k):
    raise AssertionError("a cached check must not parse, snap or route the city again")


def test_cache_is_used_and_invalidated(project, monkeypatch):
    cfg_path = project / "site.toml"
    first = load_site_context(cfg_path)
    assert "load network" in first.result.timings and "route" in first.result.timings
    cache_root = project / "out" / ".access15-analysis"
    assert len([p for p in cache_root.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 1

    with monkeypatch.context() as m:  # the second run must come from disk alone
        m.setattr("access15.pipeline.analyze", _fail)
        m.setattr("access15.siting.context.read_water_areas", _fail)
        m.setattr("access15.siting.context.snap_points", _fail)
        m.setattr("access15.cache.load_network", _fail)
        second = load_site_context(cfg_path)
        assert set(second.result.timings) == {"load cache"}
        pd.testing.assert_frame_equal(first.result.coverage, second.result.coverage)
        pd.testing.assert_frame_equal(pd.DataFrame(first.result.demand), pd.DataFrame(second.result.demand))
        assert np.array_equal(first.demand_snap.offset_m, second.demand_snap.offset_m, equal_nan=True)
        assert len(second.water) == len(first.water) == 2
        assert np.array_equal(first.result.network.node_xy, second.result.network.node_xy)
        assert second.result.network.edge_highway.dtype == object  # per-edge road classes (travel profiles)
        assert np.array_equal(first.result.network.edge_highway, second.result.network.edge_highway)
    a = check_sites(first, "clinic", [(-51.19, -30.05)]).table  # (a check snaps its candidates, only them)
    b = check_sites(second, "clinic", [(-51.19, -30.05)]).table
    pd.testing.assert_frame_equal(a, b)

    key = cache_key(load_config(cfg_path))
    # an input file changes: the key changes and the analysis is rebuilt
    csv = project / "facilities.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    csv.write_text("".join(lines[:-1]), encoding="utf-8")
    assert cache_key(load_config(cfg_path)) != key
    third = load_site_context(cfg_path)
    assert "load network" in third.result.timings
    assert len(third.result.facilities) == len(first.result.facilities) - 1
    # a setting changes: also a new key
    (project / "other.toml").write_text(CONFIG.replace("max_snap_m = 500", "max_snap_m = 400"), encoding="utf-8")
    assert cache_key(load_config(project / "other.toml")) != cache_key(load_config(cfg_path))
    # a corrupt entry is rebuilt, never trusted
    entry = AnalysisCache(load_config(cfg_path))
    (entry.dir / "demand.parquet").write_bytes(b"not parquet")
    assert entry.load() is None


def test_per_unit_figures_equal_full_recomputation(tmp_path, demo_result, porto_alegre_network):
    """Two units split at the network's centre line: per-unit gains equal a full re-run's unit table."""
    net = porto_alegre_network
    (x0, y0), (x1, y1) = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xm = (x0 + x1) / 2 - 1500
    boxes = [shapely.box(x0 - 10, y0 - 10, xm, y1 + 10), shapely.box(xm, y0 - 10, x1 + 10, y1 + 10)]
    units = gpd.GeoDataFrame({"name": ["West", "East"]}, geometry=boxes, crs=net.crs).to_crs(4326)
    units.to_file(tmp_path / "units.geojson", driver="GeoJSON")
    cfg = load_config(demo_result.config.source)
    from access15.config import BoundaryConfig

    cfg.boundaries = BoundaryConfig(path=str(tmp_path / "units.geojson"), name_column="name")
    res = analyze(cfg, network=net)
    site = transform_xy(np.array([[xm + 300, (y0 + y1) / 2]]), net.crs, WGS84)
    check = check_sites(res, "clinic", site)
    assert check.table["status"].iat[0] == "ok"
    u = check.units.set_index("unit")
    assert u["newly_covered"].sum() == check.table["newly_covered"].iat[0]
    fac = res.facilities[["category", "name", "facility_id", "capacity", "source", "geometry"]].to_crs(4326)
    new = gpd.GeoDataFrame({"category": ["clinic"], "name": ["x"], "facility_id": ["x"], "capacity": [np.nan],
                            "source": ["t"]}, geometry=shapely.points(site), crs=4326)
    full = analyze(cfg, network=net, facilities=gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), crs=4326))
    after = full.unit_coverage[full.unit_coverage["category"] == "clinic"].set_index("unit")
    before = res.unit_coverage[res.unit_coverage["category"] == "clinic"].set_index("unit")
    for unit in u.index:
        assert after.loc[unit, "covered"] - before.loc[unit, "covered"] == pytest.approx(u.loc[unit, "newly_covered"],
                                                                                      rel=1e-9)
        assert u.loc[unit, "share_after"] == pytest.approx(after.loc[unit, "share_covered"], rel=1e-12)
    # places per 1,000 in the site's unit: 10 places per existing clinic, 40 at the site
    res.facilities["capacity"] = 10.0
    cap = check_sites(res, "clinic", site, capacity=40).table.iloc[0]
    assert cap["unit"] == "East"
    clin = res.facilities[(res.facilities["category"] == "clinic") & res.facilities["on_network"]]
    zones = units.rename(columns={"name": "zone"}).to_crs(net.crs)
    east = int((gpd.sjoin(clin, zones, predicate="within")["zone"] == "East").sum())
    people = res.demand.loc[res.demand["unit"] == "East", "weight"].sum()
    assert cap["unit_ratio_before"] == pytest.approx(1000 * 10 * east / people)
    assert cap["unit_ratio_after"] == pytest.approx(1000 * (10 * east + 40) / people)
    assert cap["ratio_after"] == pytest.approx(1000 * (10 * len(clin) + 40) / res.demand["weight"].sum())
    # a site outside the boundaries is refused
    out = check_sites(res, "clinic", transform_xy(np.array([[x1 + 2000, y1 + 2000]]), net.crs, WGS84))
    assert out.table["status"].iat[0] == "outside_area" and "the boundaries" in out.table["message"].iat[0]


def test_bounded_search_equals_full_routing(helsinki_network):
    """Each candidate's bounded search gives the full Dijkstra's distances, bit for bit, within the limit."""
    net = helsinki_network
    rng = np.random.default_rng(11)
    dem_xy = net.node_xy[rng.choice(net.n_nodes, 3000, replace=False)] + rng.normal(0, 25, (3000, 2))
    dem = snap_points(net, dem_xy, 300)
    cand_xy = net.node_xy[rng.choice(net.n_nodes, 40, replace=False)] + rng.normal(0, 25, (40, 2))
    cand = snap_points(net, cand_xy, 300)
    reach = candidate_reach(net, cand, dem, 800.0, chunk=7)  # several chunks
    assert len(reach) > 0
    for k in range(0, 40, 3):
        full = nearest_facility(net, cand.take(np.array([k])), dem, limit_m=5000)
        m = reach.cand == k
        assert np.array_equal(np.sort(reach.dem[m]), np.flatnonzero(full.dist_m <= 800))
        assert np.array_equal(full.dist_m[reach.dem[m]], reach.dist_m[m])


def test_cli_site_check(project, tmp_path):
    cands = tmp_path / "cands.csv"
    cands.write_text("name,lon,lat,capacity\nRua A,-51.19,-30.05,40\nPool,-51.2313,-30.05647,10\n", encoding="utf-8")
    out = tmp_path / "check"
    runner = CliRunner()
    res = runner.invoke(app, ["site-check", str(project / "site.toml"), "--category", "clinic", "--at=-51.16,-30.10",
                              "--candidates", str(cands), "--capacity", "30", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "adds" in res.output and "on water" in res.output
    table = pd.read_csv(out / "site_check.csv")
    assert table["site"].tolist() == ["site 1", "Rua A", "Pool"]
    assert table["status"].tolist() == ["ok", "ok", "on_water"]
    assert (table.loc[:1, "capacity"] == 30).all()  # --capacity applies to every site
    html = (out / "site_check.html").read_text(encoding="utf-8")
    assert "Gap closed by Rua A" in html and "Catchment of site 1" in html
    assert "access15-siting-key" in html and "site that cannot be used" in html  # the pool site is greyed
    bad = runner.invoke(app, ["site-check", str(project / "site.toml"), "--category", "clinic", "--at", "oops"])
    assert bad.exit_code == 2 and "is not lon,lat" in bad.output
    bad = runner.invoke(app, ["site-check", str(project / "site.toml"), "--category", "elderly", "--at=-51.19,-30.05"])
    assert bad.exit_code == 2 and "not a category" in bad.output


def test_cli_suggest(project, tmp_path):
    out = tmp_path / "suggest"
    res = CliRunner().invoke(app, ["suggest", str(project / "site.toml"), "--category", "school", "--k", "3",
                                   "--method", "exact", "--target", "0.7", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ranked = pd.read_csv(out / "suggest.csv")
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert (ranked["cumulative_new"].diff().fillna(ranked["newly_covered"]) == ranked["newly_covered"]).all()
    assert "proven optimum" in res.output and "proven minimum" in res.output
    assert (out / "suggest.html").is_file() and (out / "suggest_candidates.csv").is_file()
    html = (out / "suggest.html").read_text(encoding="utf-8")
    assert "Gap closed by the 3 suggested sites" in html


def test_cli_suggest_from_a_candidate_file_with_costs(project, tmp_path):
    cands = tmp_path / "cands.csv"
    cands.write_text("name,lon,lat,cost\nA,-51.19,-30.05,2\nB,-51.16,-30.10,1\nC,-51.18,-30.04,1\n"
                     "D,-51.14,-30.10,3\n", encoding="utf-8")
    out = tmp_path / "budget"
    res = CliRunner().invoke(app, ["suggest", str(project / "site.toml"), "--category", "clinic", "--candidates",
                                   str(cands), "--budget", "3", "--no-html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ranked = pd.read_csv(out / "suggest.csv")
    assert ranked["cost"].sum() <= 3 and set(ranked["site"]) <= {"A", "B", "C", "D"}
    assert not (out / "suggest.html").exists()
    # run.json of the siting outputs: the analysis's inputs, the candidates file with its SHA-256, every output
    import hashlib
    import json

    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    cand = [r for r in run["inputs"] if r["role"] == "candidates"]
    assert len(cand) == 1 and cand[0]["sha256"] == hashlib.sha256(cands.read_bytes()).hexdigest()
    assert any(r["role"] == "network" for r in run["inputs"])
    assert {o["name"] for o in run["outputs"]} == {"suggest.csv", "suggest_candidates.csv"}
    cands.write_text("name,lon,lat,cost\nA,-51.19,-30.05,2\nB,-51.16,-30.10,free\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["suggest", str(project / "site.toml"), "--category", "clinic", "--candidates",
                                   str(cands), "--budget", "3", "-o", str(out)])
    assert bad.exit_code == 2 and "row 2, field 'cost'" in bad.output and "'free' is not a number" in bad.output


def test_per_class_circles_and_travel_profiles_equal_full_recomputation(tmp_path, demo_result, porto_alegre_network):
    """Rural points with a 30-minute cycling circle and urban points with a 15-minute walk: a site near the
    urban/rural line changes both, exactly as a full re-run does."""
    from access15.config import BoundaryConfig

    net = porto_alegre_network
    (x0, y0), (x1, y1) = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xm = (x0 + x1) / 2 - 1500
    boxes = [shapely.box(x0 - 10, y0 - 10, xm, y1 + 10), shapely.box(xm, y0 - 10, x1 + 10, y1 + 10)]
    units = gpd.GeoDataFrame({"name": ["West", "East"], "kind": ["urban", "rural"]}, geometry=boxes, crs=net.crs)
    units.to_crs(4326).to_file(tmp_path / "classes.geojson", driver="GeoJSON")
    cfg = load_config(demo_result.config.source)
    cfg.boundaries = BoundaryConfig(path=str(tmp_path / "classes.geojson"), name_column="name", class_column="kind")
    cfg.categories["clinic"].minutes_by_class = {"rural": 30.0}
    cfg.categories["clinic"].profile_by_class = {"rural": "cycle"}
    res = analyze(cfg, network=net)
    # the gap points of each class nearest the class line
    cls = res.demand["unit_class"].to_numpy()
    xy = shapely.get_coordinates(res.demand.geometry.values)
    gap = ~res.demand["covered_clinic"].to_numpy() & res.demand["on_network"].to_numpy()
    picks = [np.flatnonzero(gap & (cls == c))[np.argmin(np.abs(xy[gap & (cls == c), 0] - xm))] for c in ("urban", "rural")]
    sites = as_sites(transform_xy(xy[picks], net.crs, WGS84))
    check = check_sites(res, "clinic", sites)
    assert (check.table["status"] == "ok").all()
    gained_any = np.zeros(len(cls), dtype=bool)
    for i in range(len(sites)):
        full = _recompute(res, net, sites.iloc[[i]], "clinic")
        after = full.demand["covered_clinic"].to_numpy()
        assert np.array_equal(check.covered_after(i), after)
        gained = after & ~res.demand["covered_clinic"].to_numpy()
        assert gained.any()
        gained_any |= gained
        cov = full.coverage.set_index("category")
        assert check.table["share_after"].iat[i] == pytest.approx(cov.loc["clinic", "share_covered"], rel=1e-12)
    assert (gained_any & (cls == "rural")).any() and (gained_any & (cls == "urban")).any()


def test_an_uncacheable_result_is_computed_but_not_stored(project, tmp_path):
    """A field the cache cannot write (here a column of mixed types) leaves no entry, and says so."""
    from access15.pipeline import cached_analyze

    cfg = load_config(project / "site.toml")
    first, cache = cached_analyze(cfg, tmp_path / "c")
    first.coverage["odd"] = [1, "x"] + [None] * (len(first.coverage) - 2)
    assert cache.save(first) is False and "coverage" in cache.skipped
    assert not any(p for p in (tmp_path / "c").iterdir() if p.name.startswith(".tmp"))  # no half-written entry


def test_cli_site_check_per_unit(project, tmp_path, porto_alegre_network):
    net = porto_alegre_network
    (x0, y0), (x1, y1) = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xm = (x0 + x1) / 2
    gpd.GeoDataFrame({"name": ["West", "East"]}, geometry=[shapely.box(x0 - 10, y0 - 10, xm, y1 + 10),
                                                          shapely.box(xm, y0 - 10, x1 + 10, y1 + 10)],
                     crs=net.crs).to_crs(4326).to_file(project / "halves.geojson", driver="GeoJSON")
    (project / "units.toml").write_text(CONFIG.replace("[output]", '[boundaries]\npath = "halves.geojson"\n'
                                                       'name_column = "name"\n[output]'), encoding="utf-8")
    out = tmp_path / "units"
    res = CliRunner().invoke(app, ["site-check", str(project / "units.toml"), "-c", "clinic",
                                   "--at=-51.18057,-30.04147", "--at=-51.22,-30.03", "--no-html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "newly covered by unit" in res.output
    units = pd.read_csv(out / "site_check_units.csv")
    table = pd.read_csv(out / "site_check.csv")
    assert set(units["unit"]) <= {"West", "East"}
    per_site = units.groupby("site")["newly_covered"].sum()
    for row in table.itertuples():
        assert per_site.get(row.site, 0.0) == pytest.approx(row.newly_covered)


def test_siting_maps_open_offline_in_chromium(project, tmp_path):
    """The before/after maps load nothing from the network, raise no script error, and show the sites."""
    from tests.browser import open_offline, require_browser

    exe = require_browser()
    out = tmp_path / "maps"
    runner = CliRunner()
    res = runner.invoke(app, ["site-check", str(project / "site.toml"), "-c", "clinic", "--at=-51.18057,-30.04147",
                              f"--at={POOL_LONLAT}", "-o", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["suggest", str(project / "site.toml"), "-c", "clinic", "--k", "3", "--method", "greedy",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    fac = load_site_context(project / "site.toml").result.facilities
    n_fac = int(fac["on_network"].sum())
    for name, sites, layers in (("site_check.html", 2, ["Catchment of site 1 (15 min)", "Gap closed by site 1"]),
                                ("suggest.html", 3, ["Gap closed by the 3 suggested sites"])):
        rep = open_offline(out / name, tmp_path / f"{name}.png", executable=exe)
        assert rep.errors == [] and rep.blocked == [], (name, rep.errors, rep.blocked)
        d = rep.data
        assert all(layer in d["overlay_labels"] for layer in layers), d["overlay_labels"]
        on = dict(zip(d["overlay_labels"], d["overlay_checked"]))
        assert on["Outside the 15-minute circle: Primary health care"] and not on[
            "Outside the combined circle (any required service missing)"]
        assert d["markers"] == n_fac + sites  # every facility and every site drawn


def test_first_elderly_care_centre_on_a_chinese_extract_with_an_amap_basemap(root, tmp_path):
    """Longgang, Shenzhen has no elderly-care facility in OSM: where should the first ones go? The report
    speaks Chinese ([output] lang = "zh") and the map's overlays sit in GCJ-02 like the AMap basemap."""
    from access15.config import config_from_dict
    from access15.coords import wgs84_to_gcj02
    from access15.siting import suggest_sites
    from access15.siting.outputs import _SiteMarker, suggestion_map

    cfg = config_from_dict({"name": "龙岗 养老服务圈", "network": {"path": str(root / "data/osm/shenzhen_longgang.osm.pbf")},
                            "categories": {"elderly_care": {}, "childcare": {}}, "facilities": [{"path": "osm"}],
                            "output": {"lang": "zh", "basemap": "amap", "dir": str(tmp_path)}})
    res = analyze(cfg)
    assert res.coverage.set_index("category").loc["elderly_care", "facilities"] == 0
    sugg = suggest_sites(res, "elderly_care", k=3, method="exact")
    assert sugg.share_before == 0 and sugg.optimal and len(sugg.sites) == 3
    assert sugg.objective == pytest.approx(sugg.sites["newly_covered"].sum())
    check = check_sites(res, "elderly_care", sugg.sites.iloc[[0]])
    assert check.table["newly_covered"].iat[0] == pytest.approx(sugg.sites["newly_covered"].iat[0])
    assert "进入15分钟养老服务圈" in check.verdicts()[0] and "网格" in check.verdicts()[0]
    fmap = suggestion_map(sugg)
    markers = [c for g in fmap._children.values() for c in getattr(g, "_children", {}).values()
               if isinstance(c, _SiteMarker)]
    assert len(markers) == 3
    lon, lat = wgs84_to_gcj02(sugg.sites["lon"].to_numpy(), sugg.sites["lat"].to_numpy())
    got = np.array([m.location for m in markers])
    assert np.allclose(got, np.column_stack([lat, lon]), atol=2e-7)
    assert np.abs(got[:, 1] - sugg.sites["lon"].to_numpy()).min() > 1e-3  # really shifted (~500 m)
    names = [getattr(c, "layer_name", "") for c in fmap._children.values()]
    assert "建议选址（3）" in names and "3 个建议选址共同填补的空白" in names
