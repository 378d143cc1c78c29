"""Every sentence access15 shows a person, in English and Chinese (``[output] lang``): one text table.

Maps, the CLI's tables and the siting reports take their words from :data:`TEXT` through :func:`t`; no
display string is scattered in the code that computes. Formatting only: every figure comes from elsewhere.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

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
        # siting reports (docs/siting.md)
        "outside": "outside the study area ({where}); it is not analysed here",
        "osm_date_unknown": "OSM extract date unknown ({note})",
        "osm_no_timestamp": "the extract's header has no timestamp",
        "outside_swapped": "outside the study area ({where}), but the swapped pair is inside: it looks like "
                           "latitude,longitude; write --at={lon},{lat} (longitude first)",
        "where_bounds": "the boundaries",
        "where_network": "the network extract",
        "water": "on water ({name}, OSM id {oid}); move the site onto land",
        "water_unnamed": "a water area",
        "off": "{d:,.0f} m from the nearest walkable street (limit {limit:g} m); not reachable on foot",
        "adds": "{site} adds {n} {who} ({pts:+.1f} points) to the {minutes:g}-minute {label} circle",
        "group": "{noun} of group {group} ({all} {noun} in all)",
        "adds_combined": " and {n} ({pts:+.1f} points) to the combined circle",
        "catchment": "; its catchment holds {c} {noun}, {s} of them already served",
        "ratio": "; {cap:g} places take the ratio from {before:.2f} to {after:.2f} per 1,000 {noun}",
        "catchment_ratio": "; {cap:g} places are {ratio:.1f} per 1,000 {noun} of its catchment",
        "invalid": "{site}: {message}",
        "catchment_layer": "Catchment of {site} ({minutes:g} min)",
        "closed_layer": "Gap closed by {site}",
        "closed_any": "Gap closed by any candidate (each alone)",
        "proposed_layer": "Proposed sites ({n})",
        "sugg_closed": "Gap closed by the {n} suggested sites",
        "sugg_remaining": "Gap remaining after the suggested sites",
        "pool": "Candidate sites ({n})",
        "sugg_layer": "Suggested sites ({n})",
        "sugg_popup": "#{rank} {site}: adds {n} {noun} after the sites ranked above (coverage {share})",
        "key_title": "Siting",
        "key_site": "site (number: as in the table)",
        "key_catchment": "its catchment: everyone within {minutes:g} min",
        "key_closed": "gap it closes: newly inside the circle",
        "key_invalid": "site that cannot be used (see popup)",
        "key_sugg_title": "Suggested sites",
        "key_sugg_site": "suggested site (number: rank)",
        "key_sugg_closed": "gap they close together",
        "key_sugg_remaining": "gap remaining (layer, off at first)",
        "nouns": {"residents": "residents", "grid cells": "grid cells", "street nodes": "street nodes"},
        # --- CLI console tables and summary lines (cli/siting.py, cli/analysis.py) -----------------------
        "cli_check_title": "{category}: {minutes:g}-minute circle, {noun}",
        "cli_site": "site",
        "cli_status": "status",
        "cli_status_ok": "ok",
        "cli_newly": "newly covered",
        "cli_points": "points",
        "cli_combined_plus": "combined +",
        "cli_catchment": "catchment",
        "cli_served": "already served",
        "cli_per1000_after": "per 1,000 after",
        "cli_units_title": "newly covered by unit (top {n} of {total})",
        "cli_unit": "unit",
        "cli_share_before": "share before",
        "cli_share_after": "share after",
        "cli_sugg_title": "{category}: suggested sites ({method}), {noun}",
        "cli_rank": "rank",
        "cli_lon": "lon",
        "cli_lat": "lat",
        "cli_cumulative": "cumulative",
        "cli_coverage": "coverage",
        "cli_existing": "existing facilities",
        # the English summary line is Suggestion.summary(); these are its parts for other languages
        "cli_sugg_summary": "{n} new site(s) add {obj} {noun} to the {minutes:g}-minute {label} circle "
                            "({before} -> {after})",
        "cli_sugg_gap_optimal": "; greedy reaches {pct:.2%} of the proven optimum",
        "cli_sugg_gap": "; greedy reaches {pct:.2%} of the best integer solution found",
        "cli_cover_met": "The target of {target} is already met ({share} covered): no new site needed.",
        "cli_cover_unreachable": "A {target} share is unreachable with these {n} candidates: all of them together "
                                 "reach {share}.",
        "cli_cover_needed": "Reaching {target} takes {k} new site(s) of these candidates (proven minimum).",
        "cli_cover_needed_upper": "Reaching {target} takes at most {k} new site(s) of these candidates (greedy, an "
                                  "upper bound).",
        "cli_cache": "analysis loaded from cache in {s:.2f} s",
        "cli_note": "note:",
        "cli_warning": "warning:",
        "cli_units_worst": "Units, worst first (combined circle)",
        "cli_unit_check": "Boundary check (overlaps count residents twice, gaps not at all)",
        "cli_supply": "Supply per resident",
        "cli_targets": "Targets",
        "cli_estimated": " (population ESTIMATED)",
        "cli_first": "(first {limit} of {n})",
        # --- scenario comparison (access15 compare, the workbench's "compare with" panel) ------------------
        "cmp_baseline": "baseline (today's facilities)",
        "cmp_title": "A: {a}\nB: {b}\n{when}",
        "cmp_every_edit": "every edit applied",
        "cmp_year": "plan year {year}",
        "cmp_units": "By unit ({level}), combined circle, largest losses first",
        "cmp_compare_with": "Compare with",
        "cmp_none": "no comparison",
        "cmp_explain": "gained: covered in this scenario, not in {b}; lost: the reverse",
        "cmp_written": "comparison written to {path}",
        "cmp_circle": "circle",
        "methods": {"greedy": "greedy", "exact": "exact"},
        "columns": {"covered_a": "covered in A", "covered_b": "covered in B", "share_a": "share A",
                    "share_b": "share B", "points": "points (A-B)"},
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
        # siting reports (docs/siting.md)
        "outside": "位于研究范围（{where}）之外，未作分析",
        "osm_date_unknown": "OSM 数据日期未知（{note}）",
        "osm_no_timestamp": "数据文件头中没有时间戳",
        "outside_swapped": "位于研究范围（{where}）之外，但经纬度互换后在范围内：似乎写成了“纬度,经度”，"
                           "请写 --at={lon},{lat}（经度在前）",
        "where_bounds": "行政边界",
        "where_network": "路网数据范围",
        "water": "位于水域（{name}，OSM 编号 {oid}），请将选址移至陆地",
        "water_unnamed": "水域",
        "off": "距最近的步行道路 {d:,.0f} 米（上限 {limit:g} 米），步行无法到达",
        "adds": "{site}：新增 {n} {who}进入{minutes:g}分钟{label}圈（{pts:+.1f} 个百分点）",
        "group": "{noun}（{group}；全部{noun} {all}）",
        "adds_combined": "，综合服务圈新增 {n}（{pts:+.1f} 个百分点）",
        "catchment": "；其服务范围内共 {c} {noun}，其中 {s} 已被现有设施覆盖",
        "ratio": "；新增 {cap:g} 个床位/名额，每千{noun}指标由 {before:.2f} 升至 {after:.2f}",
        "catchment_ratio": "；{cap:g} 个床位/名额相当于服务范围内每千{noun} {ratio:.1f} 个",
        "invalid": "{site}：{message}",
        "catchment_layer": "{site} 的{minutes:g}分钟服务范围",
        "closed_layer": "{site} 填补的空白",
        "closed_any": "各候选选址（单独）填补的空白",
        "proposed_layer": "拟选址（{n}）",
        "sugg_closed": "{n} 个建议选址共同填补的空白",
        "sugg_remaining": "建议选址之后仍存在的空白",
        "pool": "候选选址（{n}）",
        "sugg_layer": "建议选址（{n}）",
        "sugg_popup": "第 {rank} 名 {site}：在排名靠前的选址之后新增 {n} {noun}（覆盖率 {share}）",
        "key_title": "选址",
        "key_site": "选址（编号同表格）",
        "key_catchment": "服务范围：{minutes:g}分钟内可达",
        "key_closed": "填补的空白：新纳入服务圈",
        "key_invalid": "无法使用的选址（见弹窗）",
        "key_sugg_title": "建议选址",
        "key_sugg_site": "建议选址（编号为排序）",
        "key_sugg_closed": "共同填补的空白",
        "key_sugg_remaining": "剩余空白（图层，默认关闭）",
        "nouns": {"residents": "居民", "grid cells": "网格", "street nodes": "路网节点"},
        # --- CLI console tables and summary lines (cli/siting.py, cli/analysis.py) -----------------------
        "cli_check_title": "{label}：{minutes:g}分钟服务圈，{noun}",
        "cli_site": "选址",
        "cli_status": "状态",
        "cli_status_ok": "可用",
        "cli_newly": "新增覆盖",
        "cli_points": "百分点",
        "cli_combined_plus": "综合服务圈新增",
        "cli_catchment": "服务范围内",
        "cli_served": "其中已覆盖",
        "cli_per1000_after": "建成后每千人",
        "cli_units_title": "各单元新增覆盖（前 {n} 个，共 {total} 个）",
        "cli_unit": "单元",
        "cli_share_before": "原覆盖率",
        "cli_share_after": "建成后覆盖率",
        "cli_sugg_title": "{label}：建议选址（{method}），{noun}",
        "cli_rank": "排序",
        "cli_lon": "经度",
        "cli_lat": "纬度",
        "cli_cumulative": "累计新增",
        "cli_coverage": "覆盖率",
        "cli_existing": "现有设施",
        "cli_sugg_summary": "{n} 个新选址使{minutes:g}分钟{label}圈新增 {obj} {noun}（覆盖率 {before} → {after}）",
        "cli_sugg_gap_optimal": "；贪心解达到已证明最优解的 {pct:.2%}",
        "cli_sugg_gap": "；贪心解达到已找到的最优整数解的 {pct:.2%}",
        "cli_cover_met": "目标 {target} 已达到（已覆盖 {share}），无需新增选址。",
        "cli_cover_unreachable": "这 {n} 个候选选址无法达到 {target}：全部建成也只能达到 {share}。",
        "cli_cover_needed": "达到 {target} 需要从候选选址中新增 {k} 处（已证明为最少）。",
        "cli_cover_needed_upper": "达到 {target} 最多需要从候选选址中新增 {k} 处（贪心解，为上界）。",
        "cli_cache": "已从缓存载入分析结果，用时 {s:.2f} 秒",
        "cli_note": "提示：",
        "cli_warning": "警告：",
        "cli_units_worst": "各单元综合服务圈覆盖（由低到高）",
        "cli_unit_check": "边界检查（重叠处居民会被重复计数，空隙处居民不被计入）",
        "cli_supply": "人均供给",
        "cli_targets": "规划指标",
        "cli_estimated": "（人口为估算值）",
        "cli_first": "（前 {limit} 行，共 {n} 行）",
        "cmp_baseline": "基线（现状设施）",
        "cmp_title": "A：{a}\nB：{b}\n{when}",
        "cmp_every_edit": "全部调整生效",
        "cmp_year": "规划年份 {year}",
        "cmp_units": "各单元（{level}）综合服务圈，减少最多者在前",
        "cmp_compare_with": "对比",
        "cmp_none": "不对比",
        "cmp_explain": "新增：本方案覆盖而{b}未覆盖；减少：反之",
        "cmp_written": "对比表已写入 {path}",
        "cmp_circle": "服务圈",
        "methods": {"greedy": "贪心算法", "exact": "精确求解"},
        "columns": {
            "level": "层级", "unit": "单元", "demand": "居民", "covered": "覆盖", "share_covered": "覆盖率",
            "median_min": "中位数(分钟)", "p90_min": "90%分位(分钟)", "unreachable": "不可达", "units": "单元数",
            "residents": "居民", "residents_in_overlaps": "重叠区居民", "residents_in_gaps": "空隙区居民",
            "category": "类别", "population": "人口口径", "basis": "计量", "facilities": "设施数",
            "missing_capacity": "缺规模", "capacity": "规模", "per_1000": "每千人", "target": "指标",
            "measure": "度量", "target_value": "目标值", "figure": "现状值", "status": "状态", "city": "城市",
            "year": "年份", "covered_a": "A 覆盖", "covered_b": "B 覆盖", "gained": "新增", "lost": "减少",
            "net": "净变化", "share_a": "A 覆盖率", "share_b": "B 覆盖率", "points": "百分点（A-B）",
        },
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
    (re.compile(r"^share of residents \(population: (?P<a>.+), (?P<b>[\d,]+) persons; spread by the floor area of "
                r"(?P<c>[\d,]+) residential buildings\)$"),
     "居民覆盖率（人口：{a}，{b} 人；按 {c} 栋住宅建筑的建筑面积分配）"),
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


def t(lang: str, key: str, **kw: Any) -> str:
    """The text ``key`` in ``lang`` ("en"/"zh"; English otherwise), formatted with ``kw``."""
    return TEXT.get(lang, TEXT["en"])[key].format(**kw)


def noun(lang: str, noun_en: str) -> str:
    """The demand noun ("residents", "grid cells", "street nodes") in ``lang``."""
    return TEXT.get(lang, TEXT["en"])["nouns"].get(noun_en, noun_en)


def word(lang: str, group: str, key: str) -> str:
    """A word of a word group ("methods", "columns") in ``lang``; the key itself where none is defined."""
    return TEXT.get(lang, TEXT["en"])[group].get(key, key)


def number(v: float) -> str:
    """A count with thousands separators; one decimal only for small fractional values."""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:,.1f}"


def share(x: float) -> str:
    """A share (0-1) as a percentage with one decimal at most ("90%", "83.6%"): the one rule for every share
    in siting output (tables, sentences, maps).

    Rounded half-to-even to 0.1 percentage point ("83.55%" -> "83.6%"), except that a share short of 1 is
    never shown as 100% (it is then floored: 0.99996 -> "99.9%"); "–" when undefined.
    """
    if x is None or not math.isfinite(x):
        return "–"
    d = Decimal(repr(float(x))) * 100
    v = d.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if x < 1 and v >= 100:
        v = d.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return f"{v:.1f}".removesuffix(".0") + "%"
