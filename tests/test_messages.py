"""Issue 11, "messages that mislead" and provenance: every message names the file/row/field or the option to
change, and says what to do; run.json lists every input that changes a figure.

All on the bundled data (data/, configs/); no mocks.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from access15 import analyze, provenance
from access15.batch import load_regions, run_batch
from access15.cli import app
from access15.config import FacilitySource, config_from_dict, load_config
from access15.errors import InputError
from access15.io.facilities import read_facility_file
from access15.io.tables import number_fix, suggest_number, suggest_number_text
from access15.outputs import load_result, write_outputs
from access15.siting import parse_lonlat, read_sites, suggest_sites
from access15.text import share
from access15.validate import validate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
DEMO = ROOT / "configs" / "porto_alegre.toml"
TSINGHUA = ROOT / "configs" / "beijing_tsinghua.toml"
FACILITIES = DATA / "facilities" / "porto_alegre_facilities.csv"
DISTRICTS = DATA / "boundaries" / "haidian_longgang_districts_gcj02.geojson"

PROJECT = """
name = "Porto Alegre (messages test)"
[network]
path = "porto_alegre.osm.pbf"
max_snap_m = 500
[demand]
cell_m = 100
[categories.clinic]
minutes = 15
[[facilities]]
path = "facilities.csv"
category_column = "category"
id_column = "facility_id"
[output]
dir = "out"
"""


def _cli(*args: str, lang: str = "en") -> tuple[int, str]:
    """Exit code and the whole output (stdout + stderr) of one CLI call in ``lang`` (ACCESS15_LANG, over the
    config's language), on a wide terminal, with the table frames and runs of spaces folded so that a sentence
    can be searched as one line."""
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1", "ACCESS15_LANG": lang})
    text = re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐]", " ", res.output)
    return res.exit_code, re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The demo's network and facilities (grid cells, no population) in a folder of their own; its analysis
    is cached there by the first siting command."""
    d = tmp_path_factory.mktemp("messages_project")
    shutil.copy(DATA / "osm" / "porto_alegre.osm.pbf", d / "porto_alegre.osm.pbf")
    shutil.copy(FACILITIES, d / "facilities.csv")
    (d / "site.toml").write_text(PROJECT, encoding="utf-8")
    return d / "site.toml"


# 1. a number with a unit or a degree sign: the suggestion keeps every digit as typed

def test_number_suggestion_keeps_every_digit(tmp_path):
    assert suggest_number_text("116.325310°") == "116.325310" and suggest_number("116.325310°") == 116.32531
    assert suggest_number_text("1,200") == "1200" and suggest_number_text("40张") == "40"
    assert suggest_number_text("116,325310") == "116.325310" and suggest_number_text("a or b") is None
    assert number_fix("116.325310°", "a decimal coordinate") == "write the plain number 116.325310"
    df = pd.read_csv(FACILITIES, dtype=str)
    df.loc[2, "lon"] = df.loc[2, "lon"] + "0°"  # -51.xxxxxx0°: seven decimals as typed
    typed = df.loc[2, "lon"].rstrip("°")
    path = tmp_path / "clinics.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError) as exc:
        read_facility_file(FacilitySource(path=str(path), category_column="category"), path)
    assert f"row 3, field 'lon': '{typed}°' is not a number. write the plain number {typed}." in str(exc.value)
    # validate's copy of the suggestion says the same
    cfg = tmp_path / "c.toml"
    cfg.write_text(PROJECT.replace('"porto_alegre.osm.pbf"', json.dumps(str(DATA / "osm" / "monaco.osm.pbf")))
                   .replace('"facilities.csv"', '"clinics.csv"'), encoding="utf-8")
    found = [p for p in validate(cfg) if p.field == "lon" and p.row == 3]
    assert found and found[0].suggestion == f"write the plain number {typed}"


# 2. --at given as lat,lon

def test_at_given_as_lat_lon_says_so(project):
    with pytest.raises(InputError, match=r"looks like latitude,longitude\. write --at=116\.32,39\.99"):
        parse_lonlat("39.99,116.32")  # not a longitude,latitude pair at all
    code, out = _cli("site-check", str(project), "-c", "clinic", "--at=-30.04147,-51.18057", "--no-html")
    assert code == 0 and "outside_area" in out
    assert ("outside the study area (the network extract), but the swapped pair is inside: it looks like "
            "latitude,longitude; write --at=-51.18057,-30.04147 (longitude first)") in out
    code, out = _cli("site-check", str(project), "-c", "clinic", "--at=-52.5,-30.04147", "--no-html")
    assert code == 0 and "outside the study area (the network extract); it is not analysed here" in out
    assert "swapped" not in out  # really outside: no hint


# 3. one rule for shares: table and sentence agree

def test_share_rule():
    assert share(0.8355) == "83.6%" and share(0.8345) == "83.4%" and share(0.83549) == "83.5%"  # half-even
    assert share(0.99996) == "99.9%" and share(0.999999999) == "99.9%" and share(1.0) == "100%"
    assert share(0.9) == "90%" and share(0.0) == "0%" and share(float("nan")) == "–"


def test_suggest_table_and_sentence_show_the_same_share(project, tmp_path):
    cands = tmp_path / "three.csv"
    # three street nodes in the clinic gap; together they lift the share to 55.557%: "55.6%", not "55.5%"
    pd.DataFrame({"name": ["a", "b", "c"], "lon": [-51.15339, -51.21841, -51.17897],
                  "lat": [-29.99817, -30.05244, -30.05699]}).to_csv(cands, index=False)
    code, out = _cli("suggest", str(project), "-c", "clinic", "--k", "10", "--candidates", str(cands), "--no-html",
                     "-o", str(tmp_path / "o"))
    assert code == 0, out
    table_last = re.findall(r" [abc] -51\.\d{5} -[23]\d\.\d{5} [\d,]+ [\d,]+ (\d+(?:\.\d)?%)", out)[-1:]
    before, after = re.search(r"clinic circle \((\S+%) -> (\S+%)\)", out).groups()
    reach = re.search(r"all of them together reach (\S+%)\.", out).group(1)
    assert table_last == [after] == ["55.6%"] and reach == after
    assert f"existing facilities {before}" in out


# 4. k larger than the candidates: no "stopped early" for an optimum, no 100% short of everyone

def test_suggest_with_a_huge_k_does_not_contradict_itself(demo_result):
    s = suggest_sites(demo_result, "clinic", k=200_000, method="exact")
    assert not any("stopped early" in n for n in s.notes)
    assert s.optimal and s.method == "exact"
    assert (s.sites["newly_covered"] > 0).all()  # sites that add no one are not suggested
    assert s.share_after < 1 and s.cover["reachable"] is False
    text = s.summary()
    assert "-> 100%" not in text and "100.0%" not in text
    after = re.search(r"-> (\S+%)\)", text).group(1)
    assert f"reach {after}." in text  # the same share, said once


# 5. a header-only candidates file

def test_empty_candidates_file_gets_candidate_wording(tmp_path):
    path = tmp_path / "candidates.csv"
    path.write_text("name,lon,lat\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_sites(path, "clinic")
    assert str(exc.value) == f"{path}: the candidates file has no rows. add candidate sites, one row per site with lon and lat."
    with pytest.raises(InputError, match="candidates file not found"):
        read_sites(tmp_path / "missing.csv", "clinic")


# 6. access15 map on a CSV

def test_map_on_a_csv_says_it_is_not_a_geopackage():
    code, out = _cli("map", str(FACILITIES))
    assert code == 2 and "Traceback" not in out
    assert "porto_alegre_facilities.csv: not a GeoPackage (a CSV file). pass the access15.gpkg written by " \
           "'access15 run', or its output folder." in out
    with pytest.raises(InputError, match="not a GeoPackage"):
        load_result(FACILITIES)


# 7. and 8. batch: --by and --regions-crs named

def test_batch_names_its_own_options(tmp_path):
    with pytest.raises(InputError) as exc:
        load_regions(DISTRICTS, "name")
    msg = str(exc.value)
    assert "no column 'name' (columns: adcode, city, district)" in msg and "--by, e.g. --by adcode" in msg
    assert "[boundaries]" not in msg and "name_column" not in msg
    code, out = _cli("batch", str(TSINGHUA), "--regions", str(DISTRICTS), "--scheduler", "serial")
    assert code == 2 and "with --by" in out and "district" in out

    metres = gpd.read_file(DISTRICTS).to_crs(3857)
    nocrs = tmp_path / "regions.shp"
    metres.set_crs(None, allow_override=True).to_file(nocrs)
    with pytest.raises(InputError) as exc:
        load_regions(nocrs, "district")
    assert "the regions file has no coordinate reference system" in str(exc.value)
    assert "--regions-crs" in str(exc.value) and "[boundaries]" not in str(exc.value)
    wrong = tmp_path / "regions.geojson"
    metres.set_crs(4326, allow_override=True).to_file(wrong)  # metres labelled as degrees
    code, out = _cli("batch", str(TSINGHUA), "--regions", str(wrong), "--by", "district", "--scheduler", "serial")
    assert code == 2 and "are not longitude/latitude" in out and "--regions-crs" in out and "[boundaries]" not in out
    assert len(load_regions(nocrs, "district", crs="EPSG:3857")) == 2  # the option named does the job
    # the config's own [boundaries] keep their wording
    from access15.config import BoundaryConfig
    from access15.io.boundaries import load_units
    with pytest.raises(InputError, match=r"in \[boundaries\]"):
        load_units(BoundaryConfig(path=str(nocrs), name_column="district"), Path, None)


# 9. run on a folder

def test_run_on_a_folder_names_the_config_inside(tmp_path):
    code, out = _cli("run", str(ROOT / "configs"))
    assert code == 2 and "this is a folder, not a config file" in out
    assert "pass one of its .toml files: beijing_tsinghua.toml, porto_alegre.toml" in out
    one = tmp_path / "project"
    one.mkdir()
    (one / "city.toml").write_text(PROJECT, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"pass the config file inside it: {one / 'city.toml'}")):
        load_config(one)
    with pytest.raises(InputError, match="this folder has none"):
        load_config(tmp_path / "project" / "..")


# 10. help texts show the config sections

@pytest.mark.parametrize("command, wanted", [
    ("run", ["Output folder (default: [output] dir)."]),
    ("batch", ["Output folder (default: [output] dir/batch)."]),
    ("suggest", ["the plan's coverage target in [targets], else 1.0", "(default: [output] dir/siting)"]),
    ("site-check", ["(default: [output] dir/siting)"]),
])
def test_help_shows_config_sections(command, wanted):
    code, out = _cli(command, "--help")
    assert code == 0
    for w in wanted:
        assert w in out, (w, out)
    assert "(default: dir" not in out and "target in ," not in out


# 11. --spacing 0 and --workers 0

@pytest.mark.parametrize("value", ["0", "-250"])
def test_non_positive_spacing_and_workers_are_refused(project, value, demo_result):
    code, out = _cli("suggest", str(project), "-c", "clinic", "--spacing", value, "--no-html")
    assert code == 2 and "--spacing: candidate spacing" in out and "is not positive" in out and "Traceback" not in out
    with pytest.raises(InputError, match="--spacing"):
        suggest_sites(demo_result, "clinic", k=1, spacing_m=float(value))
    code, out = _cli("batch", str(TSINGHUA), "--regions", str(DISTRICTS), "--by", "district", "--workers", value)
    assert code == 2 and f"--workers: {value} worker processes. give 1 or more" in out
    # the Chinese example's own language ([output] lang = "zh"), with nothing set in the environment
    code, out = _cli("batch", str(TSINGHUA), "--regions", str(DISTRICTS), "--by", "district", "--workers", value,
                     lang="")
    assert code == 2 and out.strip() == (f"错误： --workers：工作进程数 {value} 无效。请设为 1 或以上，或省略 --workers "
                                         "以按每个 CPU 核心一个进程运行。")
    with pytest.raises(InputError, match="--workers"):
        run_batch(TSINGHUA, DISTRICTS, "district", workers=int(value))


# provenance

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_lists_every_input_of_the_demo():
    rec = provenance.collect(load_config(DEMO))
    roles = {r["role"]: r for r in rec["inputs"]}
    pop = roles["population"]
    assert pop["name"] == "porto_alegre_h3r9_population.csv"
    assert pop["sha256"] == _sha(DATA / "population" / "porto_alegre_h3r9_population.csv")
    assert roles["config"]["sha256"] == _sha(DEMO)
    assert roles["facilities #1"]["sha256"] == _sha(FACILITIES)
    tags = roles["tag mapping (built-in)"]  # [[facilities]] path = "osm" and the walkable-way filter
    assert tags["packaged"] and tags["sha256"] == hashlib.sha256(
        resources.files("access15").joinpath("data/osm_tags.toml").read_bytes()).hexdigest()
    # the demo extract's header has no date: said, not a bare null
    assert rec["osm_timestamp"] is None and rec["osm_timestamp_note"] == "the extract's header has no timestamp"
    assert roles["network"]["osm_timestamp_note"] == "the extract's header has no timestamp"
    assert "OSM extract date unknown (the extract's header has no timestamp)" in provenance.footer_lines(rec)[0]


def test_provenance_lists_boundaries_and_the_targets_preset(tmp_path):
    cfg = tmp_path / "plans.toml"
    cfg.write_text(TSINGHUA.read_text(encoding="utf-8").replace('"../data/', json.dumps(str(DATA) + "/")[:-1])
                   + f'\n[boundaries]\npath = "{DISTRICTS}"\nname_column = "district"\ncrs = "gcj02"\n'
                   '\n[targets]\npreset = "china_plans"\n', encoding="utf-8")
    rec = provenance.collect(load_config(cfg))
    roles = {r["role"]: r for r in rec["inputs"]}
    assert roles["boundaries"]["sha256"] == _sha(DISTRICTS)
    preset = roles["targets preset"]
    assert preset["preset"] == "china_plans" and preset["sha256"] == hashlib.sha256(
        resources.files("access15").joinpath("data/targets_china_plans.toml").read_bytes()).hexdigest()
    assert all(r.get("sha256") or r.get("supplied") for r in rec["inputs"])


def test_run_json_and_map_footer_say_when_the_osm_date_is_unknown(tmp_path):
    cfg = config_from_dict({"network": {"path": str(DATA / "osm" / "west_oakland.osm.bz2")},
                            "categories": {"childcare": {}}, "facilities": [{"path": "osm"}],
                            "demand": {"cell_m": 100}})
    written = write_outputs(analyze(cfg), tmp_path / "o", html=True)
    doc = json.loads(written["run"].read_text(encoding="utf-8"))
    assert doc["osm_timestamp"] is None and doc["osm_timestamp_note"] == "the extract's header has no timestamp"
    page = written["html"].read_text(encoding="utf-8")
    assert "OSM extract date unknown (the extract&#x27;s header has no timestamp)" in page
    # re-rendered from the GeoPackage alone: still said
    assert load_result(tmp_path / "o").provenance["osm_timestamp_note"] == "the extract's header has no timestamp"
