"""Build the tutorial's small ILLUSTRATIVE inputs (docs/zh/tutorial.md) from the bundled Tsinghua extract.

Writes, beside this file:

* ``haidian_units_gcj02.geojson``: 4 street (街道) and 8 community (社区) polygons in **GCJ-02**, tiling the
  extract's area. The names are real street names of the area but the lines are drawn by this script
  (cuts near the campus edges, each street halved into two communities): they are NOT the official boundaries.
* ``haidian_street_census_gcj02.geojson``: the 4 street polygons with an illustrative census table
  (常住人口, 65岁及以上, 0至3岁): round, plausible figures, NOT census data.
* ``haidian_district_list.csv``: a district facility list (名称, 类别, 经度, 纬度 in GCJ-02, 规模): the four
  hospital/library entries of ``tests/data/tsinghua_gov_list.csv`` (real OSM positions) plus three
  elderly-care places, one under-3 childcare centre, a community health station and a cultural centre placed on real residential buildings of the extract,
  with illustrative names and capacities (beds / places). NOT a real register.

``tsinghua_amap_pois.json`` is a copy of the test fixture ``tests/data/tsinghua_amap_pois.json`` (real OSM
POIs in the AMap place-search layout, positions converted to GCJ-02; see tests/data/make_poi_fixtures.py).

Run from the repository root: ``PYTHONPATH=src python data/tutorial/make_tutorial_data.py``. Deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Polygon, box, mapping
from shapely.ops import split

from access15.coords import wgs84_to_gcj02

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
AREA = box(116.3010, 39.9840, 116.3390, 40.0160)  # where the extract has streets (WGS84)

# cuts (WGS84): a west line near the Tsinghua/PKU west edge and a south line near 成府路; a few vertices so
# the polygons do not look like a grid
WEST = LineString([(116.3160, 40.03), (116.3165, 40.010), (116.3152, 39.998), (116.3160, 39.97)])
SOUTH_W = LineString([(116.28, 39.9985), (116.3065, 39.9992), (116.32, 39.9978)])
SOUTH_M = LineString([(116.31, 39.9978), (116.326, 39.9970), (116.345, 39.9980)])

# street: (centre hint WGS84, illustrative census: 常住人口, 65岁及以上, 0至3岁)
STREETS = {
    "青龙桥街道": ((116.308, 40.010), 4_000, 760, 80),
    "燕园街道": ((116.308, 39.990), 30_000, 5_100, 600),
    "清华园街道": ((116.326, 40.006), 45_000, 6_750, 1_130),
    "中关村街道": ((116.326, 39.990), 30_000, 5_700, 750),
}


def _pieces(poly: Polygon, line: LineString) -> list[Polygon]:
    return list(split(poly, line).geoms)


def streets_wgs84() -> dict[str, Polygon]:
    """The five street polygons (WGS84), tiling AREA."""
    west, rest = sorted(_pieces(AREA, WEST), key=lambda p: p.centroid.x)
    polys = [*_pieces(west, SOUTH_W), *_pieces(rest, SOUTH_M)]
    out = {}
    for name, ((x, y), *_rest) in STREETS.items():
        out[name] = next(p for p in polys if p.contains(shapely.Point(x, y)))
    assert abs(sum(p.area for p in out.values()) - AREA.area) < 1e-12
    return out


def communities(street: str, poly: Polygon) -> list[tuple[str, Polygon]]:
    """Two communities per street: the polygon cut in two at its centroid (north/south or west/east)."""
    minx, miny, maxx, maxy = poly.bounds
    c = poly.centroid
    if (maxx - minx) * np.cos(np.radians(c.y)) > (maxy - miny):
        line, names = LineString([(c.x, miny - 1), (c.x, maxy + 1)]), ("西", "东")
        key = lambda p: p.centroid.x  # noqa: E731
    else:
        line, names = LineString([(minx - 1, c.y), (maxx + 1, c.y)]), ("南", "北")
        key = lambda p: p.centroid.y  # noqa: E731
    a, b = sorted(_pieces(poly, line), key=key)
    short = street.removesuffix("街道")
    return [(f"{short}{names[0]}社区", a), (f"{short}{names[1]}社区", b)]


def to_gcj02(poly: Polygon) -> Polygon:
    def f(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([np.round(lon, 6), np.round(lat, 6)])

    return shapely.transform(poly, f)


def write_geojson(path: Path, features: list[tuple[dict, Polygon]]) -> None:
    doc = {"type": "FeatureCollection", "name": path.stem,
           "features": [{"type": "Feature", "properties": props, "geometry": mapping(to_gcj02(g))}
                        for props, g in features]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def district_list(streets: dict[str, Polygon]) -> pd.DataFrame:
    """The gov list's four entries plus illustrative elderly-care and childcare places on residential buildings."""
    import osmium

    class Homes(osmium.SimpleHandler):
        def __init__(self) -> None:
            super().__init__()
            self.pts: list[tuple[int, float, float]] = []

        def area(self, a: osmium.osm.Area) -> None:
            if a.from_way() and a.tags.get("building") in ("residential", "apartments"):
                ring = [(n.lon, n.lat) for r in a.outer_rings() for n in r]
                if len(ring) >= 4:
                    c = Polygon(ring).centroid
                    self.pts.append((a.orig_id(), c.x, c.y))

    h = Homes()
    h.apply_file(str(ROOT / "data/osm/beijing_haidian_tsinghua.osm.pbf"), locations=True)
    homes = pd.DataFrame(h.pts, columns=["osm_id", "lon", "lat"]).sort_values("osm_id")
    homes["street"] = [next((s for s, p in streets.items() if p.contains(shapely.Point(x, y))), None)
                       for x, y in zip(homes["lon"], homes["lat"])]
    gov = pd.read_csv(ROOT / "tests/data/tsinghua_gov_list.csv", encoding="utf-8-sig")
    gov["规模"] = np.nan
    # illustrative places: (street whose residential building nearest its centre hint is used, name, category,
    # capacity)
    extra = [("中关村街道", "中关村街道养老照料中心", "elderly_care", 60),
             ("清华园街道", "清华园街道社区养老服务驿站", "elderly_care", 20),
             ("燕园街道", "燕园长者食堂", "elderly_care", np.nan),
             ("清华园街道", "清华园街道普惠托育园", "childcare", 80),
             ("中关村街道", "中关村街道社区卫生服务站", "clinic", np.nan),
             ("燕园街道", "燕园街道文化活动中心", "culture", np.nan)]
    rows = []
    used: set[int] = set()
    for street, name, cat, cap in extra:
        cand = homes[(homes["street"] == street) & ~homes["osm_id"].isin(used)]
        (hx, hy), *_ = STREETS[street]
        home = cand.iloc[int(np.argmin(np.hypot(cand["lon"] - hx, cand["lat"] - hy)))]
        used.add(int(home["osm_id"]))
        rows.append({"名称": name, "类别": cat, "经度": home["lon"], "纬度": home["lat"], "规模": cap})
    out = pd.concat([gov, pd.DataFrame(rows)], ignore_index=True)
    lon, lat = wgs84_to_gcj02(out["经度"].to_numpy(), out["纬度"].to_numpy())
    out["经度"], out["纬度"] = np.round(lon, 6), np.round(lat, 6)
    out["规模"] = out["规模"].astype("Int64")
    return out


def main() -> None:
    streets = streets_wgs84()
    units, census = [], []
    for name, poly in streets.items():
        units.append(({"name": name, "level": "street", "street": name, "note": "示意边界，非官方"}, poly))
        for cname, cpoly in communities(name, poly):
            units.append(({"name": cname, "level": "community", "street": name, "note": "示意边界，非官方"}, cpoly))
        _hint, pop, old, young = STREETS[name]
        census.append(({"街道": name, "常住人口": pop, "65岁及以上": old, "0至3岁": young,
                        "note": "示意数据，非普查数据"}, poly))
    write_geojson(HERE / "haidian_units_gcj02.geojson", units)
    write_geojson(HERE / "haidian_street_census_gcj02.geojson", census)
    district_list(streets).to_csv(HERE / "haidian_district_list.csv", index=False, encoding="utf-8-sig")
    print(len(units), "units;", sum(v[1] for v in STREETS.values()), "residents (illustrative)")


if __name__ == "__main__":
    main()
