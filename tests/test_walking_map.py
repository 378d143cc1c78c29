"""The HTML map's walker switch (issue 15): with ``[output] map_profiles`` every category is also routed for
each listed walking profile and the map's legend switches the travel-time and gap layers between them; without
it the legend names who each circle is measured for. On the bundled Porto Alegre demo with its real DEM
(configs/porto_alegre_slope.toml: clinics measured for older people)."""

from __future__ import annotations

import warnings

import folium
import numpy as np
import pytest

from access15 import analyze
from access15.config import load_config
from access15.errors import InputError
from access15.maps.html import build_map, map_variants, render_map, write_map
from access15.outputs import load_result, write_outputs
from access15.text import t, word

from .browser import open_offline, require_browser
from .conftest import ROOT

SLOPE_CONFIG = ROOT / "configs" / "porto_alegre_slope.toml"
PROFILES = ["walk", "elderly", "wheelchair"]


@pytest.fixture(scope="module")
def switched(porto_alegre_network):
    cfg = load_config(SLOPE_CONFIG)
    cfg.output.map_profiles = list(PROFILES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyze(cfg, network=porto_alegre_network)


def _overlays(fmap: folium.Map) -> dict[str, folium.raster_layers.ImageOverlay]:
    """Top-level image overlays by layer name (the shown ones and the switch's hidden alternatives)."""
    return {c.layer_name: c for c in fmap._children.values() if isinstance(c, folium.raster_layers.ImageOverlay)}


def _gap_image(fmap: folium.Map, name: str) -> str:
    """The data URL of the gap cells of the gap group named ``name``."""
    group = next(c for c in fmap._children.values() if isinstance(c, folium.FeatureGroup) and c.layer_name == name)
    return next(c for c in group._children.values() if isinstance(c, folium.raster_layers.ImageOverlay)).url


def test_each_profile_is_routed_for_every_category(switched):
    """The run holds every category's times per profile; the clinic's own walker is the elderly profile, so its
    times equal the elderly ones exactly; an older walker covers no one the adult does not; the coverage table
    stays the run's own."""
    d = switched.demand
    assert map_variants(switched_map_data(switched)) == PROFILES
    np.testing.assert_array_equal(d["time_clinic"].to_numpy(), d["time_clinic@elderly"].to_numpy())
    for cat in switched.config.categories:
        walk, old = d[f"covered_{cat}@walk"].to_numpy(), d[f"covered_{cat}@elderly"].to_numpy()
        assert not (old & ~walk).any()
        assert old.sum() < walk.sum()
    w = d["weight"].to_numpy()
    share = {p: float((w * d[f"covered_clinic@{p}"]).sum() / w.sum()) for p in PROFILES}
    assert share["walk"] > share["elderly"] > share["wheelchair"] > 0
    cov = switched.coverage.set_index("category")
    assert cov.loc["clinic", "share_covered"] == pytest.approx(share["elderly"], abs=1e-9)


def switched_map_data(result):
    from access15.maps.mapdata import MapData

    return MapData.from_result(result)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_map_has_a_layer_per_profile_and_a_labelled_switch(switched, lang):
    """Each travel-time layer and gap group has one hidden alternative per profile, drawn from that profile's
    times; the legend has one radio button per profile, labelled from the text table."""
    fmap = build_map(switched, lang=lang)
    over = _overlays(fmap)
    cats = switched.config.categories
    for cat, c in cats.items():
        name = t(lang, "travel_time", label=c.label(lang))
        assert over[name].control and all(not over[f"{name} @{p}"].control for p in PROFILES)
    clinic = t(lang, "travel_time", label=cats["clinic"].label(lang))
    assert over[f"{clinic} @elderly"].url == over[clinic].url  # the clinic is measured for older people
    assert over[f"{clinic} @wheelchair"].url != over[clinic].url
    gap = t(lang, "gap_combined")
    assert len({_gap_image(fmap, gap), *(_gap_image(fmap, f"{gap} @{p}") for p in PROFILES)}) == 4
    page = render_map(switched, lang=lang)
    assert page.count("type='radio' name='access15-walker'") == len(PROFILES) + 1
    assert t(lang, "walkers_title") in page and t(lang, "walker_configured") in page
    for p in PROFILES:
        assert t(lang, "walker_profile", name=word(lang, "walk_profiles", p), kmh={"walk": 4, "elderly": 3,
                                                                                   "wheelchair": 3.6}[p]) in page


def test_one_profile_per_category_names_it_in_the_legend(porto_alegre_network, tmp_path):
    """Without map_profiles there is no switch; the legend names each circle's walker (from the coverage
    table); a map_profiles entry that is not a walking profile is a one-line error."""
    cfg = load_config(SLOPE_CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(cfg, network=porto_alegre_network)
    page = render_map(res)
    assert "access15-walker" not in page and not any("@" in c for c in res.demand.columns)
    assert "Measured for: Primary health care: elderly 3 km/h, slope · School: walk 4 km/h, slope" in page
    text = SLOPE_CONFIG.read_text(encoding="utf-8").replace("../data/", str(ROOT / "data") + "/")
    bad = tmp_path / "bad.toml"
    for profiles, match in (('["elderly", "eldery"]', r"map_profiles = 'eldery' is not a walking profile.*elderly"),
                            ('["pram", "pram"]', "names a profile twice")):
        bad.write_text(text.replace("[output]\n", f"[output]\nmap_profiles = {profiles}\n"), encoding="utf-8")
        with pytest.raises(InputError, match=match):
            load_config(bad)


def test_switch_survives_the_geopackage(switched, tmp_path):
    """The map drawn from the GeoPackage has the same switch and layers as the run's."""
    out = write_outputs(switched, tmp_path, html=False)
    data = load_result(out["gpkg"])
    assert map_variants(data) == PROFILES
    a, b = _overlays(build_map(switched)), _overlays(build_map(data))
    assert sorted(a) == sorted(b)
    assert all(a[k].url == b[k].url for k in a)


def test_switching_profiles_in_chromium(switched, tmp_path):
    """In real Chromium (offline): choosing the wheelchair profile shows its combined gap cells, choosing "as
    configured" the run's own again; no console errors, no request."""
    exe = require_browser()
    path = write_map(switched, tmp_path / "map.html")
    fmap = build_map(switched)
    gap = t("en", "gap_combined")
    own, wheel = _gap_image(fmap, gap), _gap_image(fmap, f"{gap} @wheelchair")
    first = open_offline(path, executable=exe)
    assert first.errors == [] and first.blocked == []
    assert own in first.data["image_srcs"] and wheel not in first.data["image_srcs"]
    assert first.data["walkers"] == [["", True]] + [[p, False] for p in PROFILES]
    rep = open_offline(path, executable=exe, check=('input[name="access15-walker"][value="wheelchair"]',))
    assert rep.errors == [] and rep.blocked == []
    assert wheel in rep.data["image_srcs"] and own not in rep.data["image_srcs"]
    assert rep.data["overlay_checked"] == first.data["overlay_checked"]  # the layer choice stays
    back = open_offline(path, executable=exe, click_first_unchecked=True,
                        check=('input[name="access15-walker"][value="elderly"]', 'input[name="access15-walker"][value=""]'))
    assert back.errors == [] and own in back.data["image_srcs"]
    over = _overlays(fmap)
    assert over[t("en", "travel_time", label="Primary health care")].url in back.data["image_srcs"]


def test_a_scenario_map_has_no_stale_walkers(switched):
    """A scenario's result keeps only its own times: the other walkers' columns are the base run's, so they are
    dropped and its map has no switch."""
    from access15.scenario import Proposed, Scenario, ScenarioEngine

    res, _ = ScenarioEngine(switched).scenario_result(Scenario("s", [Proposed("p1", "clinic", -51.18057, -30.04147)]))
    assert not any("@" in c for c in res.demand.columns)
    assert map_variants(switched_map_data(res)) == [] and "access15-walker" not in render_map(res)
