"""The gap maps: offline HTML in real Chromium, Chinese labels, the GCJ-02 shift, rendering from the
GeoPackage without recomputing, and the print maps."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from typer.testing import CliRunner

from access15 import analyze
from access15.cli import app
from access15.config import config_from_dict
from access15.coords import gcj02_to_wgs84, wgs84_to_gcj02
from access15.errors import InputError
from access15.maps import compact
from access15.maps.html import build_map, render_map, resolve_basemap, write_map
from access15.maps.mapdata import MapData
from access15.maps.offline import external_resources, inline_assets
from access15.maps.static import GREY_RAMP, SHARE_RAMP, static_names, write_static_maps
from access15.maps.style import weight_breaks
from access15.outputs import GPKG_WRITE_OPTIONS, META_TABLE, STREETS_PER_ROW, load_result, write_outputs
from access15.outputs import read_meta_table as read_meta
from access15.text import t

from .browser import open_offline, require_browser

ROOT = Path(__file__).resolve().parents[1]
IDS = re.compile(r"_[0-9a-f]{32}")


def normalised(page: str) -> str:
    """A rendered map with folium's random element ids replaced."""
    return IDS.sub("_ID", page)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", path.read_bytes()))


def _layers(fmap: folium.Map) -> dict[str, object]:
    """Named layers of a map (top-level overlays and feature groups) by display name."""
    out = {}
    for child in fmap._children.values():
        name = getattr(child, "layer_name", None)
        if name and isinstance(child, (folium.GeoJson, folium.raster_layers.ImageOverlay, folium.FeatureGroup)):
            out[name] = child
    return out


def _points(gj: folium.GeoJson) -> np.ndarray:
    return np.array([f["geometry"]["coordinates"] for f in gj.data["features"]], dtype=float)


@pytest.fixture(scope="module")
def demo_outputs(demo_result, tmp_path_factory) -> dict[str, Path]:
    return write_outputs(demo_result, tmp_path_factory.mktemp("demo_out"))


@pytest.fixture(scope="module")
def longgang(tmp_path_factory):
    """Longgang, Shenzhen: real OSM extract, the real Longgang district boundary (GCJ-02 in the file,
    converted to WGS84 here and clipped to the extract), Chinese categories and labels."""
    from access15.network import load_network

    tmp = tmp_path_factory.mktemp("longgang")
    net = load_network(ROOT / "data" / "osm" / "shenzhen_longgang.osm.pbf")
    b = gpd.read_file(ROOT / "data" / "boundaries" / "haidian_longgang_districts_gcj02.geojson")
    b = b[b["district"] == "龙岗区"]

    def to_wgs84(xy):
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    b = b.set_geometry(shapely.transform(b.geometry.values, to_wgs84), crs=4326)
    hull = gpd.GeoSeries([net.hull()], crs=net.crs).to_crs(4326).iloc[0]
    b["geometry"] = b.geometry.intersection(hull)
    b.to_file(tmp / "longgang.geojson")
    cfg = config_from_dict({
        "name": "龙岗区 15分钟公共服务圈", "network": {"path": str(ROOT / "data/osm/shenzhen_longgang.osm.pbf")},
        "categories": {"elderly_care": {}, "childcare": {}, "clinic": {}, "fitness": {"minutes": 10}},
        "facilities": [{"path": "osm"}],
        "boundaries": {"path": str(tmp / "longgang.geojson"), "name_column": "district"},
        "output": {"lang": "zh", "basemap": "amap"}})
    return analyze(cfg, network=net)


# ------------------------------------------------------------------------------------------ offline HTML
def test_map_html_is_self_contained_and_small(demo_outputs):
    page = demo_outputs["html"].read_text(encoding="utf-8")
    assert external_resources(page) == []
    assert "cdn.jsdelivr" not in page and "code.jquery" not in page and "bootstrap" not in page.lower()
    assert 'version="1.9.4"' in page  # the vendored Leaflet is inlined
    size = demo_outputs["html"].stat().st_size
    assert size < 5_000_000, f"demo map is {size / 1e6:.1f} MB"


def test_map_opens_offline_in_chromium(demo_outputs, demo_result, tmp_path):
    exe = require_browser()
    shot = tmp_path / "gap_map.png"
    rep = open_offline(demo_outputs["html"], shot, executable=exe)
    assert rep.errors == [], rep.errors
    assert rep.blocked == [], "the map asked for network resources: " + ", ".join(rep.blocked)
    d = rep.data
    assert d["map_size"][0] > 1000 and d["map_size"][1] > 800
    cfg = demo_result.config
    expected = ["Walkable streets"]
    expected += [f"Walking time to the nearest {c.label()} (min)" for c in cfg.categories.values()]
    expected += [f"Outside the {c.minutes:g}-minute circle: {c.label()}" for c in cfg.categories.values()]
    expected += ["Outside the combined circle (any required service missing)"]
    expected += [f"{c.label()} facilities" for c in cfg.categories.values()]
    assert d["overlay_labels"] == expected
    # on at first: streets, the combined gap layer and every facility layer
    on = [label for label, checked in zip(d["overlay_labels"], d["overlay_checked"]) if checked]
    assert on == ["Walkable streets", "Outside the combined circle (any required service missing)",
                  *[f"{c.label()} facilities" for c in cfg.categories.values()]]
    assert d["images"] == 2  # streets and the combined gap cells, drawn
    assert d["paths"] >= 1  # the gap outline
    assert d["markers"] == int(demo_result.facilities["on_network"].count())
    assert "Walking time to the nearest facility" in d["legend"] and "0–5 min" in d["legend"]
    assert "Speed profile: walk, 4 km/h" in d["legend"]
    share = demo_result.coverage.set_index("category").loc["combined", "share_covered"]
    assert f"All required services: {share:.1%}" in d["title"]
    assert d["scale"] and d["scale"][0].endswith(("km", "m"))
    assert shot.stat().st_size > 50_000  # a real picture, not a blank page


def test_toggling_a_layer_draws_it(demo_outputs):
    exe = require_browser()
    rep = open_offline(demo_outputs["html"], click_first_unchecked=True, executable=exe)
    assert rep.errors == [] and rep.blocked == []
    assert rep.data["overlay_checked"][1] is True  # the first travel-time layer, now on
    assert rep.data["images"] == 3


def test_chinese_labels_render_offline(longgang, tmp_path):
    exe = require_browser()
    path = write_map(longgang, tmp_path / "map_zh.html", basemap="none")
    rep = open_offline(path, executable=exe)
    assert rep.errors == [] and rep.blocked == []
    labels = rep.data["overlay_labels"]
    for name in ("养老服务", "托育", "医疗卫生", "健身"):
        assert f"步行至最近{name}设施的时间（分钟）" in labels
    assert "托育设施" in labels and "健身设施" in labels
    assert "各单元覆盖率：综合服务圈" in labels and "行政边界" in labels
    assert "步行速度：步行，4 公里/小时" in rep.data["legend"]
    assert "健身：10分钟内覆盖" in rep.data["title"]


# ----------------------------------------------------------------------------------- layers and basemaps
def test_facility_popups_and_category_layers(longgang):
    fmap = build_map(longgang, basemap="none")
    layers = _layers(fmap)
    fit = layers["健身设施"]
    props = [f["properties"] for f in fit.data["features"]]
    ids = set(longgang.facilities.loc[longgang.facilities["category"] == "fitness", "facility_id"])
    assert {p["facility_id"] for p in props} == ids
    assert "大运中心体育馆" in {p["name"] for p in props}
    popup = [c for c in fit._children.values() if isinstance(c, folium.GeoJsonPopup)][0]
    assert popup.fields[:2] == ["name", "capacity"] and "facility_id" in popup.fields
    assert popup.aliases[0] == "名称"
    assert "养老服务设施" not in layers  # no facility of that category: no empty layer


def test_choropleth_tooltip_holds_the_unit_row(longgang):
    fmap = build_map(longgang, basemap="none", lang="en")
    chor = _layers(fmap)["Coverage share by unit: Combined circle"]
    (feat,) = chor.data["features"]
    props = feat["properties"]
    uc = longgang.unit_coverage.set_index("category")
    assert props["unit"] == "龙岗区"
    assert props["Demand"] == f"{uc.loc['combined', 'demand']:,.0f}"
    assert props["Fitness"] == f"{uc.loc['fitness', 'share_covered']:.1%}"
    assert props["Childcare"] == f"{uc.loc['childcare', 'share_covered']:.1%}"
    tip = [c for c in chor._children.values() if isinstance(c, folium.GeoJsonTooltip)][0]
    assert tip.fields == ["unit", "Demand", "Elderly care", "Childcare", "Primary health care", "Fitness",
                          "Combined circle"]


def test_gcj02_basemap_shifts_every_overlay(longgang):
    plain = _layers(build_map(longgang, basemap="none"))
    amap_map = build_map(longgang)  # the config asks for amap
    amap = _layers(amap_map)
    # facilities: each point moved by exactly the WGS84 -> GCJ-02 offset (~590 m in Shenzhen)
    p0, p1 = _points(plain["健身设施"]), _points(amap["健身设施"])
    glon, glat = wgs84_to_gcj02(p0[:, 0], p0[:, 1])
    np.testing.assert_allclose(p1, np.column_stack([glon, glat]), atol=2e-5)
    metres = np.hypot((p1[:, 0] - p0[:, 0]) * 111_320 * np.cos(np.radians(p0[:, 1])), (p1[:, 1] - p0[:, 1]) * 110_574)
    assert metres.min() > 500 and metres.max() < 700
    # raster overlays: the image moved by the offset (its extent may grow by a pixel, ~0.001 degree, when
    # resampled; test_gcj02_raster_lands_where_the_cell_is checks the pixels themselves)
    b0 = np.array(plain["步行至最近健身设施的时间（分钟）"].bounds)
    b1 = np.array(amap["步行至最近健身设施的时间（分钟）"].bounds)
    centre0, centre1 = b0.mean(axis=0), b1.mean(axis=0)
    clon, clat = wgs84_to_gcj02(np.array([centre0[1]]), np.array([centre0[0]]))
    assert abs(centre1[1] - clon[0]) < 1e-3 and abs(centre1[0] - clat[0]) < 1e-3
    assert abs(centre1[1] - centre0[1]) > 4e-3  # the move itself (~0.005 degree east) is far larger
    # boundaries moved too, and the map says why
    u0 = shapely.from_geojson(str(plain["行政边界"].data["features"][0]["geometry"]).replace("'", '"'))
    u1 = shapely.from_geojson(str(amap["行政边界"].data["features"][0]["geometry"]).replace("'", '"'))
    c0, c1 = shapely.get_coordinates(u0.centroid)[0], shapely.get_coordinates(u1.centroid)[0]
    g = np.column_stack(wgs84_to_gcj02(c0[:1], c0[1:]))[0]
    assert np.allclose(c1, g, atol=5e-5)
    page = amap_map.get_root().render()
    assert "GCJ-02" in page and "autonavi" in page
    assert "GCJ-02" not in build_map(longgang, basemap="osm").get_root().render()


def test_gcj02_raster_lands_where_the_cell_is(longgang):
    """A travel-time cell drawn on the GCJ-02 map sits at the GCJ-02 position of that cell's centre."""
    data = MapData.from_result(longgang)
    amap = _layers(build_map(data, basemap="amap"))["步行至最近健身设施的时间（分钟）"]
    (s, w), (n, e) = amap.bounds
    import base64
    import io

    from matplotlib import image as mimage

    png = base64.b64decode(amap.url.split(",", 1)[1])
    img = mimage.imread(io.BytesIO(png), format="png")
    h, wpx = img.shape[:2]
    # the fastest cells (0-5 min band) lie around the facilities: take the covered cell nearest to one
    dem = data.demand.to_crs(4326)
    fast = dem[dem["time_fitness"] <= 2.0]
    lon, lat = shapely.get_coordinates(fast.geometry.values).T
    glon, glat = wgs84_to_gcj02(lon, lat)
    y0, y1 = np.log(np.tan(np.pi / 4 + np.radians(s) / 2)), np.log(np.tan(np.pi / 4 + np.radians(n) / 2))
    band0 = np.array([0x1a, 0x98, 0x50]) / 255

    def drawn_in_place(glon, glat):
        my = np.log(np.tan(np.pi / 4 + np.radians(glat) / 2))
        col = ((glon - w) / (e - w) * wpx).astype(int).clip(0, wpx - 1)
        row = ((y1 - my) / (y1 - y0) * h).astype(int).clip(0, h - 1)
        return (np.abs(img[row, col, :3] - band0).max(axis=1) < 0.02).mean()

    assert drawn_in_place(glon, glat) >= 0.9  # (a cell at a pixel edge may sample its neighbour)
    assert drawn_in_place(lon, lat) < 0.3  # unshifted positions miss: the shift (~590 m) is what aligns them


def test_basemap_choices():
    assert resolve_basemap("none").url is None
    osm = resolve_basemap("osm")
    assert "{z}/{x}/{y}" in osm.url and "OpenStreetMap" in osm.attribution and not osm.gcj02
    assert resolve_basemap("amap").gcj02 and not resolve_basemap("amap", crs="wgs84").gcj02
    custom = resolve_basemap("https://tiles.example.org/{z}/{x}/{y}.png", "© Example", "gcj02")
    assert custom.gcj02 and custom.attribution == "© Example"
    base = {"network": {"path": "x.osm.pbf"}, "categories": {"clinic": {}}, "facilities": [{"path": "osm"}]}
    with pytest.raises(InputError, match="basemap"):
        config_from_dict({**base, "output": {"basemap": "googl"}})
    with pytest.raises(InputError, match="basemap_attribution"):
        config_from_dict({**base, "output": {"basemap": "https://t.example.org/{z}/{x}/{y}.png"}})
    with pytest.raises(InputError, match="basemap_crs"):
        config_from_dict({**base, "output": {"basemap": "osm", "basemap_crs": "bd09"}})


def test_osm_basemap_is_the_only_remote_resource(demo_result):
    page = render_map(demo_result, basemap="osm")
    assert external_resources(page) == []  # tiles are loaded by Leaflet, not by <script>/<link>
    assert "tile.openstreetmap.org" in page and "OpenStreetMap contributors" in page


def test_unvendored_plugin_is_refused():
    from folium.plugins import MarkerCluster

    fmap = folium.Map(tiles=None)
    MarkerCluster().add_to(fmap)
    with pytest.raises(RuntimeError, match="does not ship"):
        inline_assets(fmap)
    assert external_resources('<script src="https://cdn.example.org/x.js"></script>')


def test_gap_cells_coloured_by_uncovered_population(demo_result):
    """The demo is weighted by the real Porto Alegre census: the gap layer is a ramp of uncovered residents
    per cell, whose darkest class holds the most crowded uncovered cell."""
    data = MapData.from_result(demo_result)
    assert data.weighted and "resident" in data.demand_label
    w = data.demand["weight"].to_numpy()
    breaks = weight_breaks(w)
    assert len(breaks) == 5 and breaks == sorted(breaks) and breaks[-1] == pytest.approx(w.max())
    page = render_map(data)
    assert "uncovered residents per cell" in page
    assert f"–{breaks[-1]:,.3g}</div>" in page
    flat = MapData.from_result(demo_result)
    flat.demand = flat.demand.assign(weight=1.0)  # every cell alike: one colour, no ramp
    assert not flat.weighted and "uncovered cell" in render_map(flat)


# ------------------------------------------------------------------------------- rendering from the GPKG
def test_gpkg_holds_what_the_maps_need(demo_outputs, demo_result):
    meta = read_meta(demo_outputs["gpkg"])
    assert meta["format"] == "access15-gpkg/1"
    assert meta["grid"]["cell"] == 100.0 and meta["grid"]["nx"] == demo_result.grid.nx
    assert set(meta["config"]["categories"]) == set(demo_result.config.categories)
    layers = dict(pyogrio.list_layers(demo_outputs["gpkg"]))
    assert layers[META_TABLE] is None and layers["coverage"] is None and layers["streets"] is not None
    data = load_result(demo_outputs["gpkg"].parent)
    assert data.grid == demo_result.grid
    pd.testing.assert_frame_equal(data.coverage, demo_result.coverage, check_dtype=False)
    assert len(data.demand) == len(demo_result.demand)
    np.testing.assert_allclose(shapely.get_coordinates(data.demand.geometry.values),
                               shapely.get_coordinates(demo_result.demand.geometry.values), atol=1e-6)
    # the streets are stored as drawn, in the analysis's metric CRS: read back bit for bit
    live = MapData.from_result(demo_result).streets
    assert pyproj.CRS(pyogrio.read_info(demo_outputs["gpkg"], layer="streets")["crs"]) == pyproj.CRS(demo_result.network.crs)
    assert shapely.equals_exact(data.streets, live, tolerance=0).all()
    info = pyogrio.read_info(demo_outputs["gpkg"], layer="streets")  # a MultiLineString per 1,000 streets
    assert info["geometry_type"] == "MultiLineString" and info["features"] == -(-len(live) // STREETS_PER_ROW) > 1
    assert shapely.equals_exact(live, np.asarray(demo_result.network.edge_geometry), tolerance=0).all()
    # GDAL's SQLite settings of the write are the write's own
    assert all(pyogrio.get_gdal_config_option(k) is None for k in GPKG_WRITE_OPTIONS)


def test_map_from_gpkg_equals_the_runs_map(demo_outputs, tmp_path):
    res = CliRunner().invoke(app, ["map", str(demo_outputs["gpkg"]), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    run_page = demo_outputs["html"].read_text(encoding="utf-8")
    map_page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert normalised(map_page) == normalised(run_page)


def test_map_from_gpkg_needs_no_input_file(tmp_path):
    """Run on a copy of the extract, delete it, then render HTML and print maps from the GeoPackage."""
    pbf = tmp_path / "helsinki.osm.pbf"
    shutil.copy(ROOT / "data" / "osm" / "helsinki.osm.pbf", pbf)
    cfg = config_from_dict({"name": "Helsinki", "network": {"path": str(pbf)},
                            "categories": {"clinic": {}, "fitness": {"minutes": 10}},
                            "facilities": [{"path": "osm"}]})
    out = tmp_path / "out"
    written = write_outputs(analyze(cfg), out)
    pbf.unlink()
    res = CliRunner().invoke(app, ["map", str(out), "--lang", "zh", "--static"])
    assert res.exit_code == 0, res.output
    page = (out / "map_zh.html").read_text(encoding="utf-8")
    text = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), page)  # JSON-escaped layer names
    assert "医疗卫生设施" in text and "健身设施" in text and external_resources(page) == []
    assert normalised(written["html"].read_text(encoding="utf-8")) != normalised(page)  # zh, not a copy
    names = ["clinic", "fitness", "combined"]
    for name in names:
        assert png_size(out / f"gap_{name}.png") == (1753, 1240)  # A4 landscape at 150 dpi
    assert pdf_pages(out / "gap_maps.pdf") == len(names)


def test_map_command_reports_bad_input(tmp_path):
    res = CliRunner().invoke(app, ["map", str(tmp_path)])
    assert res.exit_code == 2 and "no access15 GeoPackage here" in res.output
    (tmp_path / "access15.gpkg").write_text("not a geopackage")
    res = CliRunner().invoke(app, ["map", str(tmp_path / "access15.gpkg")])
    assert res.exit_code == 2 and "cannot read the GeoPackage" in res.output


def test_map_command_rejects_bad_options(demo_outputs, tmp_path):
    res = CliRunner().invoke(app, ["map", str(demo_outputs["gpkg"]), "-o", str(tmp_path), "--basemap", "googl"])
    assert res.exit_code == 2 and "[output] basemap = 'googl'" in res.output
    res = CliRunner().invoke(app, ["map", str(demo_outputs["gpkg"]), "-o", str(tmp_path), "--lang", "fr"])
    assert res.exit_code == 2 and "unknown language" in res.output
    assert not list(tmp_path.iterdir())  # nothing half-written


# ------------------------------------------------------------------------------------------ print maps
def test_static_maps_per_category_and_combined(longgang, tmp_path):
    written = write_static_maps(longgang, tmp_path, lang="zh")
    names = static_names(MapData.from_result(longgang))
    assert names == ["elderly_care", "childcare", "clinic", "fitness", "combined"]
    assert [k for k in written if k != "pdf"] == names
    for name in names:
        assert png_size(written[name]) == (1753, 1240)
    assert pdf_pages(written["pdf"]) == len(names)
    assert not list(tmp_path.glob(".access15-*"))  # no temporary file left


def test_print_ramps_read_in_greyscale():
    """Classes stay distinct and ordered once printed in black and white (luminance)."""
    from matplotlib.colors import to_rgb

    def lum(c):
        r, g, b = to_rgb(c)
        return 0.299 * r + 0.587 * g + 0.114 * b

    grey = [lum(c) for c in GREY_RAMP]
    share = [lum(c) for c in SHARE_RAMP]
    assert all(a - b > 0.05 for a, b in zip(grey, grey[1:]))  # darker = more uncovered demand
    assert all(b - a > 0.03 for a, b in zip(share, share[1:]))  # lighter = better covered
    assert min(share) > max(grey[2:])  # a choropleth tint never reads as a dense gap


def test_boundary_levels_get_a_layer_each(tmp_path):
    """Monaco's OSM admin boundaries at two levels: one choropleth and outline layer per level, tooltips
    from that level's rows; the print map labels the finer level."""
    cfg = config_from_dict({"name": "Monaco", "network": {"path": str(ROOT / "data/osm/monaco.osm.pbf")},
                            "categories": {"clinic": {}, "fitness": {"minutes": 10, "required": False}},
                            "facilities": [{"path": "osm"}], "boundaries": {"path": "osm", "admin_levels": [8, 10]}})
    res = analyze(cfg)
    layers = _layers(build_map(res))
    uc = res.unit_coverage
    for level, units in (("admin_level 8", {"Monaco"}), ("admin_level 10", {"La Condamine", "Monaco-Ville"})):
        chor = layers[f"Coverage share by unit: Combined circle — {level}"]
        props = {f["properties"]["unit"]: f["properties"] for f in chor.data["features"]}
        assert set(props) == units
        for unit, p in props.items():
            row = uc[(uc["level"] == level) & (uc["unit"] == unit) & (uc["category"] == "clinic")].iloc[0]
            assert p["Primary health care"] == f"{row['share_covered']:.1%}"
        assert f"Boundaries — {level}" in layers
    from access15.maps.static import print_level

    assert print_level(MapData.from_result(res)) == "admin_level 10"
    written = write_outputs(res, tmp_path)
    import pyogrio

    assert dict(pyogrio.list_layers(written["gpkg"]))["unit_coverage"] is not None  # the outputs' spatial layer stays
    back = load_result(written["gpkg"])
    pd.testing.assert_frame_equal(back.unit_coverage[uc.columns].reset_index(drop=True), uc.reset_index(drop=True),
                                  check_dtype=False)


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch):
    from . import browser

    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser test"):
        browser.require_browser()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser.require_browser()


def test_node_demand_maps(helsinki_network, tmp_path):
    """Street-node demand has no grid: gaps are drawn as buffered nodes, in HTML and print, from the GPKG."""
    cfg = config_from_dict({"name": "Helsinki nodes", "network": {"path": str(ROOT / "data/osm/helsinki.osm.pbf")},
                            "demand": {"kind": "nodes"}, "categories": {"clinic": {}, "fitness": {"minutes": 10}},
                            "facilities": [{"path": "osm"}]})
    res = analyze(cfg, network=helsinki_network)
    write_outputs(res, tmp_path)
    data = load_result(tmp_path)
    assert data.grid is None and len(data.demand) == len(res.demand)
    gap = _layers(build_map(data))["Outside the combined circle (any required service missing)"]
    (outline,) = [c for c in gap._children.values() if isinstance(c, folium.GeoJson)]
    assert shapely.from_geojson(json.dumps(outline.data["features"][0]["geometry"])).area > 0
    written = write_static_maps(data, tmp_path / "print", formats=("png",))
    assert set(written) == {"clinic", "fitness", "combined"}


# ------------------------------------------------------------------------------ metro-size (compact) layers
#: Every compact layer of the page: its points / rings as Leaflet holds them, and the first point's popup.
COMPACT_PROBE = """() => {
  const out = {};
  for (const k of Object.keys(window)) {
    if (k.startsWith('map_') && window[k] instanceof L.Map) {
      const b = window[k].getBounds();
      out.view = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    } else if (k.startsWith('dot_layer_')) {
      const g = window[k], ls = g.getLayers();
      g.fire('click', {layer: ls[0]});
      const pop = ls[0].getPopup(), table = pop && pop.isOpen() ? pop.getContent() : null;
      out[k] = {latlngs: ls.map(l => [l.getLatLng().lat, l.getLatLng().lng]), on_map: !!g._map,
                popup: table ? Array.from(table.rows).map(r => [r.cells[0].textContent, r.cells[1].textContent]) : null,
                canvas: ls.every(l => l._renderer instanceof L.Canvas)};
      ls[0].closePopup();
    } else if (k.startsWith('ring_layer_')) {
      const r = window[k];
      out[k] = {rings: r.getLatLngs().map(p => p.map(ring => ring.map(ll => [ll.lng, ll.lat]))), on_map: !!r._map,
                svg: r.options.renderer instanceof L.SVG};
    }
  }
  return out;
}"""


def _decoded(coded: list[int]) -> np.ndarray:
    """A delta-coded ``[lat0, lon0, dlat, dlon, ...]`` back to (N, 2) lon/lat degrees."""
    return np.cumsum(np.asarray(coded, dtype=np.int64).reshape(-1, 2), axis=0)[:, ::-1] * compact.UNIT_DEG


def test_metro_size_layers_draw_the_same_points_popups_and_outlines(longgang, tmp_path, monkeypatch):
    """Above the size limits, facilities are canvas dots and outlines delta-coded rings: the page shows the
    same points (to the 1e-5 degree every layer is rounded to), the same popup fields and the same gap
    outlines as folium's GeoJSON layers of a smaller map, in Chromium without an error."""
    exe = require_browser()
    data = MapData.from_result(longgang)
    plain = build_map(data, basemap="none")
    monkeypatch.setattr(compact, "OUTLINE_VERTICES_ABOVE", 0)  # compact outlines alone: the page still works
    rings_only = tmp_path / "rings.html"
    rings_only.write_text(build_map(data, basemap="none").get_root().render(), encoding="utf-8")
    rep = open_offline(rings_only, executable=exe)
    assert rep.errors == [] and rep.data["markers"] == len(data.facilities)
    monkeypatch.setattr(compact, "DOTS_ABOVE", 0)
    fmap = build_map(data, basemap="none")
    page = tmp_path / "compact.html"
    page.write_text(fmap.get_root().render(), encoding="utf-8")
    assert external_resources(page.read_text(encoding="utf-8")) == []
    rep = open_offline(page, executable=exe, evaluate=COMPACT_PROBE)
    assert rep.errors == [] and rep.blocked == []
    got = rep.data["eval"]
    # facilities: one dot layer per category with facilities, each in the layer control, on the canvas
    dots = {c.layer_name: c for c in fmap._children.values() if isinstance(c, compact.DotLayer)}
    geojson = {n: gj for n, gj in _layers(plain).items() if n.endswith("设施") and isinstance(gj, folium.GeoJson)}
    assert set(dots) == set(geojson) and len(dots) >= 2
    assert set(dots) <= set(rep.data["overlay_labels"])
    assert rep.data["markers"] == 0  # no DOM marker at all
    for name, layer in dots.items():
        mine, theirs = got[layer.get_name()], geojson[name]
        assert mine["on_map"] and mine["canvas"]
        lat, lon = np.array(mine["latlngs"]).T  # the view opens on every facility (fitted without animation)
        w, s_, e, n = got["view"]
        assert w <= lon.min() and lon.max() <= e and s_ <= lat.min() and lat.max() <= n
        np.testing.assert_allclose(np.array(mine["latlngs"])[:, ::-1], _points(theirs), atol=1e-9)
        # the first facility's popup: every non-empty field of folium's popup, under the same label
        props = theirs.data["features"][0]["properties"]
        expected = [[t("zh", k), str(v)] for k, v in props.items() if str(v) != ""]
        assert sorted(mine["popup"]) == sorted(expected)
    # gap outlines: the rings of each gap layer, as polygons, equal folium's GeoJSON outline
    rings = [c for g in fmap._children.values() if isinstance(g, folium.FeatureGroup)
             for c in g._children.values() if isinstance(c, compact.RingLayer)]
    outlines = [c for g in plain._children.values() if isinstance(g, folium.FeatureGroup)
                for c in g._children.values() if isinstance(c, folium.GeoJson)]
    assert len(rings) == len(outlines) >= 2
    for ring, outline in zip(rings, outlines):
        expected = shapely.from_geojson(json.dumps(outline.data["features"][0]["geometry"]))
        coded = json.loads(ring.payload)
        mine = shapely.MultiPolygon([shapely.Polygon(_decoded(p[0]), [_decoded(h) for h in p[1:]]) for p in coded])
        assert mine.symmetric_difference(expected).area < 1e-12 and mine.area > 0
        if ring.get_name() in got:  # the layers shown at first: what Leaflet holds is the same rings
            assert got[ring.get_name()]["svg"]
            drawn = got[ring.get_name()]["rings"]
            assert sum(len(p) for p in drawn) == sum(len(p) for p in coded)
    assert any(got[ring.get_name()]["on_map"] for ring in rings)  # the combined circle's, shown at first
    # and far smaller: the compact layers against folium's GeoJSON of the same points and rings
    mine_bytes = sum(len(x.payload) for x in [*dots.values(), *rings])
    theirs_bytes = sum(len(json.dumps(x.data, ensure_ascii=False)) for x in [*geojson.values(), *outlines])
    assert mine_bytes < 0.4 * theirs_bytes, (mine_bytes, theirs_bytes)


def test_streets_image_samples_every_segment_like_segmentize(demo_result, monkeypatch):
    """burn_lines samples each segment at the vertices shapely.segmentize would make (without building them):
    on the demo's real streets the image is pixel for pixel the binning of segmentize's vertices."""
    from access15.maps.html import burn_lines

    lines = np.asarray(demo_result.network.edge_geometry)
    x0, y0, x1, y1 = shapely.total_bounds(lines)
    for res in (5.0, 23.0):
        shape = (int(np.ceil((y1 - y0) / res)), int(np.ceil((x1 - x0) / res)))
        xy = shapely.get_coordinates(shapely.segmentize(lines, res / 2))
        col, row = np.floor((xy[:, 0] - x0) / res).astype(int), np.floor((y1 - xy[:, 1]) / res).astype(int)
        ok = (col < shape[1]) & (row < shape[0])
        expected = np.zeros(shape, np.float32)
        expected[row[ok], col[ok]] = 1
        got = burn_lines(lines, x0, y1, res, shape)
        assert got.sum() > 1000 and np.array_equal(got, expected)
        monkeypatch.setattr("access15.maps.html.BURN_BLOCK", 1_000)  # 27 blocks: the same image
        assert np.array_equal(burn_lines(lines, x0, y1, res, shape), expected)
        monkeypatch.undo()


def test_gpkg_cells_are_the_squares_reprojected_and_the_analysis_is_untouched(demo_result):
    """The demand layer's squares are made from projected corners (no square in the metric CRS first): the
    same vertices, in the same order, as the metric squares reprojected; writing leaves the analysis as it was."""
    from access15.outputs import demand_layer

    before = demo_result.demand.copy()
    layer = demand_layer(demo_result)
    d, g = demo_result.demand, demo_result.grid
    squares = gpd.GeoSeries(g.cell_polygons(d["ix"].to_numpy(), d["iy"].to_numpy()), crs=d.crs).to_crs(4326)
    assert layer.crs == "EPSG:4326"
    assert shapely.equals_exact(layer.geometry.values, np.asarray(squares.values), tolerance=0).all()
    pd.testing.assert_frame_equal(pd.DataFrame(demo_result.demand), pd.DataFrame(before))
    assert "missing" not in demo_result.demand and demo_result.demand.crs == before.crs


def test_streets_layer_staged_in_blocks_reads_back_whole(demo_result, tmp_path, monkeypatch):
    """The streets are staged a block at a time: every street comes back, in order, bit for bit."""
    from access15 import gpkg_worker, outputs

    monkeypatch.setattr(outputs, "STREETS_PER_ROW", 10)  # blocks of 2,560 streets: about ten blocks
    lines = np.asarray(demo_result.network.edge_geometry)
    staged = outputs.stage_streets(lines, demo_result.network.crs, tmp_path / "s.arrows")
    gpkg_worker.write_staged(tmp_path / "s.gpkg", [staged], outputs.GPKG_WRITE_OPTIONS)
    back = gpd.read_file(tmp_path / "s.gpkg", layer="streets")
    assert len(back) == -(-len(lines) // 10) and back.crs == pyproj.CRS(demo_result.network.crs)
    assert shapely.equals_exact(shapely.get_parts(back.geometry.values), lines, tolerance=0).all()


def test_demand_and_gap_layers_written_in_batches_equal_geopandas_writing_them(demo_result, tmp_path, monkeypatch):
    """The demand and gap layers are streamed to GDAL in Arrow batches (each with its own squares): the file
    holds what geopandas writes from demand_layer's one table: fields, types, values and geometry."""
    from access15 import outputs

    monkeypatch.setattr(outputs, "CELL_BATCH", 1_000)  # 15 batches on the demo
    written = write_outputs(demo_result, tmp_path / "out", html=False)
    ref = outputs.demand_layer(demo_result)
    ref.to_file(tmp_path / "ref.gpkg", layer="demand", driver="GPKG", use_arrow=True)
    ref[~ref["covered_combined"]].to_file(tmp_path / "ref.gpkg", layer="gaps", driver="GPKG", use_arrow=True)
    for layer in ("demand", "gaps"):
        mine, theirs = (pyogrio.read_info(p, layer=layer) for p in (written["gpkg"], tmp_path / "ref.gpkg"))
        for key in ("fields", "ogr_types", "ogr_subtypes"):
            assert list(mine[key]) == list(theirs[key]), (layer, key)
        assert (mine["geometry_type"], mine["geometry_name"], mine["crs"], mine["features"]) == \
            (theirs["geometry_type"], theirs["geometry_name"], theirs["crs"], theirs["features"]) and mine["features"]
        a, b = (gpd.read_file(p, layer=layer) for p in (written["gpkg"], tmp_path / "ref.gpkg"))
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()


def test_grid_gap_outlines_have_nothing_to_simplify(demo_result):
    """The map draws grid gap outlines unsimplified: their vertices are cell corners, a cell apart, so the
    1 m simplification the other layers get would remove none (on the demo's every circle, the map's datum
    shift included)."""
    import geopandas as gpd

    from access15.maps.html import PRECISION_DEG, _gcj02_shift, _geo_layer

    res = demo_result
    for col in [c for c in res.demand.columns if c.startswith("covered_")]:
        gap = ~res.demand[col].to_numpy(bool)
        outline = res.grid.outline(res.demand["ix"].to_numpy()[gap], res.demand["iy"].to_numpy()[gap])
        frame = gpd.GeoDataFrame({"layer": [col]}, geometry=[outline], crs=res.demand.crs)
        plain = _geo_layer(frame, _gcj02_shift, 0.0, rounding="pointwise").geometry.values
        simplified = _geo_layer(frame, _gcj02_shift, PRECISION_DEG, rounding="pointwise").geometry.values
        assert shapely.get_num_coordinates(plain)[0] > 100 and shapely.equals_exact(plain, simplified, 0).all(), col
