"""POI exports in, categories out (access15.io.poi): readers, presets, the mapping's decisions, the report,
duplicate merging, the config hook and an analysis run on the Tsinghua extract.

Fixtures (``tests/data/make_poi_fixtures.py``): the real named features of the bundled Tsinghua and
Longgang OSM extracts, shifted to GCJ-02 / BD-09 and laid out as a saved AMap place search, a Baidu Place API
response and a POI-tool CSV; plus a district list in WGS84 for duplicate merging.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from access15 import analyze
from access15.config import FacilitySource, config_from_dict
from access15.coords import wgs84_to_bd09
from access15.errors import InputError
from access15.io.facilities import load_facilities
from access15.io.poi import classify, load_poi_source, load_preset, merge_duplicates, name_similarity, normalize_name

from .conftest import OSM

DATA = Path(__file__).resolve().parent / "data"
AMAP = DATA / "tsinghua_amap_pois.json"
BAIDU = DATA / "longgang_baidu_pois.json"
TOOL = DATA / "longgang_poi_tool.csv"
GOV = DATA / "tsinghua_gov_list.csv"
WGS = DATA / "poi_fixtures_wgs84.csv"

# ------------------------------------------------------------------------------ the mapping's decisions
# Street/community names from Haidian (Beijing) and Longgang (Shenzhen) as AMap/Baidu name POIs.
PLACES = ["学院路", "清华园", "五道口", "中关村", "燕园", "青龙桥", "坂田", "布吉", "横岗", "龙城"]

# (name template, AMap type, typecode, expected): expected is "category/subkind", "excluded:<rule>" or
# "unmatched". Name keywords beat the type; exclusions beat both.
AMAP_PATTERNS = [
    ("{p}社区卫生服务中心", "医疗保健服务;综合医院;综合医院", "090100", "clinic/community_health_center"),
    ("{p}社区卫生服务站", "医疗保健服务;诊所;诊所", "090300", "clinic/community_health_station"),
    ("{p}社区卫生服务站", "医疗保健服务;综合医院;卫生院", "090102", "clinic/community_health_station"),
    ("{p}长者食堂", "餐饮服务;中餐厅;中餐厅", "050100", "elderly_care/canteen"),
    ("{p}社区养老助餐点", "餐饮服务;快餐厅;快餐厅", "050300", "elderly_care/canteen"),
    ("{p}街道养老照料中心", "生活服务;生活服务场所;生活服务场所", "070000", "elderly_care/day_care"),
    ("{p}居家养老服务中心", "政府机构及社会团体;社会团体;社会团体相关", "130400", "elderly_care/day_care"),
    ("{p}敬老院", "", "", "elderly_care/residential"),
    ("{p}幼儿园", "科教文化服务;学校;幼儿园", "141204", "childcare/kindergarten"),
    ("{p}幼儿园-停车场", "交通设施服务;停车场;停车场相关", "150900", "excluded:parking_type"),
    ("{p}幼儿园(西门)", "科教文化服务;学校;幼儿园", "141204", "excluded:entrance"),
    ("{p}托育中心", "科教文化服务;培训机构;培训机构", "141400", "childcare/nursery"),
    ("{p}便利店", "购物服务;便民商店/便利店;便民商店/便利店", "060200", "convenience/convenience_store"),
    ("{p}全民健身中心", "体育休闲服务;运动场馆;综合体育馆", "080101", "fitness/public_sports_centre"),
    ("{p}健身路径", "体育休闲服务;运动场馆;户外健身场所", "080108", "fitness/outdoor_fitness"),
    ("{p}新时代文明实践站", "政府机构及社会团体;政府机关;乡镇以下级政府及事业单位", "130106",
     "culture/civilization_station"),
    ("{p}社区文化活动中心", "科教文化服务;文化宫;文化宫", "140800", "culture/cultural_centre"),
    ("{p}大药房", "医疗保健服务;医药保健销售店;药房", "090601", "excluded:pharmacy_type"),
    ("{p}菜市场", "购物服务;综合市场;蔬菜市场", "060705", "convenience/market"),
    ("{p}邮局", "生活服务;邮局;邮局", "070400", "convenience/post"),
    ("{p}派出所", "政府机构及社会团体;公检法机构;公安警察", "130501", "unmatched"),
    ("{p}口腔诊所", "医疗保健服务;诊所;诊所", "090300", "excluded:dental_cosmetic"),
    ("{p}宠物医院", "医疗保健服务;动物医疗场所;宠物诊所", "090701", "excluded:animal_type"),
    ("{p}医院(东门)", "医疗保健服务;综合医院;综合医院", "090100", "excluded:entrance"),
    ("{p}小学生托管中心", "科教文化服务;培训机构;培训机构", "141400", "excluded:after_school"),
    ("{p}村卫生室", "医疗保健服务;诊所;诊所", "090300", "clinic/village_clinic"),
]

BAIDU_PATTERNS = [
    ("{p}社区健康服务中心", "医疗;综合医院", "clinic/community_health_center"),
    ("{p}社康站", "医疗;诊所", "clinic/community_health_station"),
    ("{p}人民医院", "医疗;综合医院", "clinic/hospital"),
    ("{p}长者饭堂", "美食;中餐厅", "elderly_care/canteen"),
    ("{p}老年公寓", "房地产;住宅区", "elderly_care/residential"),
    ("{p}幼儿园", "教育培训;幼儿园", "childcare/kindergarten"),
    ("{p}体育中心", "运动健身;体育场馆", "fitness/public_sports_centre"),
    ("{p}图书馆", "教育培训;图书馆", "culture/library"),
    ("{p}药店", "医疗;药店", "excluded:pharmacy_tag"),
    ("{p}停车场", "交通设施;停车场", "excluded:parking_tag"),
    ("{p}小学", "教育培训;小学", "unmatched"),
]

# Hand-picked cases where the type misleads or a rule must not over-reach (AMap preset).
TRICKY = [
    ("北京大学第三医院", "医疗保健服务;综合医院;三级甲等医院", "090101", "clinic/hospital"),
    ("北京大学第三医院(北门)", "医疗保健服务;综合医院;三级甲等医院", "090101", "excluded:entrance"),
    ("海淀医院急诊入口", "医疗保健服务;综合医院;综合医院", "090100", "excluded:entrance"),
    ("清华大学医院门诊部", "医疗保健服务;综合医院;综合医院", "090100", "clinic/hospital"),
    ("东城社区卫生服务站(小牌坊胡同)", "医疗保健服务;综合医院;卫生院", "090102", "clinic/community_health_station"),
    ("上庄镇卫生院", "医疗保健服务;综合医院;卫生院", "090102", "clinic/township_health_center"),
    ("张家湾村卫生室", "医疗保健服务;医药保健销售店;药房", "090601", "clinic/village_clinic"),
    ("同仁堂药店(五道口店)", "医疗保健服务;综合医院;综合医院", "090100", "excluded:pharmacy"),
    ("海淀区妇幼保健院", "医疗保健服务;专科医院;妇科医院", "090209", "clinic/hospital"),
    ("瑞尔齿科(中关村店)", "医疗保健服务;专科医院;口腔医院", "090202", "excluded:dental_cosmetic_type"),
    ("美莱医疗美容医院", "医疗保健服务;专科医院;整形美容", "090201", "excluded:dental_cosmetic_type"),
    ("海淀区疾病预防控制中心", "医疗保健服务;疾病预防机构;疾病预防", "090500", "excluded:not_care_type"),
    ("学院路社区卫生服务中心预防接种门诊", "医疗保健服务;疾病预防机构;疾病预防", "090500",
     "clinic/community_health_center"),
    ("爱康国宾体检中心", "医疗保健服务;诊所;诊所", "090300", "excluded:not_care"),
    ("北京急救中心", "医疗保健服务;急救中心;急救中心", "090400", "excluded:not_care_type"),
    ("瑞鹏宠物医院", "医疗保健服务;动物医疗场所;宠物诊所", "090701", "excluded:animal_type"),
    ("张大夫诊所", "医疗保健服务;诊所;诊所", "090300", "clinic/clinic"),
    ("国医堂中医门诊部", "医疗保健服务;诊所;诊所", "090300", "clinic/clinic"),
    ("某某门诊", "医疗保健服务;医疗保健服务场所;医疗保健服务场所", "090000", "clinic/clinic"),
    ("医疗保健服务站点", "医疗保健服务;医疗保健服务场所;医疗保健服务场所", "090000", "unmatched"),
    ("海淀区北下关街道长者食堂", "餐饮服务;中餐厅;中餐厅", "050100", "elderly_care/canteen"),
    ("幸福老年餐桌", "餐饮服务;快餐厅;快餐厅", "050300", "elderly_care/canteen"),
    ("学院路街道综合为老服务中心", "生活服务;生活服务场所;生活服务场所", "070000", "elderly_care/day_care"),
    ("翠湖养老驿站", "生活服务;生活服务场所;生活服务场所", "070000", "elderly_care/day_care"),
    ("日间照料中心", "", "", "elderly_care/day_care"),
    ("海淀区社会福利院", "政府机构及社会团体;社会团体;慈善机构", "130408", "elderly_care/residential"),
    ("北京市儿童福利院", "政府机构及社会团体;社会团体;慈善机构", "130408", "unmatched"),
    ("双井恭和家园护理院", "医疗保健服务;专科医院;专科医院", "090200", "elderly_care/residential"),
    ("北京诚和敬养老服务有限公司", "公司企业;公司;公司", "170200", "excluded:company_office"),
    ("海淀区民政局", "政府机构及社会团体;政府机关;区县级政府及事业单位", "130104", "excluded:company_office"),
    ("红黄蓝幼儿园(筹建中)", "科教文化服务;学校;幼儿园", "141204", "excluded:closed"),
    ("四川省人民医院金牛医院(装修中)", "医疗保健服务;综合医院;综合医院", "090100", "excluded:closed"),
    ("金色摇篮幼儿园托班", "科教文化服务;学校;幼儿园", "141204", "childcare/nursery"),
    ("小橡树托育园", "科教文化服务;培训机构;培训机构", "141400", "childcare/nursery"),
    ("金宝贝早教中心", "科教文化服务;培训机构;培训机构", "141400", "excluded:after_school"),
    ("优贝乐婴幼儿早教托育中心", "科教文化服务;培训机构;培训机构", "141400", "childcare/nursery"),
    ("学而思培训(中关村校区)", "科教文化服务;培训机构;培训机构", "141400", "excluded:after_school"),
    ("清华大学洁华幼儿园", "科教文化服务;学校;中学", "141202", "childcare/kindergarten"),
    ("蓝天艺术幼儿园", "科教文化服务;学校;幼儿园", "141204", "childcare/kindergarten"),
    ("乐刻运动健身(五道口店)", "体育休闲服务;运动场馆;健身中心", "080111", "fitness/gym"),
    ("威尔士健身中心", "体育休闲服务;运动场馆;健身中心", "080111", "fitness/gym"),
    ("海淀区全民健身中心", "体育休闲服务;运动场馆;健身中心", "080111", "fitness/public_sports_centre"),
    ("中关村森林公园健身步道", "风景名胜;公园广场;公园内部设施", "110106", "fitness/outdoor_fitness"),
    ("西大操场", "体育休闲服务;运动场馆;运动场所", "080100", "fitness/sports_ground"),
    ("龙岗公众高尔夫球场", "体育休闲服务;高尔夫相关;高尔夫球场", "080201", "excluded:golf_type"),
    ("迪卡侬运动用品", "购物服务;体育用品店;体育用品店", "060900", "excluded:shop"),
    ("健身器材城", "购物服务;体育用品店;体育用品店", "060900", "excluded:shop"),
    ("沙滩排球场", "体育休闲服务;运动场馆;运动场所", "080100", "fitness/sports_ground"),
    ("人文社科图书馆", "科教文化服务;图书馆;图书馆", "140500", "culture/library"),
    ("清河街道农家书屋", "", "", "culture/library"),
    ("海淀区文化馆", "科教文化服务;文化宫;文化宫", "140800", "culture/cultural_centre"),
    ("温泉镇综合文化站", "科教文化服务;科教文化场所;科教文化场所", "140000", "culture/cultural_centre"),
    ("海淀区新时代文明实践中心", "政府机构及社会团体;政府机关;区县级政府及事业单位", "130104",
     "culture/civilization_station"),
    ("国家图书馆-停车场", "交通设施服务;停车场;停车场相关", "150900", "excluded:parking_type"),
    ("中国国家博物馆", "科教文化服务;博物馆;博物馆", "140100", "unmatched"),
    ("7-ELEVEn(五道口店)", "购物服务;便民商店/便利店;7-ELEVEn便利店", "060201", "convenience/convenience_store"),
    ("便利蜂(清华东门店)", "购物服务;便民商店/便利店;便民商店/便利店", "060200", "convenience/convenience_store"),
    ("物美超市(五道口店)", "购物服务;超级市场;超市", "060400", "convenience/supermarket"),
    ("卜蜂莲花", "购物服务;超级市场;卜蜂莲花", "060409", "convenience/supermarket"),
    ("清河农贸市场", "购物服务;综合市场;农副产品市场", "060703", "convenience/market"),
    ("中国邮政储蓄银行(五道口支行)", "金融保险服务;银行;中国邮政储蓄银行", "160139", "unmatched"),
    ("菜鸟驿站(清华东门店)", "生活服务;物流速递;物流速递", "070500", "convenience/parcel"),
    ("海淀医院", "医疗保健服务;综合医院;综合医院|医疗保健服务;专科医院;专科医院", "090100|090200", "clinic/hospital"),
    ("北京西城外国语学校", "科教文化服务;学校;中学|科教文化服务;培训机构;培训机构", "141202|141400", "unmatched"),
    ("某单位医务室", "", "", "clinic/clinic"),
    ("某某大厦", "商务住宅;楼宇;商务写字楼", "120201", "unmatched"),
    ("", "医疗保健服务;诊所;诊所", "090300", "clinic/clinic"),
    ("清华大学卫生间", "公共设施;公共厕所;公共厕所", "200300", "excluded:part_of_facility"),
    ("海淀医院住院部", "医疗保健服务;综合医院;综合医院", "090100", "excluded:part_of_facility"),
]


def _decide(rows: list[tuple], fmt: str, settings: dict | None = None) -> list[str]:
    df = pd.DataFrame(rows, columns=["name", "type", "typecode"])
    d = classify(df["name"], df["type"], df["typecode"], load_preset(None, fmt), settings)
    return [f"{c}/{s}" if dec == "matched" else f"excluded:{r}" if dec == "excluded" else "unmatched"
            for dec, c, s, r in zip(d["decision"], d["category"], d["subkind"], d["rule"])]


def _check(rows: list[tuple], expected: list[str], got: list[str]) -> None:
    wrong = [(r[0], r[1], e, g) for r, e, g in zip(rows, expected, got) if e != g]
    assert not wrong, f"{len(wrong)} of {len(rows)} decisions differ (name, type, expected, got): {wrong[:10]}"


def test_amap_decisions_for_realistic_name_type_pairs():
    rows = [(t.format(p=p), ty, code) for p in PLACES for t, ty, code, _ in AMAP_PATTERNS]
    expected = [e for _ in PLACES for *_, e in AMAP_PATTERNS]
    rows += [r[:3] for r in TRICKY]
    expected += [r[3] for r in TRICKY]
    assert len(rows) >= 300
    _check(rows, expected, _decide(rows, "amap"))


def test_baidu_decisions():
    rows = [(t.format(p=p), tag, "") for p in PLACES for t, tag, _ in BAIDU_PATTERNS]
    expected = [e for _ in PLACES for *_, e in BAIDU_PATTERNS]
    _check(rows, expected, _decide(rows, "baidu"))


def test_kindergarten_and_public_fitness_settings():
    rows = [("红黄蓝幼儿园", "科教文化服务;学校;幼儿园", "141204"), ("金色摇篮幼儿园托班", "科教文化服务;学校;幼儿园", "141204"),
            ("清华大学附属幼儿园", "", ""), ("小橡树托育园", "科教文化服务;培训机构;培训机构", "141400"),
            ("乐刻运动健身(五道口店)", "体育休闲服务;运动场馆;健身中心", "080111"), ("超级猩猩健身", "", ""),
            ("海淀区全民健身中心", "体育休闲服务;运动场馆;健身中心", "080111"),
            ("清河街道社区健身中心", "体育休闲服务;运动场馆;健身中心", "080111")]
    default = _decide(rows, "amap")
    strict = _decide(rows, "amap", {"kindergartens": False, "public_fitness_only": True})
    assert default == ["childcare/kindergarten", "childcare/nursery", "childcare/kindergarten", "childcare/nursery",
                       "fitness/gym", "fitness/gym", "fitness/public_sports_centre", "fitness/gym"]
    assert strict == ["excluded:kindergarten_off", "childcare/nursery", "excluded:kindergarten_off",
                      "childcare/nursery", "excluded:private_gym", "excluded:private_gym",
                      "fitness/public_sports_centre", "fitness/gym"]


def test_preset_table_lists_rules_in_precedence_order():
    tab = load_preset(None, "amap").table()
    stages = tab["stage"].tolist()
    assert stages == sorted(stages, key=["exclude", "name", "type"].index)
    assert tab["comment"].str.len().gt(0).all()  # every rule says why it exists
    assert {"elderly_care", "childcare", "clinic", "fitness", "culture", "convenience"} <= set(tab["category"])


# ----------------------------------------------------------------------------------- readers and report


def _wgs() -> pd.DataFrame:
    return pd.read_csv(WGS, dtype={"osm_id": str})


def _metres(a: gpd.GeoSeries, b: gpd.GeoSeries) -> np.ndarray:
    utm = a.estimate_utm_crs()
    return a.to_crs(utm).distance(b.to_crs(utm), align=False).to_numpy()


@pytest.mark.parametrize("fmt, path, prefix", [("amap", AMAP, "B0OSM"), ("baidu", BAIDU, "osm")])
def test_json_round_trip_to_wgs84_within_1m(fmt, path, prefix):
    fac, _ = load_poi_source(FacilitySource(path=path.name, format=fmt), path)
    assert fac.crs.to_epsg() == 4326 and len(fac) > 10
    ref = _wgs().drop_duplicates("osm_id").set_index("osm_id")
    ref = ref.loc[fac["facility_id"].str.removeprefix(prefix)]
    truth = gpd.GeoSeries(gpd.points_from_xy(ref["lon"], ref["lat"]), crs=4326)
    d = _metres(fac.geometry.reset_index(drop=True), truth)
    assert d.max() < 1.0  # 6-decimal rounding of the provider coordinates: ~0.1 m


def test_poi_csv_infers_system_says_so_and_round_trips(tmp_path):
    with pytest.warns(Warning, match="GCJ-02 .*typecode"):
        fac, rep = load_poi_source(FacilitySource(path=TOOL.name, format="poi_csv"), TOOL)
    assert "GCJ-02" in rep.crs_note and "inferred" in rep.crs_note
    ref = _wgs()
    ref = ref[ref["extract"] == "longgang"].reset_index(drop=True)  # the CSV's rows, in order
    rows = fac["facility_id"].str.split(":").str[1].astype(int).to_numpy() - 1
    ref = ref.iloc[rows].set_index("name")
    d = _metres(fac.geometry.reset_index(drop=True), gpd.GeoSeries(gpd.points_from_xy(ref["lon"], ref["lat"]), crs=4326))
    assert d.max() < 1.0
    # a Baidu-layout export (uid, 标签, one 经纬度 column in BD-09) of the same places is read as BD-09, and said so
    allrows = _wgs()
    allrows = allrows[allrows["extract"] == "longgang"].reset_index(drop=True)
    tags = [r["detail_info"]["tag"] for r in json.loads(BAIDU.read_text("utf-8"))["results"]]
    lon, lat = wgs84_to_bd09(allrows["lon"].to_numpy(), allrows["lat"].to_numpy())
    bd = pd.DataFrame({"uid": [f"u{i}" for i in range(len(allrows))], "名称": allrows["name"], "标签": tags,
                       "经纬度": [f"{x:.6f},{y:.6f}" for x, y in zip(lon, lat)]})
    bd.to_csv(tmp_path / "export.csv", index=False, encoding="gbk")
    with pytest.warns(Warning, match="BD-09 .*Baidu layout"):
        fac2, rep2 = load_poi_source(FacilitySource(path="export.csv", format="poi_csv"), tmp_path / "export.csv")
    ref2 = allrows.iloc[fac2["facility_id"].str.removeprefix("u").astype(int).to_numpy()]
    d2 = _metres(fac2.geometry.reset_index(drop=True), gpd.GeoSeries(gpd.points_from_xy(ref2["lon"], ref2["lat"]),
                                                                      crs=4326))
    assert "BD-09" in rep2.crs_note and rep2.preset.endswith("poi_baidu.toml") and len(fac2) > 10 and d2.max() < 1.0
    # no hint at all: refuse rather than guess
    bd.drop(columns=["uid"]).rename(columns={"标签": "类型"}).to_csv(tmp_path / "list.csv", index=False)
    with pytest.raises(InputError, match="list.csv.*GCJ-02.*BD-09.*declare crs"):
        load_poi_source(FacilitySource(path="list.csv", format="poi_csv"), tmp_path / "list.csv")
    # declared: no inference, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fac3, rep3 = load_poi_source(FacilitySource(path="list.csv", format="poi_csv", crs="bd09"), tmp_path / "list.csv")
    assert rep3.crs_note.startswith("BD-09 (declared)")


def test_report_counts_are_consistent_with_the_file():
    fac, rep = load_poi_source(FacilitySource(path=AMAP.name, format="amap"), AMAP)
    pages = json.loads(AMAP.read_text("utf-8"))
    pois = [p for page in pages for p in page["pois"]]
    unique = {p["id"]: p for p in pois}
    assert rep.rows == len(unique) and rep.same_id_dropped == len(pois) - len(unique) > 0
    assert rep.kept + int(rep.excluded["count"].sum()) + int(rep.unmatched["count"].sum()) == rep.rows
    assert rep.kept == len(fac)
    got = fac.groupby(["category", "subkind"]).size()
    assert got.to_dict() == rep.counts.set_index(["category", "subkind"])["count"].to_dict()
    # every gate POI of the file is excluded by the entrance rule
    gates = sum(p["name"].endswith("(北门)") for p in unique.values())
    assert gates > 0 and rep.excluded.set_index("rule").loc["entrance", "count"] == gates
    # the unmatched restaurants are listed with their number, most frequent type first
    restaurants = sum(p["typecode"] == "050100" for p in unique.values())
    top = rep.unmatched.iloc[0]
    assert (top["type"], top["typecode"], top["count"]) == ("餐饮服务;中餐厅;中餐厅", "050100", restaurants)
    assert rep.unmatched["count"].is_monotonic_decreasing
    text = rep.table()
    assert "unmatched types" in text and "entrance" in text and rep.source in rep.summary()
    assert set(fac.columns) >= {"category", "name", "facility_id", "capacity", "source", "geometry", "subkind",
                                "poi_type", "poi_typecode"}


# ------------------------------------------------------------------------------------------ duplicates


def test_names_normalise_street_noise():
    a, b, c = normalize_name(pd.Series(["海淀区清华园街道清华大学医院", "清华大学医院（北区）", "学院路街道社区卫生服务中心"]))
    assert name_similarity(a, "清华大学医院") == 1.0 and name_similarity(a, b) >= 0.6
    assert c == "学院路卫生服务中心"
    assert name_similarity(normalize_name(pd.Series(["快到家便利超市"]))[0],
                           normalize_name(pd.Series(["清华大学西北超市"]))[0]) < 0.6


def test_duplicates_across_sources_merged_with_a_report():
    srcs = [FacilitySource(path=GOV.name, category_column="类别", crs=None),
            FacilitySource(path=AMAP.name, format="amap")]
    with pytest.warns(Warning, match="merged"):
        fac = load_facilities(srcs, lambda p: DATA / p, ["clinic", "culture", "childcare", "fitness", "convenience"],
                              None)
    gov = pd.read_csv(GOV)
    assert not fac.attrs  # nothing unserialisable rides along (the analysis cache and GeoParquet store attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        each = [load_facilities([s], lambda p: DATA / p, ["clinic", "culture", "childcare", "fitness", "convenience"],
                                None) for s in srcs]
    _, merged = merge_duplicates(gpd.GeoDataFrame(pd.concat(each, ignore_index=True), crs=4326))
    assert len(merged) == len(gov)  # every district-list entry is also in the AMap export, 3-8 m away
    assert set(merged["kept_source"]) == {GOV.name} and set(merged["dropped_source"]) == {AMAP.name}
    assert merged["distance_m"].max() < 10 and (merged["similarity"] >= 0.6).all()
    amap_only, _ = load_poi_source(srcs[1], AMAP)
    assert len(fac) == len(gov) + len(amap_only) - len(merged)


def test_close_facilities_with_different_names_are_not_merged():
    pts = gpd.points_from_xy([116.3200, 116.32005, 116.3200], [40.0, 40.0, 40.00002])
    fac = gpd.GeoDataFrame({"category": ["convenience", "convenience", "clinic"],
                            "name": ["快到家便利超市", "清华大学西北超市", "快到家便利超市"],
                            "facility_id": ["a", "b", "c"], "capacity": [np.nan] * 3,
                            "source": ["gov.csv", "amap.json", "amap.json"]}, geometry=pts, crs=4326)
    out, pairs = merge_duplicates(fac)
    assert len(out) == 3 and pairs.empty  # 4 m apart but other names; same name but another category
    fac.loc[1, "name"] = "快到家便利超市(清华店)"
    out, pairs = merge_duplicates(fac)
    assert list(out["facility_id"]) == ["a", "c"] and pairs.iloc[0]["dropped_id"] == "b"


# ------------------------------------------------------------------------------------- config, analysis


def _config(tmp_path: Path, facilities: list[dict], **cats) -> dict:
    return {"name": "POI test", "network": {"path": str(OSM / "beijing_haidian_tsinghua.osm.pbf")},
            "demand": {"cell_m": 200},
            "categories": {c: {"minutes": 15} for c in ("clinic", "childcare", "culture", "fitness", "convenience")},
            "facilities": facilities, "output": {"dir": str(tmp_path / "out")}}


def test_analysis_on_tsinghua_with_the_amap_export(tmp_path):
    cfg = config_from_dict(_config(tmp_path, [{"path": str(AMAP), "format": "amap"}]), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyze(cfg)
    cats = res.facilities.groupby("category").size()
    _, rep = load_poi_source(cfg.facilities[0], AMAP)
    assert cats.to_dict() == rep.counts.groupby("category")["count"].sum().to_dict()
    assert {"clinic", "childcare", "culture", "fitness", "convenience"} <= set(cats.index)
    cov = res.coverage.set_index("category")
    assert (cov.loc[["clinic", "childcare", "culture", "fitness", "convenience"], "share_covered"] > 0).all()
    assert res.facilities["subkind"].notna().all()


def test_config_poi_keys(tmp_path):
    bad = _config(tmp_path, [{"path": str(AMAP), "format": "gaode"}])
    with pytest.raises(InputError, match="format = 'gaode'.*amap"):
        config_from_dict(bad, tmp_path)
    bad = _config(tmp_path, [{"path": str(AMAP), "format": "amap", "kindergartens": "no"}])
    with pytest.raises(InputError, match="kindergartens"):
        config_from_dict(bad, tmp_path)
    cats = ["clinic", "childcare", "culture", "fitness", "convenience"]
    no_kg = config_from_dict(_config(tmp_path, [{"path": str(AMAP), "format": "amap", "kindergartens": False}]),
                             tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fac = load_facilities(no_kg.facilities, no_kg.resolve, cats, None)
    assert "childcare" not in set(fac["category"])


def test_project_preset_overrides(tmp_path):
    (tmp_path / "my.toml").write_text(
        '[preset]\ninclude = ["poi_amap.toml"]\n'
        '[[name]]\nid = "bank_as_convenience"\ncategory = "convenience"\nsubkind = "bank"\n'
        'comment = "this plan counts bank branches as convenience services"\nname = [\'银行\']\n', encoding="utf-8")
    cfg = config_from_dict(_config(tmp_path, [{"path": str(AMAP), "format": "amap", "preset": "my.toml"}]), tmp_path)
    _fac, rep = load_poi_source(cfg.facilities[0], AMAP, cfg.resolve("my.toml"))
    pois = {p["id"]: p for pg in json.loads(AMAP.read_text("utf-8")) for p in pg["pois"]}.values()
    banks = sum("银行" in p["name"] for p in pois)
    assert rep.counts.set_index("subkind").loc["bank", "count"] == banks > 0
    # bank-typed POIs whose name lacks 银行 (e.g. ATMs, "工行") are still listed as unmatched
    left = sum(p["typecode"] == "160100" and "银行" not in p["name"] for p in pois)
    um = rep.unmatched.set_index("typecode")["count"]
    assert (um.get("160100", 0)) == left


# ------------------------------------------------------------------------------------------- bad input


def _amap(tmp_path: Path, doc) -> Path:
    p = tmp_path / "pois.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return p


def _poi(name: str, loc) -> dict:
    return {"id": name, "name": name, "type": "医疗保健服务;诊所;诊所", "typecode": "090300", "location": loc}


@pytest.mark.parametrize("doc, match", [
    ({"status": "1", "count": "0"}, r"pois.json, field 'pois': no 'pois' list"),
    ({"status": "0", "info": "INVALID_USER_KEY"}, r"pois.json, field 'status'.*INVALID_USER_KEY"),
    ({"pois": [_poi("a", "116.3,40.0"), _poi("b", "116.3;40.0")]}, r"pois.json, row 2, field 'location'.*116.3;40.0"),
    ({"pois": [_poi("a", [])]}, r"pois.json, row 1, field 'location': empty location"),
    ({"pois": [_poi("a", "116.3,40.0"), _poi("b", "216.3,40.0")]}, r"row 2, field 'location'.*out of range"),
    ({"pois": [_poi("a", "40.0,116.3")]}, r"row 1, field 'location'.*swapped"),
])
def test_bad_amap_input_is_one_line(tmp_path, doc, match):
    p = _amap(tmp_path, doc)
    with pytest.raises(InputError, match=match) as err:
        load_poi_source(FacilitySource(path=p.name, format="amap"), p)
    assert "\n" not in str(err.value)


def test_bad_baidu_and_csv_input(tmp_path):
    p = tmp_path / "baidu.json"
    p.write_text(json.dumps({"status": 0, "results": [{"name": "x", "location": {"lat": 22.7}}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"baidu.json, row 1, field 'location'"):
        load_poi_source(FacilitySource(path=p.name, format="baidu"), p)
    p.write_text('{"status": 2, "message": "Parameter Invalid"}', encoding="utf-8")
    with pytest.raises(InputError, match="Parameter Invalid"):
        load_poi_source(FacilitySource(path=p.name, format="baidu"), p)
    p.write_text('{"results": [', encoding="utf-8")
    with pytest.raises(InputError, match="baidu.json: not valid JSON"):
        load_poi_source(FacilitySource(path=p.name, format="baidu"), p)
    c = tmp_path / "amap_export.csv"
    c.write_text("名称,类型,经纬度\n诊所,医疗保健服务;诊所;诊所,\"116.3,40\"\n卫生站,医疗保健服务;诊所;诊所,116.3 40\n",
                 encoding="utf-8")
    with pytest.raises(InputError, match=r"amap_export.csv, row 2, field '经纬度'"):
        load_poi_source(FacilitySource(path=c.name, format="poi_csv"), c)


def test_validate_shows_the_mapping_table(tmp_path):
    from access15.validate import validate

    toml = tmp_path / "c.toml"
    toml.write_text(f"""name = "v"
[network]
path = "{(OSM / 'beijing_haidian_tsinghua.osm.pbf').as_posix()}"
[categories.clinic]
minutes = 15
[[facilities]]
path = "{AMAP.as_posix()}"
format = "amap"
""", encoding="utf-8")
    problems = validate(toml)
    assert not [p for p in problems if p.severity == "error"], problems
    notes = [p.problem for p in problems if p.file == str(AMAP)]
    assert any(n.startswith("POI mapping: clinic / hospital") for n in notes)
    assert any("POI type not mapped: '餐饮服务;中餐厅;中餐厅'" in n for n in notes)


def test_an_analysis_with_a_poi_export_is_cached(tmp_path):
    """A config reading an AMap export (the tutorial's) is stored in the analysis cache and read back: nothing
    attached to its facilities stops the cache (it once held the POI reports and was rebuilt on every call)."""
    from access15.pipeline import cached_analyze

    root = Path(__file__).resolve().parents[1]
    cfg = tmp_path / "configs" / "t.toml"
    cfg.parent.mkdir()
    text = (root / "configs" / "tutorial_haidian.toml").read_text(encoding="utf-8")
    cfg.write_text(text.replace('"../data/', f'"{(root / "data").as_posix()}/')
                   .replace("[network]\n", f'[network]\ncache_dir = "{(tmp_path / "cache").as_posix()}"\n'),
                   encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, cache = cached_analyze(cfg, tmp_path / "acache")
        again, _ = cached_analyze(cfg, tmp_path / "acache")
    assert not cache.skipped and "load cache" not in first.timings
    assert list(again.timings) == ["load cache"]
    pd.testing.assert_frame_equal(again.coverage, first.coverage)


def test_validate_lists_the_facilities_two_sources_share():
    """validate names every facility the analysis counts once because the AMap export and the district list
    both hold it: as many notes as the run merges, each naming both names and sources."""
    from access15 import analyze
    from access15.validate import validate

    cfg = Path(__file__).resolve().parents[1] / "configs" / "tutorial_haidian.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notes = [p for p in validate(cfg) if p.severity == "note" and "counted once" in p.problem]
        run = analyze(cfg)
    merged = next(w for w in run.warnings if "listed by two sources merged" in w)
    assert len(notes) == int(merged.split()[0]) > 0
    assert all(p.file.endswith("tsinghua_amap_pois.json") and "haidian_district_list.csv" in p.problem for p in notes)
