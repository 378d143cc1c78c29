"""Regenerate the Chinese facility CSV fixtures from the bundled real OSM extracts.

Real OpenStreetMap facilities of the Tsinghua (Beijing) and Longgang (Shenzhen) extracts are shifted
from WGS84 to GCJ-02 (AMap/Tencent) and BD-09 (Baidu) with access15's forward transforms, rounded to
6 decimals as AMap/Baidu exports are, and written with Chinese headers in the encodings Chinese
spreadsheets use. Run from the repository root: ``python tests/data/make_china_fixtures.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from access15.coords import wgs84_to_bd09, wgs84_to_gcj02  # noqa: E402
from access15.io.osm import read_osm_facilities  # noqa: E402

OUT = Path(__file__).resolve().parent

# (extract, target system, encoding, file name)
FIXTURES = [
    ("beijing_haidian_tsinghua", "gcj02", "utf-8-sig", "tsinghua_facilities_gcj02_utf8bom.csv"),
    ("beijing_haidian_tsinghua", "bd09", "gbk", "tsinghua_facilities_bd09_gbk.csv"),
    ("shenzhen_longgang", "gcj02", "gbk", "longgang_facilities_gcj02_gbk.csv"),
]


def table(extract: str, system: str) -> pd.DataFrame:
    fac = read_osm_facilities(ROOT / "data" / "osm" / f"{extract}.osm.pbf")
    xy = shapely.get_coordinates(fac.geometry.values)
    fwd = wgs84_to_gcj02 if system == "gcj02" else wgs84_to_bd09
    lon, lat = fwd(xy[:, 0], xy[:, 1])
    return pd.DataFrame({
        "编号": fac["osm_type"].str[0] + fac["osm_id"].astype(str),
        "名称": fac["name"].fillna(""),
        "类别": fac["category"],
        "经度": [f"{v:.6f}" for v in lon],
        "纬度": [f"{v:.6f}" for v in lat],
        "床位数": fac["capacity"].map(lambda v: "" if pd.isna(v) else f"{v:g}"),
    })


if __name__ == "__main__":
    for extract, system, enc, name in FIXTURES:
        df = table(extract, system)
        df.to_csv(OUT / name, index=False, encoding=enc, errors="replace")
        print(name, len(df), "rows")
