"""Malformed files must give a clean InputError, never a library traceback.

Truncated and random-byte OSM files, CSVs with the wrong delimiter or encoding, empty files, GeoJSON that
is not JSON: every loader and ``analyze`` either succeeds or raises :class:`InputError`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access15 import analyze
from access15.config import BoundaryConfig, FacilitySource, config_from_dict, load_config
from access15.errors import InputError
from access15.io.boundaries import load_units
from access15.io.facilities import read_facility_file
from access15.io.osm import read_osm_facilities
from access15.network import load_network

ROOT = Path(__file__).resolve().parents[1]
TSINGHUA = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
PBF = TSINGHUA.read_bytes()
GOOD_CSV = (ROOT / "tests" / "data" / "tsinghua_facilities_gcj02_utf8bom.csv").read_text(encoding="utf-8-sig")
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_boundaries(path: Path, name_column: str):
    """The configured-boundary loader of the pipeline, for one file."""
    return load_units(BoundaryConfig(path=str(path), name_column=name_column), Path, None)


def clean(fn, *args, **kw):
    """Call a loader: success is fine, InputError is fine, anything else fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kw)
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)   # one line
            return exc


@pytest.mark.parametrize("cut", [0, 1, 16, 300, 5_000, 60_000, len(PBF) - 7, len(PBF) - 1])
def test_truncated_pbf(tmp_path, cut):
    p = tmp_path / "cut.osm.pbf"
    p.write_bytes(PBF[:cut])
    assert isinstance(clean(load_network, p), InputError)
    assert isinstance(clean(read_osm_facilities, p), InputError)


@FUZZ
@given(st.integers(0, len(PBF) - 1))
def test_truncated_pbf_any_length(tmp_path_factory, cut):
    p = tmp_path_factory.mktemp("pbf") / "cut.osm.pbf"
    p.write_bytes(PBF[:cut])
    got = clean(load_network, p)
    assert isinstance(got, InputError)


@FUZZ
@given(st.binary(min_size=0, max_size=4000), st.sampled_from([".osm.pbf", ".osm", ".osm.bz2", ".osm.gz"]))
def test_random_bytes_as_osm(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("osm") / f"random{suffix}"
    p.write_bytes(data)
    assert isinstance(clean(load_network, p), InputError)


BAD_CSVS = {
    "semicolon_decimal_comma.csv": GOOD_CSV.replace(",", ";").replace(".", ","),
    "space_delimited.csv": GOOD_CSV.replace(",", " "),
    "header_only.csv": GOOD_CSV.splitlines()[0] + "\n",
    "empty.csv": "",
    "blank_lines.csv": "\n\n\n",
    "ragged.csv": GOOD_CSV + "1,2,3,4,5,6,7,8,9\n",
    "open_quote.csv": GOOD_CSV + '"unterminated,1,2\n',
    "one_column.csv": "abc\n1\n2\n",
    "duplicate_headers.csv": "lon,lon,lat\n1,2,3\n",
}


@pytest.mark.parametrize("name", sorted(BAD_CSVS))
def test_malformed_csv(tmp_path, name):
    p = tmp_path / name
    p.write_text(BAD_CSVS[name], encoding="utf-8")
    assert isinstance(clean(read_facility_file, FacilitySource(path=str(p), crs="gcj02"), p), InputError)


def test_other_delimiters_and_encodings_are_read(tmp_path):
    for sep, enc in ((";", "gbk"), ("\t", "utf-8-sig"), ("|", "utf-8")):
        p = tmp_path / "ok.csv"
        p.write_bytes(GOOD_CSV.replace(",", sep).encode(enc))
        got = clean(read_facility_file, FacilitySource(path=str(p), crs="gcj02"), p)
        assert isinstance(got, gpd.GeoDataFrame) and len(got) == 51


@pytest.mark.parametrize("data", [b"", b"\xff\xfe" + "名称".encode("utf-16-le"), b"a,b\x00c\n1,2\n",
                                  "名称,经度\n".encode("latin-1", "replace") + b"\xe9\xe8\xff\n"])
def test_undecodable_csv(tmp_path, data):
    p = tmp_path / "bad.csv"
    p.write_bytes(data)
    assert isinstance(clean(read_facility_file, FacilitySource(path=str(p)), p), InputError)


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from([".csv", ".geojson", ".gpkg", ".shp"]))
def test_random_bytes_as_facilities_and_boundaries(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("f") / f"random{suffix}"
    p.write_bytes(data)
    got = clean(read_facility_file, FacilitySource(path=str(p)), p)
    assert isinstance(got, (InputError, gpd.GeoDataFrame))
    assert isinstance(clean(load_boundaries, p, "name"), (InputError, gpd.GeoDataFrame))


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("lonat,;\t|\"\n 0123456789.-经度纬名称xy")), max_size=300))
def test_random_text_tables(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("t") / "t.csv"
    p.write_text(text, encoding="utf-8")
    got = clean(read_facility_file, FacilitySource(path=str(p), category="clinic"), p)
    assert isinstance(got, (InputError, gpd.GeoDataFrame))


@pytest.mark.parametrize("text", ["", "this is not json", '{"type": "FeatureCollection", "features": [',
                                  '{"a": 1}', '{"type": "FeatureCollection", "features": []}',
                                  '{"type": "Feature", "geometry": null, "properties": {"name": "x"}}'])
def test_geojson_that_is_not(tmp_path, text):
    p = tmp_path / "b.geojson"
    p.write_text(text, encoding="utf-8")
    assert isinstance(clean(load_boundaries, p, "name"), InputError)
    assert isinstance(clean(read_facility_file, FacilitySource(path=str(p), category="clinic"), p), InputError)


def _cfg(tmp: Path, **over) -> dict:
    base = {"network": {"path": str(TSINGHUA)}, "categories": {"clinic": {}},
            "facilities": [{"path": "osm"}], "demand": {"cell_m": 200}}
    base.update(over)
    return config_from_dict(base, base_dir=tmp)


def test_analyze_raises_only_input_errors(tmp_path):
    pbf = tmp_path / "cut.osm.pbf"
    pbf.write_bytes(PBF[:40_000])
    notjson = tmp_path / "b.geojson"
    notjson.write_text("not json", encoding="utf-8")
    semi = tmp_path / "f.csv"
    semi.write_text(BAD_CSVS["semicolon_decimal_comma.csv"], encoding="utf-8")
    for cfg in (_cfg(tmp_path, network={"path": str(pbf)}),
                _cfg(tmp_path, boundaries={"path": str(notjson)}),
                _cfg(tmp_path, facilities=[{"path": str(semi), "crs": "gcj02"}]),
                _cfg(tmp_path, facilities=[{"path": str(tmp_path / "missing.csv")}])):
        assert isinstance(clean(analyze, cfg), InputError)
    toml = tmp_path / "c.toml"
    toml.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert isinstance(clean(load_config, toml), InputError)


@pytest.mark.parametrize("role", ["network", "facilities", "boundaries"])
@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage", PBF[:5000], b"not json at all"])
def test_validate_reports_instead_of_raising(tmp_path, role, content):
    from access15.validate import has_errors, validate

    suffix = {"network": ".osm.pbf", "facilities": ".geojson", "boundaries": ".geojson"}[role]
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    net = bad if role == "network" else TSINGHUA
    fac = f'path = "{bad}"\ncategory = "clinic"' if role == "facilities" else 'path = "osm"'
    body = f'[network]\npath = "{net}"\n[categories.clinic]\n[[facilities]]\n{fac}\n'
    if role == "boundaries":
        body += f'[boundaries]\npath = "{bad}"\n'
    cfg = tmp_path / "c.toml"
    cfg.write_text(body, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = validate(cfg)
    assert has_errors(problems)
    assert any(str(bad) == p.file or bad.name in p.file for p in problems if p.severity == "error")


@pytest.mark.parametrize("data", [b'a"\rb,c\n1,2\n', b"name,lon\rx,lat\n1,2\n", b"\r\r1\n"])
def test_carriage_return_inside_the_header_line(tmp_path, data):
    """A lone "\\r" ends a line for pandas; the header check reads the same first line (found by the fuzz test
    above: it raised csv.Error from deep inside the csv module)."""
    p = tmp_path / "cr.csv"
    p.write_bytes(data)
    got = clean(read_facility_file, FacilitySource(path=str(p)), p)
    assert isinstance(got, (InputError, gpd.GeoDataFrame))


@pytest.mark.parametrize("data", [b'"0\n0"\n', b'"lon\r\nx",lat\n1,2\n'])
def test_line_breaks_inside_a_quoted_column_name_stay_on_one_line(tmp_path, data):
    """A column name holding a line break (found by the fuzz test above) is named in the error as ``\\n``."""
    p = tmp_path / "nl.csv"
    p.write_bytes(data)
    err = clean(read_facility_file, FacilitySource(path=str(p), category="clinic"), p)
    assert isinstance(err, InputError) and "\\n" in str(err) and "\n" not in err.text("zh")


def test_every_message_is_one_line():
    from access15.errors import AccessNote, AccessWarning

    for msg in (InputError("a\nb.csv", "no column 'x\ny'", "rename\r\nit", field="x\ny", row=3),
                AccessWarning("x\ny", "fix\nit", "s\nrc"), AccessNote("x\ry")):
        assert "\n" not in str(msg) and "\r" not in str(msg), msg
    assert str(InputError("f.csv", "no column 'x\ny'")) == "f.csv: no column 'x\\ny'"
