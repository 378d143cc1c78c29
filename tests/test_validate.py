"""access15 validate: every problem of messy real inputs listed, errors make the command fail."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from access15.cli import app
from access15.validate import Problem, has_errors, unknown_config_keys, validate

ROOT = Path(__file__).resolve().parents[1]
TD = ROOT / "tests" / "data"
TSINGHUA = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
BOUNDS = ROOT / "data" / "boundaries" / "haidian_longgang_districts_gcj02.geojson"


def write_config(tmp: Path, body: str, name: str = "c.toml") -> Path:
    p = tmp / name
    p.write_text(f'name = "t"\n[network]\npath = "{TSINGHUA}"\n' + body, encoding="utf-8")
    return p


CATS = "[categories.fitness]\n[categories.convenience]\n[categories.clinic]\n[categories.culture]\n" \
       "[categories.childcare]\n"


def find(problems: list[Problem], text: str, severity: str | None = None) -> list[Problem]:
    return [p for p in problems if text in p.problem and (severity is None or p.severity == severity)]


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory) -> Path:
    """The real Tsinghua list (GCJ-02) spoiled the ways spreadsheets spoil it, saved as GBK."""
    df = pd.read_csv(TD / "tsinghua_facilities_gcj02_utf8bom.csv", dtype=str, encoding="utf-8-sig",
                     keep_default_na=False)
    df.loc[1, "床位数"] = "40张"           # row 2: a unit glued to the number
    df.loc[2, "经度"] = "116.32x"          # row 3: a typo in a coordinate
    df.loc[3, "类别"] = "养老"              # row 4: a category the config does not have
    df.loc[4, "类别"] = ""                  # row 5: no category
    lg = pd.read_csv(TD / "longgang_facilities_gcj02_gbk.csv", dtype=str, encoding="gbk", keep_default_na=False)
    far = lg.iloc[[1]]                      # a real Shenzhen shop in a Beijing list: outside the study area
    dup = df.iloc[[10]]                     # row 11 again
    df = pd.concat([df, dup, far], ignore_index=True)
    p = tmp_path_factory.mktemp("messy") / "设施_gbk.csv"
    df.to_csv(p, index=False, encoding="gbk")
    return p


def test_messy_chinese_list_every_problem_found(tmp_path, messy_csv):
    cfg = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{messy_csv}"\ncrs = "gcj02"\n'
                                        'capacity_column = "床位数"\nid_column = "编号"\n')
    probs = validate(cfg)
    assert has_errors(probs)
    enc = find(probs, "read as GBK text", "note")
    assert len(enc) == 1
    cap = find(probs, "'40张' is not a number", "error")
    assert len(cap) == 1 and cap[0].row == 2 and cap[0].field == "床位数" and cap[0].suggestion == "write 40"
    lon = find(probs, "'116.32x' is not a number", "error")
    assert len(lon) == 1 and lon[0].row == 3 and lon[0].field == "经度" and "116.32" in lon[0].suggestion
    empty = find(probs, "empty category", "error")
    assert [p.row for p in empty] == [5] and empty[0].field == "类别"
    assert find(probs, "longitude/latitude read from columns '经度'/'纬度'", "note")


def test_messy_list_warnings_once_errors_are_fixed(tmp_path, messy_csv):
    df = pd.read_csv(messy_csv, dtype=str, encoding="gbk", keep_default_na=False)
    df.loc[1, "床位数"], df.loc[2, "经度"], df.loc[4, "类别"] = "40", "116.32", "fitness"
    p = tmp_path / "fixed.csv"
    df.to_csv(p, index=False, encoding="utf-8-sig")
    cfg = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{p}"\ncrs = "gcj02"\ncapacity_column = "床位数"\n')
    probs = validate(cfg)
    assert not has_errors(probs), [p for p in probs if p.severity == "error"]
    unknown = find(probs, "category '养老'", "warning")
    assert len(unknown) == 1 and unknown[0].row == 4
    dup = find(probs, "duplicate of row 11", "warning")
    assert len(dup) == 1 and dup[0].row == len(df) - 1
    out = find(probs, "outside the study area", "note")   # outside the area: a note (it may still serve people)
    assert [p.row for p in out if p.row is not None] == [len(df)]   # listed by row ...
    assert find(probs, "1 facilities lie outside the study area", "note")  # ... and the analysis's own note
    left = find(probs, "farther than 500 m from any walkable street", "warning")  # ... but this one is off the map
    assert len(left) == 1 and "1 facilities" in left[0].problem
    # the Tsinghua extract has 28 pieces, but every cell joins the main one (snap.py): nothing stranded
    assert not find(probs, "separate pieces", "warning")
    assert find(probs, "UTF-8 with BOM", "note")


def test_gcj_list_declared_wgs84_is_a_warning(tmp_path):
    cfg = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{TD / "tsinghua_facilities_gcj02_utf8bom.csv"}"\n')
    probs = validate(cfg)
    shift = find(probs, "look like GCJ-02", "warning")
    assert len(shift) == 1 and 'crs = "gcj02"' in shift[0].suggestion


def test_every_misspelt_key_is_reported_with_a_suggestion(tmp_path):
    cfg = write_config(tmp_path, "max_snapm = 300\n" + CATS.replace("[categories.clinic]\n",
                                                                    "[categories.clinic]\nminuts = 15\n")
                       + '[[facilities]]\npath = "osm"\ncatgories = ["clinic"]\n[ouput]\ndir = "x"\n')
    probs = validate(cfg)
    got = {(p.field, p.suggestion) for p in probs if p.severity == "error"}
    assert got == {("max_snapm", "did you mean 'max_snap_m'?"), ("minuts", "did you mean 'minutes'?"),
                   ("catgories", "did you mean 'categories'?"), ("ouput", "did you mean 'output'?")}


def test_unknown_keys_walk_every_table():
    data = {"network": {"path": "x", "max_snp_m": 1}, "facilities": [{"path": "osm"}, {"pth": "a"}],
            "categories": {"clinic": {"minutes": 15, "requird": True}}}
    assert [(p.field, p.problem) for p in unknown_config_keys(data, "c.toml")] == [
        ("max_snp_m", "unknown key 'max_snp_m' in [network]"),
        ("pth", "unknown key 'pth' in [facilities #2]"),
        ("requird", "unknown key 'requird' in [categories.clinic]")]


def test_boundaries_invalid_and_empty_polygons(tmp_path):
    gdf = gpd.read_file(BOUNDS)
    ring = shapely.get_coordinates(gdf.geometry.values[0].geoms[0].exterior)
    ring[[100, 101]] = ring[[101, 100]]           # two vertices exchanged: a self-intersection
    bad = shapely.Polygon(ring)
    assert not shapely.is_valid(bad)
    gdf = gpd.GeoDataFrame({"district": ["海淀区", "龙岗区", "空"]},
                           geometry=[bad, gdf.geometry.values[1], shapely.Polygon()], crs=4326)
    p = tmp_path / "districts.geojson"
    gdf.to_file(p)
    cfg = write_config(tmp_path, CATS + '[[facilities]]\npath = "osm"\n[demand]\ncell_m = 2000\n'
                       f'[boundaries]\npath = "{p}"\nname_column = "district"\ncrs = "gcj02"\n')
    probs = validate(cfg)
    inv = find(probs, "invalid polygon", "warning")
    assert len(inv) == 1 and inv[0].row == 1 and "intersection" in inv[0].problem.lower()
    empty = find(probs, "empty geometry", "error")
    assert [p.row for p in empty] == [3]


def test_gcj02_boundary_file_without_crs_is_flagged(tmp_path):
    cfg = write_config(tmp_path, CATS + '[[facilities]]\npath = "osm"\n[demand]\ncell_m = 2000\n'
                       f'[boundaries]\npath = "{BOUNDS}"\nname_column = "district"\n')
    assert find(validate(cfg), "file name says GCJ-02", "warning")


def test_missing_files_and_bad_crs(tmp_path):
    cfg = write_config(tmp_path, CATS + '[[facilities]]\npath = "nowhere.csv"\n[[facilities]]\n'
                       f'path = "{TD / "longgang_facilities_gcj02_gbk.csv"}"\ncrs = "gcj2"\n')
    probs = validate(cfg)
    assert find(probs, "facility file not found", "error")
    assert find(probs, "unknown CRS 'gcj2'", "error")


def test_cli_validate_table_and_exit_codes(tmp_path, messy_csv):
    runner = CliRunner()
    bad = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{messy_csv}"\ncrs = "gcj02"\n'
                                        'capacity_column = "床位数"\n', "bad.toml")
    res = runner.invoke(app, ["validate", str(bad)], env={"COLUMNS": "250"})
    assert res.exit_code == 1, res.output
    assert "'40张' is not a number" in res.output and "write 40" in res.output
    good = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{TD / "tsinghua_facilities_gcj02_utf8bom.csv"}"\n'
                                         'crs = "gcj02"\n', "good.toml")
    res = runner.invoke(app, ["validate", str(good)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "0 errors" in res.output
    res = runner.invoke(app, ["validate", "--strict", str(good)], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    shifted = write_config(tmp_path, CATS + f'[[facilities]]\npath = "{TD / "tsinghua_facilities_gcj02_utf8bom.csv"}"\n',
                           "shifted.toml")
    assert runner.invoke(app, ["validate", str(shifted)], env={"COLUMNS": "250"}).exit_code == 0
    res = runner.invoke(app, ["validate", "--strict", str(shifted)], env={"COLUMNS": "250"})
    assert res.exit_code == 1   # GCJ-02 coordinates declared as WGS84 are a warning


def test_demo_config_validates_with_population():
    probs = validate(ROOT / "configs" / "porto_alegre.toml")
    assert not has_errors(probs)
    assert find(probs, "population 812,935", "note")
    split = find(probs, "separate pieces", "warning")
    assert len(split) == 1 and "persons" in split[0].problem
