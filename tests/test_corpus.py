"""The bad-input corpus: every case judged by both ``validate`` and ``run``, with the same verdict.

Each case changes one thing of a small, clean analysis (the real Monaco extract: 11 convenience services from
OSM tags, four clinics from a CSV) and states the outcome class both commands must give:

* ``error``: ``run`` refuses with an InputError whose message names ``where`` (the file, row or field), and
  writes nothing (the previous outputs stay byte for byte); ``validate`` reports an error (exit 1);
* ``warning``: both run, and both say ``where`` in a warning;
* ``ok``: no error and no warning (notes allowed).

The table of cases is documented in docs/inputs.md ("What access15 says").
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import tomli_w
from typer.testing import CliRunner

from access15 import analyze
from access15.cli import app
from access15.errors import InputError
from access15.text import translate
from access15.validate import has_errors, validate

ROOT = Path(__file__).resolve().parents[1]
PBF = ROOT / "data" / "osm" / "monaco.osm.pbf"

#: Four clinics on the extract's streets (WGS84), with names, ids and places.
CLINICS = pd.DataFrame({"lon": [7.42765, 7.41606, 7.41604, 7.42944],
                        "lat": [43.74247, 43.73019, 43.73395, 43.74058],
                        "category": "clinic", "name": ["Centro de Salud Norte", "Consultorio Sur", "Clínica Oeste",
                                                       "Unidad Médica Este"],
                        "id": ["c1", "c2", "c3", "c4"], "capacity": [20, 35, 15, 40]})


def base_config(folder: Path) -> dict:
    """The clean analysis (as a TOML document): no error, no warning."""
    return {
        "name": "corpus",
        "network": {"path": str(PBF), "max_snap_m": 300},
        "demand": {"kind": "grid", "cell_m": 100},
        "categories": {"convenience": {"minutes": 10}, "clinic": {"minutes": 15}},
        "facilities": [{"path": "clinics.csv", "category_column": "category", "id_column": "id",
                        "capacity_column": "capacity"},
                       {"path": "osm", "categories": ["convenience"]}],
        "output": {"dir": "out"},
    }


@dataclass
class Case:
    """One corpus entry: ``edit`` changes the TOML document and may write files into the folder."""

    name: str
    expect: str  # "error" | "warning" | "ok"
    where: str  # a text the error/warning must contain (file, field, row or subject)
    edit: Callable[[dict, Path], None] = lambda cfg, folder: None
    says: str = ""  # what access15 says, for the documentation table
    raw_toml: str | None = None  # the config file's text instead of the document (syntax cases)
    notes: list[str] = field(default_factory=list)


def _set(section: str, **values: Any) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        node = cfg
        for key in section.split(".") if section else []:
            node = node.setdefault(key, {})
        node.update(values)
    return edit


def _fac(**values: Any) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        cfg["facilities"][0].update(values)
    return edit


def _drop(*path: str) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        node = cfg
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1])
    return edit


def _clinics(change: Callable[[pd.DataFrame], pd.DataFrame], name: str = "clinics.csv",
             encoding: str = "utf-8", sep: str = ",") -> Callable[[dict, Path], None]:
    """Write a changed clinic list (as text, the way spreadsheets export it) and point the config at it."""
    def edit(cfg: dict, folder: Path) -> None:
        df = change(CLINICS.astype(object).copy())
        df.to_csv(folder / name, index=False, encoding=encoding, sep=sep)
        cfg["facilities"][0]["path"] = name
    return edit


def _file(name: str, data: bytes, key: str = "path", section: str = "facilities0") -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        (folder / name).write_bytes(data)
        if section == "facilities0":
            cfg["facilities"][0][key] = name
        else:
            cfg.setdefault(section, {})[key] = name
    return edit


def _both(*edits: Callable[[dict, Path], None]) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        for e in edits:
            e(cfg, folder)
    return edit


def _cell(row: int, col: str, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, col] = value
        return df
    return change


def _boundaries(geoms: list, names: list, folder_name: str = "units.geojson", crs: Any = 4326,
                **extra: Any) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=crs).to_file(folder / folder_name)
        cfg["boundaries"] = {"path": folder_name, "name_column": "name", **extra}
    return edit


# Monaco's built-up strip (the main street network grown by 150 m, simplified), split into two halves (west /
# east) for boundary and population cases
CITY = shapely.Polygon([
    (7.4036, 43.723), (7.4069, 43.7239), (7.4061, 43.7265), (7.4088, 43.73), (7.4085, 43.7315), (7.411, 43.7326),
    (7.4103, 43.7337), (7.4123, 43.7362), (7.4124, 43.7384), (7.419, 43.7405), (7.4219, 43.7436), (7.4268, 43.7459),
    (7.4293, 43.7497), (7.4335, 43.7506), (7.4329, 43.7518), (7.4337, 43.7529), (7.4381, 43.7533), (7.4402, 43.7527),
    (7.4411, 43.7503), (7.4403, 43.7471), (7.4386, 43.7462), (7.4367, 43.7468), (7.4342, 43.745), (7.4342, 43.7431),
    (7.4308, 43.7374), (7.4328, 43.7372), (7.4333, 43.7358), (7.4299, 43.7324), (7.4289, 43.7303), (7.426, 43.7294),
    (7.4246, 43.7283), (7.4243, 43.7266), (7.4208, 43.7251), (7.4171, 43.7222), (7.415, 43.7222), (7.4123, 43.724),
    (7.4115, 43.7222), (7.4041, 43.7204), (7.4025, 43.7217)])
X0, Y0, X1, Y1 = CITY.bounds
XM = 7.4240
WEST, EAST = CITY & shapely.box(X0, Y0, XM, Y1), CITY & shapely.box(XM, Y0, X1, Y1)


def _levels(geoms: list, names: list, levels: list) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        gpd.GeoDataFrame({"name": names, "level": levels}, geometry=geoms, crs=4326).to_file(folder / "levels.geojson")
        cfg["boundaries"] = {"path": "levels.geojson", "name_column": "name", "level_column": "level"}
    return edit


def _population_polygons(values: list, geoms: list | None = None) -> Callable[[dict, Path], None]:
    def edit(cfg: dict, folder: Path) -> None:
        gpd.GeoDataFrame({"pop": values}, geometry=geoms or [WEST, EAST], crs=4326).to_file(folder / "pop.geojson")
        cfg["population"] = {"path": "pop.geojson", "kind": "polygons", "column": "pop"}
    return edit


def _bowtie() -> shapely.Polygon:
    """The west half drawn as a bow tie (self-intersecting: invalid, repaired by the analysis)."""
    x0, y0, x1, y1 = WEST.bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


CASES: list[Case] = [
    # --- the clean analysis and inputs that are fine -------------------------------------------------------
    Case("clean base analysis", "ok", ""),
    Case("crs as an EPSG number", "ok", "", _fac(crs=4326)),
    Case("crs as EPSG text", "ok", "", _fac(crs="EPSG:4326")),
    Case("Chinese coordinate headers 经度/纬度", "ok", "",
         _clinics(lambda d: d.rename(columns={"lon": "经度", "lat": "纬度"})), "a note: read from columns 经度/纬度"),
    Case("GBK-encoded list", "ok", "", _clinics(lambda d: d.assign(name=["北诊所", "南诊所", "西诊所", "东诊所"]),
                                                encoding="gbk")),
    Case("UTF-8 with BOM", "ok", "", _clinics(lambda d: d, encoding="utf-8-sig")),
    Case("semicolon-separated CSV", "ok", "", _clinics(lambda d: d, sep=";")),
    Case("a 90-minute circle without max_minutes", "ok", "", _set("categories.clinic", minutes=90),
         "the search limit grows to the largest circle"),
    Case("own walking speed", "ok", "", _set("speed", kmh=4.5)),
    Case("named speed profile", "ok", "", _set("speed", profile="elderly")),
    Case("a bounding box that holds the extract", "ok", "", _set("network", bbox=[7.40, 43.72, 7.44, 43.76])),
    Case("node demand", "ok", "", _set("demand", kind="nodes")),
    Case("category not required", "ok", "", _set("categories.clinic", required=False)),
    Case("labels in Chinese", "ok", "", _set("output", lang="zh")),
    Case("OSM basemap", "ok", "", _set("output", basemap="osm")),
    Case("two clean boundary units", "ok", "", _boundaries([WEST, EAST], ["west", "east"])),
    Case("population polygons", "ok", "", _population_polygons([3000, 5000])),
    # --- the config file -----------------------------------------------------------------------------------
    Case("config is not TOML", "error", "not valid TOML", raw_toml="[network\npath = 1\n"),
    Case("config is not UTF-8", "error", "UTF-8", raw_toml="name = \"\xe9\"\n"),
    Case("unknown top-level key", "error", "did you mean 'network'", _set("", netwrok={"path": "x"})),
    Case("unknown key in a table", "error", "did you mean 'max_snap_m'", _set("network", max_snapm=500)),
    Case("no [network]", "error", "no [network] table", _drop("network")),
    Case("[network] without path", "error", "[network] has no path", _drop("network", "path")),
    Case("network file missing", "error", "nowhere.osm.pbf", _set("network", path="nowhere.osm.pbf")),
    Case("network path is a folder", "error", "folder", lambda c, f: (f / "extract.osm.pbf").mkdir()
         or c["network"].update(path="extract.osm.pbf")),
    Case("network file is a CSV table", "error", "network.csv", _file("network.csv", b"lon,lat\n1,2\n", "path",
                                                                       "network")),
    Case("network file is empty", "error", "empty", _file("empty.osm.pbf", b"", "path", "network")),
    Case("network file is not OSM data", "error", "cannot read as an OSM file",
         _file("broken.osm.pbf", b"\x00\x01garbage" * 100, "path", "network")),
    Case("max_snap_m as text", "error", "max_snap_m", _set("network", max_snap_m="500")),
    Case("max_snap_m not positive", "error", "max_snap_m", _set("network", max_snap_m=0)),
    Case("cache as text", "error", "cache", _set("network", cache="yes")),
    Case("bbox not a box", "error", "bbox", _set("network", bbox=[1, 2, 3])),
    Case("bbox west after east", "error", "bbox", _set("network", bbox=[7.44, 43.72, 7.40, 43.76])),
    Case("tag mapping file missing", "error", "tags.toml", _set("network", tags="tags.toml")),
    Case("unknown speed profile", "error", "profile", _set("speed", profile="run")),
    Case("profile and kmh together", "error", "both profile", _set("speed", profile="walk", kmh=5)),
    Case("kmh as text", "error", "kmh", _set("speed", kmh="4.5")),
    Case("kmh zero", "error", "kmh", _set("speed", kmh=0)),
    Case("search limit below a circle", "error", "max_minutes", _set("routing", max_minutes=10),
         "refused: people between 10 and 15 minutes would count as outside"),
    Case("search limit as text", "error", "max_minutes", _set("routing", max_minutes="60")),
    Case("search limit negative", "error", "max_minutes", _set("routing", max_minutes=-5)),
    Case("unknown demand kind", "error", "kind", _set("demand", kind="cells")),
    Case("cell size zero", "error", "cell_m", _set("demand", cell_m=0)),
    Case("cell size as text", "error", "cell_m", _set("demand", cell_m="100")),
    Case("cell size far too small", "error", "cell_m", _set("demand", cell_m=0.5),
         "refused with the number of cells and the memory they would take"),
    Case("no categories", "error", "no [categories", _drop("categories")),
    Case("circle of zero minutes", "error", "minutes", _set("categories.clinic", minutes=0)),
    Case("minutes as text", "error", "minutes", _set("categories.clinic", minutes="15")),
    Case("required as text", "error", "required", _set("categories.clinic", required="false"),
         "refused: \"false\" in quotes is text, not false"),
    Case("label as a number", "error", "label_zh", _set("categories.clinic", label_zh=5)),
    Case("per-class minutes as text", "error", "minutes_by_class", _set("categories.clinic",
                                                                       minutes_by_class={"rural": "30"})),
    Case("unknown travel profile for a class", "error", "profile", _set("categories.clinic",
                                                                        profile_by_class={"rural": "boat"})),
    Case("category population column unknown", "error", "pop_65plus", _set("categories.clinic",
                                                                            population="pop_65plus")),
    Case("no [[facilities]]", "error", "no [[facilities]]", _drop("facilities")),
    Case("facilities name an unknown category", "error", "has no [categories.school]", _fac(category="school")),
    Case("categories not a list", "error", "categories", lambda c, f: c["facilities"][1].update(categories="convenience")),
    Case("facility file missing", "error", "nowhere.csv", _fac(path="nowhere.csv")),
    Case("unknown coordinate system", "error", "gcj2", _fac(crs="gcj2")),
    Case("Baidu Mercator", "error", "bd09mc", _fac(crs="bd09mc")),
    Case("swap_lonlat as text", "error", "swap_lonlat", _fac(swap_lonlat="yes")),
    Case("unknown POI format", "error", "format", _fac(format="gaode")),
    Case("kindergartens as text", "error", "kindergartens", _fac(kindergartens="yes")),
    Case("unknown language", "error", "lang", _set("output", lang="fr")),
    Case("unknown basemap", "error", "basemap", _set("output", basemap="google")),
    Case("custom basemap without attribution", "error", "basemap_attribution",
         _set("output", basemap="https://tiles.example/{z}/{x}/{y}.png")),
    Case("unknown basemap crs", "error", "basemap_crs", _set("output", basemap_crs="utm")),
    Case("boundary file missing", "error", "nowhere.geojson", _set("boundaries", path="nowhere.geojson")),
    Case("boundary name column missing", "error", "district", _both(_boundaries([WEST, EAST], ["w", "e"]),
                                                                    _set("boundaries", name_column="district"))),
    Case("boundaries that are points", "error", "polygons", _boundaries([WEST.centroid, EAST.centroid], ["w", "e"])),
    Case("boundary with empty geometry", "error", "row 2", _boundaries([WEST, shapely.Polygon()], ["w", "e"])),
    Case("boundaries in metres declared as degrees", "error", "not longitude/latitude",
         _both(_boundaries([shapely.box(0, 0, 1e6, 1e6)], ["far"], crs=None), _set("boundaries", crs="EPSG:4326"))),
    Case("unknown population kind", "error", "kind", _set("population", kind="census", path="pop.csv")),
    Case("population without path", "error", "no path", _set("population", kind="polygons")),
    Case("building estimate without total", "error", "total", _set("population", kind="buildings")),
    Case("population file missing", "error", "nowhere.geojson", _set("population", kind="polygons",
                                                                      path="nowhere.geojson")),
    Case("population column missing", "error", "people", _both(_population_polygons([3000, 5000]),
                                                                _set("population", column="people"))),
    Case("negative population", "error", "negative population", _population_polygons([3000, -5])),
    Case("unknown target measure", "error", "measure", _set("targets.t1", category="clinic", measure="beds",
                                                            value=1)),
    Case("target of a category not analysed", "error", "school", _set("targets.t1", category="school",
                                                                      measure="coverage", value=0.9)),
    Case("per-unit target without level", "error", "level", _set("targets.t1", category="clinic",
                                                                 measure="min_per_unit", value=1)),
    Case("unknown target preset", "error", "preset", _set("targets", preset="beijing")),
    # --- facility files, row by row ------------------------------------------------------------------------
    Case("coordinate with a typo", "error", "row 2", _clinics(_cell(1, "lon", "7.41606x")),
         "names file, row 2 and field lon; suggests the number meant"),
    Case("coordinate with a degree sign", "error", "7.416060", _clinics(_cell(1, "lon", "7.416060°")),
         "suggests the number with all its digits"),
    Case("empty coordinate", "error", "row 3", _clinics(_cell(2, "lat", ""))),
    Case("longitude out of range", "error", "row 1", _clinics(_cell(0, "lon", "307.42"))),
    Case("latitude and longitude swapped", "error", "swap_lonlat", _clinics(lambda d: d.rename(
        columns={"lon": "lat", "lat": "lon"})[["lat", "lon", "category", "name", "id", "capacity"]])),
    Case("projected coordinates without crs", "error", "longitude/latitude", _clinics(
        lambda d: d.assign(lon=[360000.0 + i for i in range(4)], lat=[4845000.0 + i for i in range(4)]))),
    Case("no coordinate columns", "error", "x1", _clinics(lambda d: d.rename(columns={"lon": "x1",
                                                                                          "lat": "y1"}))),
    Case("empty category", "error", "empty category", _clinics(_cell(3, "category", ""))),
    Case("no category column", "error", "category", _clinics(lambda d: d.drop(columns="category"))),
    Case("capacity with a unit", "error", "40张", _clinics(_cell(0, "capacity", "40张"))),
    Case("capacity with a thousands separator", "error", "1,200", _clinics(_cell(0, "capacity", "1,200"))),
    Case("capacity column missing", "error", "beds", _fac(capacity_column="beds")),
    Case("header-only list", "error", "rows", _clinics(lambda d: d.iloc[:0])),
    Case("UTF-16 text", "error", "UTF-16", _file("u16.csv", "lon,lat\n1,2\n".encode("utf-16"))),
    Case("a binary file named .csv", "error", "binary", _file("bin.csv", b"\x00\x01\x02" * 50)),
    Case("duplicate column names", "error", "duplicate column", _file("dup.csv", b"lon,lon,lat,category\n"
                                                                                  b"1,2,3,clinic\n")),
    Case("a GeoJSON that is not JSON", "error", "cannot read", _file("bad.geojson", b"{ not json")),
    Case("every facility of a file far from the network", "error", "none of the 4 facilities",
         _clinics(lambda d: d.assign(lat=d["lat"] - 0.2))),
    # --- warnings: it runs, but a figure may not mean what it seems ---------------------------------------
    Case("duplicated facility rows", "warning", "c1 = c1", _clinics(lambda d: pd.concat([d, d.iloc[[0]]])),
         "warned with the count and ids; the coverage table notes the duplicates"),
    Case("a category not in [categories]", "warning", "school", _clinics(_cell(3, "category", "school"))),
    Case("one facility far from the network", "warning", "c4", _clinics(_cell(3, "lat", 43.60))),
    Case("a required category with no facilities", "warning", "elderly_care",
         lambda c, f: c["categories"].update(elderly_care={}) or c["facilities"][1].update(
             categories=["convenience", "elderly_care"]), "the combined row says why it is 0%"),
    Case("missing capacities", "warning", "no capacity", _clinics(_cell(1, "capacity", ""))),
    Case("invalid boundary polygon", "warning", "repaired", _boundaries([_bowtie(), EAST], ["w", "e"])),
    Case("boundary file named GCJ-02 without crs", "warning", "GCJ-02",
         _boundaries([WEST, EAST], ["w", "e"], folder_name="units_gcj02.geojson")),
    Case("a unit without a name", "warning", "no name", _boundaries([WEST, EAST], ["w", None])),
    Case("overlapping units", "warning", "overlap", _boundaries([WEST, CITY & shapely.box(XM - 0.003, Y0, X1, Y1)],
                                                                ["w", "e"])),
    Case("streets leaving gaps in their district", "warning", "gaps", _levels(
        [CITY, WEST, CITY & shapely.box(XM + 0.003, Y0, X1, Y1)], ["city", "w", "e"], ["district", "street", "street"])),
    Case("units larger than the extract", "warning", "beyond the walking network",
         _boundaries([WEST, EAST | shapely.box(X1, Y0, X1 + 0.05, Y1)], ["w", "e"])),
    Case("per-class circles without classes", "warning", "rural", _set("categories.clinic",
                                                                       minutes_by_class={"rural": 30})),
    Case("invalid population polygon", "warning", "repaired", _population_polygons([3000, 5000], [_bowtie(), EAST])),
    Case("residents outside the study area", "warning", "outside the study area",
         _population_polygons([3000, 5000], [WEST, EAST | shapely.box(X1, Y0, X1 + 0.2, Y1)])),
]


def _write(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    CLINICS.to_csv(folder / "clinics.csv", index=False)
    path = folder / "access15.toml"
    if case.raw_toml is not None:
        path.write_bytes(case.raw_toml.encode("latin-1"))
        return path
    cfg = copy.deepcopy(base_config(folder))
    case.edit(cfg, folder)
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return path


def _run(path: Path) -> tuple[str, list[str], list[str]]:
    """``run``'s verdict (the analysis alone; outputs are checked separately), its messages, and the English
    texts the Chinese CLI translates (problem and fix of an error, every warning)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = analyze(path)
    except InputError as exc:
        return "error", [str(exc)], [exc.problem.rstrip("."), exc.fix.rstrip(".")]
    return ("warning" if result.warnings else "ok"), result.warnings, result.warnings


def _validate(path: Path) -> tuple[str, list[str], list[str]]:
    probs = validate(path)

    def line(p) -> str:  # as the error line of the analysis reads: file, row, field: problem. fix
        return str(InputError(p.file or None, p.problem, p.suggestion, row=p.row, field=p.field))

    shown = [p for p in probs if p.severity == "error"] if has_errors(probs) else \
        [p for p in probs if p.severity == "warning"]
    texts = [s for p in shown for s in (p.problem, p.suggestion)]
    if has_errors(probs):
        return "error", [line(p) for p in shown], texts
    return ("warning" if shown else "ok"), [line(p) for p in shown], texts


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def previous_outputs(tmp_path_factory) -> Path:
    """Outputs of a good run, which a refused run must leave as they are."""
    folder = tmp_path_factory.mktemp("good")
    path = _write(CASES[0], folder)
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(folder / "out"), "--no-html"])
    assert res.exit_code == 0, res.output
    return folder / "out"


def test_the_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 100
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_and_run_give_the_same_verdict(case: Case, tmp_path: Path, previous_outputs: Path):
    path = _write(case, tmp_path / "case")
    run_class, run_msgs, run_texts = _run(path)
    val_class, val_msgs, val_texts = _validate(path)
    assert run_class == case.expect, f"run said {run_class}: {run_msgs}"
    assert val_class == case.expect, f"validate said {val_class}: {val_msgs}"
    if case.expect != "ok":
        assert any(case.where in m for m in run_msgs), run_msgs
        assert any(case.where in m for m in val_msgs), val_msgs
    # and in Chinese ([output] lang = "zh" or ACCESS15_LANG=zh): every part is in the message table
    untranslated = [s for s in run_texts + val_texts if s and translate(s, "zh") is None]
    assert not untranslated, untranslated
    if case.expect == "error":  # one line, and nothing written or damaged
        assert all("\n" not in m and "Traceback" not in m for m in run_msgs)
        out = tmp_path / "out"
        shutil.copytree(previous_outputs, out)
        before = _digest(out)
        res = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-html"])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
        assert _digest(out) == before
        assert not list(out.parent.glob(".access15-staging-*"))


def test_the_corpus_is_documented():
    """docs/inputs.md holds the corpus as a table (scripts/corpus_table.py writes it from real runs)."""
    doc = (ROOT / "docs" / "inputs.md").read_text(encoding="utf-8")
    block = doc[doc.index("<!-- corpus:begin -->"):doc.index("<!-- corpus:end -->")]
    rows = {line.split(" | ")[0].lstrip("| ").replace("\\|", "|"): line.split(" | ")[1]
            for line in block.splitlines()[3:] if line.startswith("| ")}
    assert {c.name: c.expect for c in CASES} == rows


# --- CLI options of every command ---------------------------------------------------------------------------
#: (command line, text the output must contain, exit code): 2 is a refusal in one line; 0 a site the check
#: reports with a message instead of figures. The config is the clean analysis, with two boundary units.
CLI_CASES = [
    ("site-check {cfg} --category clinic --at=300,43.74", "--at"),
    ("site-check {cfg} --category clinic --at=43.7383,7.4246", "looks like latitude,longitude", 0),
    ("site-check {cfg} --category school --at=7.4246,43.7383", "'school' is not a category"),
    ("site-check {cfg} --category clinic", "--at"),
    ("site-check {cfg} --category clinic --at=7.4246,43.7383 --capacity -5", "capacity"),
    ("site-check {cfg} --category clinic --candidates {dir}/nowhere.csv", "nowhere.csv"),
    ("suggest {cfg} --category clinic --k 0", "--k"),
    ("suggest {cfg} --category clinic --spacing 0", "--spacing"),
    ("suggest {cfg} --category clinic --method best", "--method"),
    ("suggest {cfg} --category clinic --target 1.5", "--target"),
    ("suggest {cfg} --category clinic --budget -1", "--budget"),
    ("map {dir}/clinics.csv", "not a GeoPackage"),
    ("map {dir}/nowhere", "nowhere"),
    ("run {dir}", "folder"),
    ("run {dir}/nowhere.toml", "nowhere.toml"),
    ("batch {cfg} --regions {dir}/nowhere.gpkg", "nowhere.gpkg"),
    ("batch {cfg} --regions {dir}/units.geojson --by county", "--by"),
    ("batch {cfg} --regions {dir}/units.geojson --by name --workers 0", "--workers"),
    ("serve {cfg} --port 70000", "--port"),
    ("fetch {cfg}", "nothing to download"),
]


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    path = _write(Case("cli", "ok", "", _boundaries([WEST, EAST], ["west", "east"])), folder)
    return path


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0].split(" {")[0] + ": " + c[1] for c in CLI_CASES])
def test_cli_options_are_refused_with_one_line(case: tuple, cli_project: Path):
    line, says, code = (*case, 2)[:3]
    args = line.format(cfg=cli_project, dir=cli_project.parent).split()
    res = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert res.exit_code == code, res.output
    assert says in res.output, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
