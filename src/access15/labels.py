"""Display text for maps and tables in English and Chinese."""

from __future__ import annotations

import re

TEXT = {
    "en": {
        "travel_time": "Walking time to the nearest {label} (min)",
        "gap": "Outside the {minutes:g}-minute circle: {label}",
        "gap_combined": "Outside the combined circle (any required service missing)",
        "facilities": "{label} facilities",
        "streets": "Walkable streets",
        "combined": "Combined circle",
        "covered": "covered",
        "none": "none within {max:g} min",
        "speed": "Speed profile: {profile}, {kmh:g} km/h",
        "sources": "Data: {sources}",
        "units": "Administrative units",
        "headline": "{label}: {share:.1%} within {minutes:g} min",
        "headline_combined": "All required services: {share:.1%}",
        # maps (docs/maps.md)
        "bands_title": "Walking time to the nearest facility",
        "band": "{a:g}–{b:g} min",
        "gaps_title": "Gaps (outside the circle)",
        "gap_cells": "uncovered cell",
        "gap_weight": "uncovered demand per cell",
        "gap_residents": "uncovered residents per cell",
        "choropleth": "Coverage share by unit: {label}",
        "choropleth_title": "Share covered (by unit)",
        "boundaries": "Boundaries",
        "facilities_title": "Facilities",
        "unit": "Unit",
        "demand": "Demand",
        "share": "{label}",
        "name": "Name",
        "capacity": "Capacity",
        "address": "Address",
        "facility_id": "Facility id",
        "osm_id": "OSM id",
        "source": "Source",
        "snap_m": "Distance to street (m)",
        "circle": "{minutes:g}-minute circle",
        "data_date": "OSM data of {date}",
        "analysed": "analysed {date}",
        "gcj02_note": "Overlays shifted WGS84 → GCJ-02 to line up with the {basemap} basemap",
        "basemap_none": "No basemap: streets from the OSM extract",
        "north": "N",
        "scale": "Scale",
        "static_title": "{name}: {label}",
        "static_gap": "Outside the {minutes:g}-minute circle",
        "static_gap_combined": "Missing at least one required service",
        "static_covered": "Within the circle",
        "streets_legend": "Walkable streets",
    },
    "zh": {
        "travel_time": "步行至最近{label}设施的时间（分钟）",
        "gap": "{label}：{minutes:g}分钟服务圈未覆盖区域",
        "gap_combined": "综合服务圈未覆盖区域（缺少任一必需服务）",
        "facilities": "{label}设施",
        "streets": "步行路网",
        "combined": "综合服务圈",
        "covered": "已覆盖",
        "none": "{max:g}分钟内无设施",
        "speed": "步行速度：{profile}，{kmh:g} 公里/小时",
        "sources": "数据来源：{sources}",
        "units": "行政区划",
        "headline": "{label}：{minutes:g}分钟内覆盖 {share:.1%}",
        "headline_combined": "全部必需服务：{share:.1%}",
        # maps (docs/maps.md)
        "bands_title": "步行至最近设施的时间",
        "band": "{a:g}–{b:g} 分钟",
        "gaps_title": "服务盲区（圈外）",
        "gap_cells": "未覆盖网格",
        "gap_weight": "每格未覆盖需求",
        "gap_residents": "每格未覆盖居民（人）",
        "choropleth": "各单元覆盖率：{label}",
        "choropleth_title": "覆盖率（按单元）",
        "boundaries": "行政边界",
        "facilities_title": "设施",
        "unit": "单元",
        "demand": "需求量",
        "share": "{label}",
        "name": "名称",
        "capacity": "规模",
        "address": "地址",
        "facility_id": "设施编号",
        "osm_id": "OSM 编号",
        "source": "来源",
        "snap_m": "距道路（米）",
        "circle": "{minutes:g}分钟服务圈",
        "data_date": "OSM 数据日期 {date}",
        "analysed": "分析日期 {date}",
        "gcj02_note": "叠加图层已由 WGS84 转换为 GCJ-02，与{basemap}底图对齐",
        "basemap_none": "无底图：道路来自 OSM 数据",
        "north": "北",
        "scale": "比例尺",
        "static_title": "{name}：{label}",
        "static_gap": "{minutes:g}分钟服务圈外",
        "static_gap_combined": "缺少至少一项必需服务",
        "static_covered": "服务圈内",
        "streets_legend": "步行路网",
    },
}


#: Column headers of the coverage table printed by the CLI.
TABLE_HEADERS = {
    "en": ("category", "circle", "facilities", "covered", "share", "median min", "p90 min", "unreachable",
           "{m:g} min", "all required"),
    "zh": ("类别", "服务圈", "设施数", "覆盖", "覆盖率", "中位数(分钟)", "90%分位(分钟)", "不可达",
           "{m:g}分钟", "全部必需服务"),
}

#: Speed profile names shown on maps.
PROFILE_NAMES = {"zh": {"walk": "步行", "brisk": "快走", "elderly": "老年人步行"}}


def profile_name(lang: str, profile: str) -> str:
    """The display name of a speed profile in ``lang`` (the key itself where none is defined)."""
    return PROFILE_NAMES.get(lang, {}).get(profile, profile)


#: Chinese forms of the demand labels (what one unit of demand weight means), by the English pattern.
_DEMAND_ZH = [
    (re.compile(r"^area coverage: share of (?P<a>[\d.]+) m grid cells, not population$"),
     "面积覆盖：{a} 米网格的占比（非人口）"),
    (re.compile(r"^network coverage: share of street nodes, not population$"), "路网覆盖：路网节点的占比（非人口）"),
    (re.compile(r"^share of residents \(population raster (?P<a>.+), (?P<b>[\d,]+) persons in the study area\)$"),
     "居民覆盖率（人口栅格 {a}，研究区内 {b} 人）"),
    (re.compile(r"^share of residents \(population: (?P<a>.+), (?P<b>[\d,]+) persons(?P<c>.*)\)$"),
     "居民覆盖率（人口：{a}，{b} 人{c}）"),
    (re.compile(r"^ESTIMATED population: (?P<a>.*)$"), "估算人口（ESTIMATED）：{a}"),
]


def demand_text(label: str, lang: str) -> str:
    """The demand label (e.g. "share of residents (...)") in ``lang``; unknown forms stay as they are."""
    if lang != "zh":
        return label
    for pattern, form in _DEMAND_ZH:
        m = pattern.match(label)
        if m:
            return form.format(**m.groupdict())
    return label


def t(lang: str, key: str, **kw) -> str:
    """The text ``key`` in ``lang`` ("en"/"zh"), formatted with ``kw``."""
    return TEXT.get(lang, TEXT["en"])[key].format(**kw)
