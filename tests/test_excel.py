"""Excel workbooks (.xlsx) read as tables wherever a CSV is read: facility lists, POI exports, candidates.

Planners' lists come out of Excel and WPS; the workbooks here are written by pandas/openpyxl from the bundled
CSV files, and each must give exactly what its CSV gives.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import shapely
from openpyxl import Workbook

from access15.config import FacilitySource
from access15.errors import InputError
from access15.io.facilities import read_facility_file
from access15.io.poi import load_poi_source
from access15.io.tables import read_table
from access15.siting.sites import read_sites
from access15.validate import validate

DATA = Path(__file__).resolve().parent / "data"
GOV = DATA / "tsinghua_gov_list.csv"
TOOL = DATA / "longgang_poi_tool.csv"
GCJ = DATA / "tsinghua_facilities_gcj02_utf8bom.csv"


def _as_xlsx(csv: Path, folder: Path, sheet_before: bool = False) -> Path:
    """The CSV as the first sheet of a workbook (numbers as numbers, as Excel stores them)."""
    df = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    for col in df.columns:  # Excel holds coordinates and counts as numbers, not text
        num = pd.to_numeric(df[col], errors="coerce")
        if num.notna().sum() == df[col].notna().sum() and df[col].notna().any() and col != "typecode":
            df[col] = num
    out = folder / (csv.stem + ".xlsx")
    with pd.ExcelWriter(out, engine="openpyxl") as xl:
        df.to_excel(xl, index=False, sheet_name="list")
    return out


def test_a_workbook_reads_as_its_csv(tmp_path):
    csv_df = read_table(GCJ)[0]
    xl_df, info = read_table(_as_xlsx(GCJ, tmp_path))
    assert info.encoding == "xlsx" and list(xl_df.columns) == list(csv_df.columns)
    assert len(xl_df) == len(csv_df)
    for col in ("经度", "纬度"):  # every digit of the coordinates survives
        assert (xl_df[col].astype(float) == csv_df[col].astype(float)).all()
    assert xl_df["编号"].tolist() == csv_df["编号"].tolist()
    assert xl_df["名称"].isna().tolist() == csv_df["名称"].isna().tolist()  # empty cells are NA, as in a CSV


def test_a_government_list_in_excel_gives_the_same_facilities(tmp_path):
    src = FacilitySource(path="list", category_column="类别")
    a = read_facility_file(src, GOV)
    b = read_facility_file(src, _as_xlsx(GOV, tmp_path))
    assert len(a) == len(b) > 0
    assert a["category"].tolist() == b["category"].tolist() and a["name"].tolist() == b["name"].tolist()
    assert (shapely.get_coordinates(a.geometry.values) == shapely.get_coordinates(b.geometry.values)).all()


def test_a_poi_tool_export_in_excel_gives_the_same_facilities(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, rep_a = load_poi_source(FacilitySource(path="t", format="poi_csv"), TOOL)
        b, rep_b = load_poi_source(FacilitySource(path="t", format="poi_csv"), _as_xlsx(TOOL, tmp_path))
    assert len(a) == len(b) > 10
    assert a["category"].tolist() == b["category"].tolist()
    assert rep_a.counts.equals(rep_b.counts)
    assert (shapely.get_coordinates(a.geometry.values) == shapely.get_coordinates(b.geometry.values)).all()


def test_candidate_sites_from_excel(tmp_path):
    df = pd.DataFrame({"name": ["A", "B"], "lon": [116.3173211, 116.3221696], "lat": [40.0036829, 40.0028841],
                       "capacity": [40, 60]})
    df.to_excel(tmp_path / "cands.xlsx", index=False)
    sites = read_sites(tmp_path / "cands.xlsx", "clinic")
    assert len(sites) == 2 and sites["capacity"].tolist() == [40, 60]


def test_bad_workbooks_are_one_line(tmp_path):
    wb = Workbook()
    wb.active.append(["名称", "经度", "名称"])
    wb.active.append(["a", 116.3, "b"])
    wb.save(tmp_path / "dup.xlsx")
    with pytest.raises(InputError, match=r"dup\.xlsx: duplicate column names 名称"):
        read_table(tmp_path / "dup.xlsx")
    Workbook().save(tmp_path / "empty.xlsx")
    with pytest.raises(InputError, match=r"empty\.xlsx: the first sheet is empty"):
        read_table(tmp_path / "empty.xlsx")
    (tmp_path / "fake.xlsx").write_text("名称,经度\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"fake\.xlsx: cannot read the workbook .*save the sheet as CSV") as exc:
        read_table(tmp_path / "fake.xlsx")
    assert "\n" not in str(exc.value)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"old\.xls: old Excel 97-2003 .*save it as \.xlsx"):
        read_table(tmp_path / "old.xls")


def test_validate_reads_the_workbook(tmp_path):
    xlsx = _as_xlsx(GOV, tmp_path)
    cfg = tmp_path / "c.toml"
    osm = Path(__file__).resolve().parents[1] / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
    cfg.write_text(f'name = "x"\n[network]\npath = "{osm.as_posix()}"\n[categories.culture]\nminutes = 15\n'
                   f'[[facilities]]\npath = "{xlsx.name}"\ncategory_column = "类别"\n', encoding="utf-8")
    probs = validate(cfg)
    assert not [p for p in probs if p.severity == "error"], probs
    assert any("first sheet of the Excel workbook" in p.problem and p.file.endswith(".xlsx") for p in probs)
