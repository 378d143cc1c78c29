"""Per-capita standards end to end on Porto Alegre: capacities (some missing), supply ratios per unit,
plan targets (config + shipped preset), outputs and the CLI."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from access15 import analyze
from access15.config import config_from_dict
from access15.errors import InputError
from access15.outputs import write_outputs
from access15.presets import load_preset

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
HEX = DATA / "population" / "porto_alegre_h3r9_population.csv"
BLANKED = ["clinic:89a901295b7ffff", "clinic:89a9012852bffff", "school:89a9012a3cfffff"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Districts = the real hexagons grouped by their H3 resolution-7 parent (an exact partition), and the
    real facility file with three capacities blanked."""
    import h3

    tmp = tmp_path_factory.mktemp("std")
    df = pd.read_csv(HEX)
    from access15.io.population import _h3_polygons

    hexes = gpd.GeoDataFrame({"parent": [h3.cell_to_parent(c, 7) for c in df["id"]]},
                             geometry=_h3_polygons(df, "id", HEX), crs=4326)
    units = hexes.dissolve("parent").reset_index()
    units["level"] = "street"
    units.to_file(tmp / "units.gpkg")
    fac = pd.read_csv(DATA / "facilities" / "porto_alegre_facilities.csv")
    ids = set(fac["facility_id"])
    blank = [i for i in BLANKED if i in ids]
    assert len(blank) >= 2
    fac.loc[fac["facility_id"].isin(blank), "count"] = np.nan
    fac.to_csv(tmp / "facilities.csv", index=False)
    return tmp, blank


@pytest.fixture(scope="module")
def result(inputs, porto_alegre_network):
    tmp, _ = inputs
    cfg = config_from_dict({
        "name": "standards test",
        "network": {"path": str(DATA / "osm" / "porto_alegre.osm.pbf")},
        "population": {"path": str(HEX), "h3_column": "id"},
        "boundaries": {"path": str(tmp / "units.gpkg"), "name_column": "parent", "level_column": "level"},
        "categories": {"clinic": {"minutes": 15}, "school": {"minutes": 15}},
        "facilities": [{"path": str(tmp / "facilities.csv"), "id_column": "facility_id",
                        "capacity_column": "count"}],
        "targets": {
            "preset": "china_plans",
            "clinics_low": {"category": "clinic", "measure": "per_10000", "value": 1.0, "population": "total"},
            "clinics_high": {"category": "clinic", "measure": "per_10000", "value": 5.0, "population": "total"},
            "schools_high": {"category": "school", "measure": "per_10000", "value": 5.0, "population": "total"},
            "clinic_every_street": {"category": "clinic", "measure": "min_per_unit", "value": 1, "level": "street"},
            "school_half_streets": {"category": "school", "measure": "unit_share", "value": 0.5, "level": "street"},
        },
    })
    return analyze(cfg, network=porto_alegre_network)


def test_missing_capacity_is_reported_not_zero(result, inputs):
    _, blank = inputs
    assert sorted(result.capacity["facility_id"]) == sorted(blank)
    assert any("have no capacity" in w and blank[0] in w for w in result.warnings)
    fac = pd.read_csv(DATA / "facilities" / "porto_alegre_facilities.csv")
    sup = result.supply.set_index(["level", "unit", "category"])
    clinic = sup.loc[("overall", "(all)", "clinic")]
    known = fac[(fac["category"] == "clinic") & ~fac["facility_id"].isin(blank)]["count"].sum()
    assert clinic["capacity"] == pytest.approx(known)
    assert clinic["missing_capacity"] == sum(b.startswith("clinic") for b in blank)
    assert clinic["per_1000"] == pytest.approx(known / 812_935 * 1000)


def test_supply_per_unit_adds_up(result):
    s = result.supply
    for cat in ("clinic", "school"):
        per_unit = s[(s["level"] == "street") & (s["category"] == cat)]
        overall = s[(s["level"] == "overall") & (s["category"] == cat)].iloc[0]
        assert per_unit["residents"].sum() == pytest.approx(overall["residents"], rel=1e-9)
        assert per_unit["facilities"].sum() == overall["facilities"]
        assert per_unit["capacity"].sum() == pytest.approx(overall["capacity"])
        assert per_unit["sfca2_per_1000"].notna().any()
    # the 2SFCA spreads supply differently from the administrative ratio
    u = s[(s["level"] == "street") & (s["category"] == "clinic") & (s["residents"] > 1000)]
    assert not np.allclose(u["per_1000"], u["sfca2_per_1000"])


def test_targets_met_not_met_unknown(result):
    t = result.targets
    overall = t[t["level"] == "overall"].set_index("target")
    assert overall.loc["clinics_low", "status"] == "met" and bool(overall.loc["clinics_low", "met"])
    # not met, but three clinics have no capacity: unknown, never silently "not met"
    assert overall.loc["clinics_high", "status"].startswith("unknown: capacity missing for")
    assert pd.isna(overall.loc["clinics_high", "met"])
    sch = t[(t["target"] == "schools_high") & (t["level"] == "overall")].iloc[0]
    assert sch["figure"] < 5.0 and sch["status"] in ("not met", "unknown: capacity missing for 1 facilities")
    every = t[(t["target"] == "clinic_every_street") & (t["unit"] == "")].iloc[0]
    per_street = t[(t["target"] == "clinic_every_street") & (t["unit"] != "")]
    assert len(per_street) == 44
    assert every["figure"] == per_street["met"].sum()
    assert bool(every["met"]) == bool(per_street["met"].all())
    share = t[t["target"] == "school_half_streets"].iloc[0]
    assert 0 < share["figure"] <= 1
    # preset: the clinic circle target of Dinghai is checked; targets of categories not analysed are skipped
    pre = t[t["target"] == "circle_15min_clinic_dinghai_2027"]
    assert (pre["city"] == "Zhoushan Dinghai").all() and (pre["year"] == 2027).all()
    assert pre[pre["level"] == "overall"]["figure"].iloc[0] == pytest.approx(
        result.coverage.set_index("category").loc["clinic", "share_covered"])
    assert not t["category"].isin(["childcare", "elderly_care"]).any()


def test_preset_is_sourced():
    preset = load_preset("china_plans")
    assert len(preset) >= 15
    for name, t in preset.items():
        assert t["city"] and t["source"], name
    assert preset["childcare_places_dinghai_2027"]["value"] == 5.5
    assert preset["sports_area_dinghai_2027"]["value"] == 3.2


def test_target_config_errors():
    base = {"network": {"path": "x.osm.pbf"}, "facilities": [{"path": "osm"}], "categories": {"clinic": {}}}
    with pytest.raises(InputError, match=r"\[targets.t\] category 'childcare' is not analysed"):
        config_from_dict({**base, "targets": {"t": {"category": "childcare", "value": 4.5}}})
    with pytest.raises(InputError, match="measure 'min_per_unit' needs level"):
        config_from_dict({**base, "targets": {"t": {"category": "clinic", "measure": "min_per_unit", "value": 1}}})
    with pytest.raises(InputError, match="unknown preset 'ningbo'"):
        config_from_dict({**base, "targets": {"preset": "ningbo"}})
    with pytest.raises(InputError, match="did you mean 'value'"):
        config_from_dict({**base, "targets": {"t": {"category": "clinic", "valu": 1}}})


def test_outputs_and_cli(result, tmp_path):
    written = write_outputs(result, tmp_path / "out", html=False)
    for key in ("unit_coverage", "unit_check", "supply", "targets", "capacity"):
        assert written[key].is_file()
    layers = dict(pyogrio.list_layers(written["gpkg"]))
    assert {"unit_coverage", "supply", "targets", "capacity_missing", "unit_check"} <= set(layers)
    uc = gpd.read_file(written["gpkg"], layer="unit_coverage")
    assert uc.geometry.notna().all() and len(uc) == len(result.unit_coverage)
    tg = pd.read_csv(written["targets"])
    assert set(tg["status"].str.split(":").str[0]) >= {"met", "not met", "unknown"}


def test_cli_prints_new_tables(tmp_path):
    from access15.cli import app

    out = CliRunner().invoke(app, ["run", str(ROOT / "configs" / "porto_alegre.toml"), "--out",
                                   str(tmp_path / "demo"), "--no-html"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "812,935 persons" in out.output
    assert "Supply per resident" in out.output
