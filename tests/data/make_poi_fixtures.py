"""Regenerate the AMap / Baidu POI-export fixtures from the bundled real OSM extracts.

Every named OSM feature with an amenity/leisure/shop/office/healthcare tag of the Tsinghua (Beijing) and
Longgang (Shenzhen) extracts becomes one POI in the field layout of a saved AMap Web Service place search
(``pois``: id, name, type "大类;中类;小类", typecode, location "lng,lat" in GCJ-02) or of a Baidu Place API
response (``results``: uid, name, location {lat, lng} in BD-09, detail_info.tag), with the provider type a
real POI of that kind carries (AMap typecodes from the AMap POI classification, Baidu industry tags).
Positions are shifted with access15's forward transforms and rounded to 6 decimals as the APIs return
them. Three things real exports contain are added and marked in ``address``:

* an entrance POI ("<hospital>(北门)") 40 m north of each hospital, typed like the hospital (AMap
  lists gates as sub-POIs of the same type);
* the first page saved twice (overlapping searches repeat POIs with the same id);
* a CSV of a "POI download tool" (名称, 类型, typecode, 经纬度) and a government clinic/library list in
  WGS84 whose names carry 街道/社区 noise, for duplicate merging.

Run from the repository root: ``python tests/data/make_poi_fixtures.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from access15.coords import wgs84_to_bd09, wgs84_to_gcj02  # noqa: E402

OUT = Path(__file__).resolve().parent
KEYS = ("amenity", "leisure", "shop", "healthcare", "office")

# (key, value) -> (AMap type, AMap typecode, Baidu tag)
TYPES = {
    ("amenity", "restaurant"): ("餐饮服务;中餐厅;中餐厅", "050100", "美食;中餐厅"),
    ("amenity", "cafe"): ("餐饮服务;咖啡厅;咖啡厅", "050500", "美食;咖啡厅"),
    ("amenity", "fast_food"): ("餐饮服务;快餐厅;快餐厅", "050300", "美食;小吃快餐店"),
    ("amenity", "bar"): ("体育休闲服务;娱乐场所;酒吧", "080304", "休闲娱乐;酒吧"),
    ("amenity", "bank"): ("金融保险服务;银行;银行", "160100", "金融;银行"),
    ("amenity", "atm"): ("金融保险服务;自动提款机;自动提款机", "160300", "金融;ATM"),
    ("amenity", "school"): ("科教文化服务;学校;中学", "141202", "教育培训;中学"),
    ("amenity", "university"): ("科教文化服务;学校;高等院校", "141201", "教育培训;高等院校"),
    ("amenity", "college"): ("科教文化服务;学校;高等院校", "141201", "教育培训;高等院校"),
    ("amenity", "kindergarten"): ("科教文化服务;学校;幼儿园", "141204", "教育培训;幼儿园"),
    ("amenity", "hospital"): ("医疗保健服务;综合医院;综合医院", "090100", "医疗;综合医院"),
    ("amenity", "clinic"): ("医疗保健服务;诊所;诊所", "090300", "医疗;诊所"),
    ("amenity", "pharmacy"): ("医疗保健服务;医药保健销售店;药房", "090601", "医疗;药店"),
    ("amenity", "library"): ("科教文化服务;图书馆;图书馆", "140500", "教育培训;图书馆"),
    ("amenity", "theatre"): ("体育休闲服务;影剧院;剧场", "080603", "休闲娱乐;剧院"),
    ("amenity", "post_office"): ("生活服务;邮局;邮局", "070400", "生活服务;邮局"),
    ("amenity", "post_box"): ("生活服务;物流速递;物流速递", "070500", "生活服务;物流公司"),
    ("amenity", "police"): ("政府机构及社会团体;公检法机构;公安警察", "130501", "政府机构;公检法机构"),
    ("amenity", "parking"): ("交通设施服务;停车场;停车场相关", "150900", "交通设施;停车场"),
    ("amenity", "toilets"): ("公共设施;公共厕所;公共厕所", "200300", "生活服务;公共厕所"),
    ("leisure", "park"): ("风景名胜;公园广场;公园", "110101", "旅游景点;公园"),
    ("leisure", "garden"): ("风景名胜;公园广场;公园内部设施", "110106", "旅游景点;公园"),
    ("leisure", "playground"): ("风景名胜;公园广场;公园内部设施", "110106", "旅游景点;公园"),
    ("leisure", "stadium"): ("体育休闲服务;运动场馆;综合体育馆", "080101", "运动健身;体育场馆"),
    ("leisure", "sports_centre"): ("体育休闲服务;运动场馆;综合体育馆", "080101", "运动健身;体育场馆"),
    ("leisure", "swimming_pool"): ("体育休闲服务;运动场馆;游泳馆", "080110", "运动健身;体育场馆"),
    ("leisure", "pitch"): ("体育休闲服务;运动场馆;运动场所", "080100", "运动健身;体育场馆"),
    ("leisure", "track"): ("体育休闲服务;运动场馆;运动场所", "080100", "运动健身;体育场馆"),
    ("leisure", "fitness_centre"): ("体育休闲服务;运动场馆;健身中心", "080111", "运动健身;健身中心"),
    ("leisure", "golf_course"): ("体育休闲服务;高尔夫相关;高尔夫球场", "080201", "运动健身;体育场馆"),
    ("shop", "supermarket"): ("购物服务;超级市场;超市", "060400", "购物;超市"),
    ("shop", "convenience"): ("购物服务;便民商店/便利店;便民商店/便利店", "060200", "购物;便利店"),
    ("shop", "mall"): ("购物服务;商场;购物中心", "060101", "购物;购物中心"),
    ("shop", "books"): ("购物服务;专卖店;书店", "061205", "购物;商铺"),
    ("shop", "hairdresser"): ("生活服务;美容美发店;美容美发店", "071100", "丽人;美发"),
    ("shop", "laundry"): ("生活服务;洗衣店;洗衣店", "071500", "生活服务;洗衣店"),
}
OTHER_SHOP = ("购物服务;专卖店;专营店", "061200", "购物;商铺")
OTHER = ("生活服务;生活服务场所;生活服务场所", "070000", "生活服务;其他")
OFFICE = ("公司企业;公司;公司", "170200", "公司企业;公司")


def named_features(extract: str) -> pd.DataFrame:
    """Named OSM features with a facility-like key: osm id, name, key, value, WGS84 point."""
    wkb = osmium.geom.WKBFactory()
    rows, geoms = [], []
    fp = (osmium.FileProcessor(str(ROOT / "data" / "osm" / f"{extract}.osm.pbf")).with_locations().with_areas()
          .with_filter(osmium.filter.KeyFilter("name")))
    for obj in fp:
        if obj.is_way() and obj.is_closed():
            continue
        key = next((k for k in KEYS if k in obj.tags), None)
        if key is None:
            continue
        try:
            if obj.is_node():
                g, oid = wkb.create_point(obj), f"n{obj.id}"
            elif obj.is_way():
                g, oid = wkb.create_linestring(obj), f"w{obj.id}"
            elif obj.is_area():
                g, oid = wkb.create_multipolygon(obj), ("w" if obj.from_way() else "r") + str(obj.orig_id())
            else:
                continue
        except RuntimeError:
            continue
        rows.append((oid, obj.tags["name"], key, obj.tags[key]))
        geoms.append(g)
    geom = shapely.point_on_surface(shapely.from_wkb(np.asarray(geoms, dtype=object)))
    df = pd.DataFrame(rows, columns=["osm_id", "name", "key", "value"])
    xy = shapely.get_coordinates(geom)
    df["lon"], df["lat"] = xy[:, 0], xy[:, 1]
    return df.drop_duplicates("osm_id").sort_values("osm_id", kind="stable").reset_index(drop=True)


def provider_types(df: pd.DataFrame) -> pd.DataFrame:
    t = [TYPES.get((k, v), OFFICE if k == "office" else OTHER_SHOP if k == "shop" else OTHER)
         for k, v in zip(df["key"], df["value"])]
    df = df.copy()
    df["amap_type"], df["typecode"], df["baidu_tag"] = zip(*t)
    small = df["value"].eq("school") & df["name"].str.contains("小")
    df.loc[small, ["amap_type", "typecode", "baidu_tag"]] = ("科教文化服务;学校;小学", "141203", "教育培训;小学")
    return df


def with_entrances(df: pd.DataFrame) -> pd.DataFrame:
    hosp = df[df["value"] == "hospital"].copy()
    hosp["osm_id"] = hosp["osm_id"] + "-gate"
    hosp["name"] = hosp["name"] + "(北门)"
    hosp["lat"] = hosp["lat"] + 40.0 / 111_320.0
    hosp["note"] = "entrance added (AMap lists gates as sub-POIs)"
    return pd.concat([df.assign(note=""), hosp], ignore_index=True)


def amap_json(df: pd.DataFrame, adname: str, city: str) -> dict:
    lon, lat = wgs84_to_gcj02(df["lon"].to_numpy(), df["lat"].to_numpy())
    pois = [{"id": f"B0OSM{oid}", "parent": [], "name": name, "type": t, "typecode": code,
             "address": note or [], "location": f"{x:.6f},{y:.6f}", "pname": city, "cityname": city,
             "adname": adname, "tel": []}
            for oid, name, t, code, note, x, y in zip(df["osm_id"], df["name"], df["amap_type"], df["typecode"],
                                                      df["note"], lon, lat)]
    pages = [pois[i:i + 25] for i in range(0, len(pois), 25)]
    # the first page saved twice, as a planner merging overlapping searches does
    docs = [{"status": "1", "info": "OK", "infocode": "10000", "count": str(len(pois)), "pois": p}
            for p in [pages[0], *pages]]
    return docs


def baidu_json(df: pd.DataFrame, area: str, city: str) -> dict:
    lon, lat = wgs84_to_bd09(df["lon"].to_numpy(), df["lat"].to_numpy())
    results = [{"name": name, "location": {"lat": round(float(y), 6), "lng": round(float(x), 6)},
                "address": note or area, "province": "广东省", "city": city, "area": area, "street_id": "",
                "detail": 1, "uid": f"osm{oid}", "detail_info": {"tag": tag, "type": ""}}
               for oid, name, tag, note, x, y in zip(df["osm_id"], df["name"], df["baidu_tag"], df["note"], lon, lat)]
    return {"status": 0, "message": "ok", "result_type": "poi_type", "results": results}


def poi_tool_csv(df: pd.DataFrame) -> pd.DataFrame:
    lon, lat = wgs84_to_gcj02(df["lon"].to_numpy(), df["lat"].to_numpy())
    return pd.DataFrame({"名称": df["name"], "类型": df["amap_type"], "typecode": df["typecode"],
                         "经纬度": [f"{x:.6f},{y:.6f}" for x, y in zip(lon, lat)]})


def government_list(df: pd.DataFrame) -> pd.DataFrame:
    """A district's own list (WGS84, 3-8 m off, names with 街道/社区 noise) of the hospitals and libraries."""
    sel = df[df["value"].isin(["hospital", "library"]) & (df["note"] == "")].drop_duplicates("name")
    rng = np.random.default_rng(16)
    ang = rng.uniform(0, 2 * np.pi, len(sel))
    dist = rng.uniform(3, 8, len(sel))
    return pd.DataFrame({
        "名称": "海淀区清华园街道" + sel["name"],
        "类别": np.where(sel["value"] == "hospital", "clinic", "culture"),
        "经度": np.round(sel["lon"] + dist * np.cos(ang) / (111_320.0 * np.cos(np.radians(sel["lat"]))), 7),
        "纬度": np.round(sel["lat"] + dist * np.sin(ang) / 111_320.0, 7),
    })


if __name__ == "__main__":
    thu = with_entrances(provider_types(named_features("beijing_haidian_tsinghua")))
    lg = provider_types(named_features("shenzhen_longgang")).assign(note="")
    (OUT / "tsinghua_amap_pois.json").write_text(
        json.dumps(amap_json(thu, "海淀区", "北京市"), ensure_ascii=False, indent=0), encoding="utf-8")
    (OUT / "longgang_baidu_pois.json").write_text(
        json.dumps(baidu_json(lg, "龙岗区", "深圳市"), ensure_ascii=False, indent=0), encoding="utf-8")
    poi_tool_csv(lg).to_csv(OUT / "longgang_poi_tool.csv", index=False, encoding="utf-8-sig")
    government_list(thu).to_csv(OUT / "tsinghua_gov_list.csv", index=False, encoding="utf-8-sig")
    # the WGS84 originals, for the round-trip tests
    cols = ["osm_id", "name", "lon", "lat"]
    pd.concat([thu.assign(extract="tsinghua")[cols + ["extract"]], lg.assign(extract="longgang")[cols + ["extract"]]]
              ).to_csv(OUT / "poi_fixtures_wgs84.csv", index=False, float_format="%.9f")
    print(len(thu), "Tsinghua POIs,", len(lg), "Longgang POIs")
