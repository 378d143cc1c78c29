"""Every sentence access15 shows a person, in English and Chinese (``[output] lang``): one text table.

Maps, the CLI's tables and the siting reports take their words from :data:`TEXT` through :func:`t`; no
display string is scattered in the code that computes. Formatting only: every figure comes from elsewhere.

Errors, warnings and notes are written in English where they are raised (they name the file, row and field,
and are what the Python API and ``run.json`` carry); their Chinese forms are the table
``data/messages_zh.toml``, keyed by the English template (see :func:`message`). A test holds the table
complete: every message template in the package has a Chinese form with the same placeholders.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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
        "cli_error": "error:",
        "cli_no_problems": "no problems found",
        "cli_problem_counts": "{e} errors, {w} warnings, {n} notes",
        "cli_loading": "loading the analysis (the first run builds the cache)",
        "cli_writing": "writing outputs",
        "cli_starting": "starting",
        "cli_demo_missing": "bundled demo config not found; run from the repository root (configs/porto_alegre.toml)",
        "cli_regions": "regions",
        "cli_regions_last": "regions (last: {region})",
        "cli_batch_title": "{name}: {n} regions",
        "cli_region_failed": "region failed:",
        "cli_not_counted": "not counted:",
        "cli_bad_port": "--port {port} is not a TCP port (0-65535)",
        "cli_cannot_listen": "cannot listen on {host}:{port} ({why}); choose another --port",
        "cli_exposed": "warning: the workbench is reachable from other machines on {host}:{port}; it has no login. "
                       "Use the default 127.0.0.1 unless you trust the network.",
        "cli_workbench": "access15 workbench: {url}  (scenarios in {dir}; Ctrl+C stops)",
        "cli_fetch_cached": "cached {nodes} nodes, {edges} edges",
        "cli_fetch_downloaded": "downloaded {nodes} nodes, {edges} edges",
        "cli_fetch_facilities": "; facilities {counts}",
        "cli_at_or_candidates": "give --at lon,lat (repeatable) or --candidates FILE",
        "stages": {},
        "written": {},
        "severities": {},
        "methods": {"greedy": "greedy", "exact": "exact"},
        # walking profiles on the map (docs/walking.md)
        "walk_profiles": {"walk": "adult on foot", "elderly": "older person on foot", "wheelchair": "wheelchair user",
                          "pram": "parent with a pram"},
        "walkers_title": "Walkers (travel-time and gap layers)",
        "walker_configured": "as configured",
        "walker_profile": "{name} ({kmh:g} km/h)",
        "walker_line": "Measured for: {profiles}",
        # --- the workbench page (web/index.html, web/workbench.js; served by /api/init) -------------------
        "page": {
            "scenario": "Scenario", "plan_year": "Plan year", "gap_layer": "Gap layer", "add_title": "Add a facility",
            "click_map": "click the map", "category": "Category", "name": "Name", "optional": "optional",
            "capacity": "Capacity", "places": "places", "opens": "Opens", "year": "year", "click_adds": "click adds",
            "suggest": "Suggest", "sites_for": "sites for the category", "keep_all": "Keep all",
            "drop_all": "Drop all", "coverage": "Coverage", "th_circle": "circle", "th_facilities": "facilities",
            "th_covered": "covered", "th_share": "share", "th_vs": "vs baseline", "targets": "Plan targets",
            "units_worst": "Units, worst first", "edits": "Edits", "save": "Save", "load": "Load", "new": "New",
            "export": "Export", "loading": "loading…", "off_network": "off the network", "from_year": "from year",
            "reopen": "Reopen", "close": "Close", "proposed": "proposed {id}", "n_places": "{n} places",
            "opens_year": "opens {year}", "not_open": "not open in this plan year", "delete": "Delete",
            "no_targets": "No plan targets in this config ([targets]).", "th_target": "target", "th_scope": "scope",
            "th_figure": "figure", "th_target_value": "target", "met": "met", "not_met": "not met",
            "no_units": "No boundaries in this config ([boundaries]).", "th_unit": "unit", "th_all_req": "all req.",
            "n_of_units": "{n} of {total} units", "not_yet_open": "not yet open", "closed_edit": "− closed {id}",
            "from_paren": " (from {year})", "server_ms": "server {ms} ms", "round_trip": "round trip {ms} ms",
            "all_edits": "all edits", "suggested_n": "suggested #{rank}", "adds_after": "adds {n} ({share} after)",
            "keep": "Keep", "drop": "Drop", "suggested_name": "suggested {site}",
            "all_required": "all required (combined)", "min": "{m} min",
            "legend_gap": "outside the circle (darker: more residents)", "legend_closed": "closed in the scenario",
            "suggesting": "suggesting…", "suggested_status": "{n} suggested sites: keep or drop each (click it), or all",
            "saved_in": "saved {file} in {folder}", "exporting": "exporting…", "exported_to": "exported {files} to {folder}",
            "could_not_start": "could not start: {msg}", "pt": "pt",
        },
        # scenario descriptions (Scenario.describe: map footers, the page's status line)
        "sc_named": "Scenario '{name}'", "sc_unnamed": "Scenario", "sc_year": " (plan year {year})",
        "sc_added": "+{n} {category} ({names})", "sc_closed": "-{n} closed ({ids})", "sc_none": "no change",
        "sc_join": "; ", "sc_colon": ": ",
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
        "cli_error": "错误：",
        "cli_no_problems": "未发现问题",
        "cli_problem_counts": "{e} 个错误，{w} 个警告，{n} 条提示",
        "cli_loading": "正在载入分析结果（首次运行会建立缓存）",
        "cli_writing": "正在写出结果文件",
        "cli_starting": "开始",
        "cli_demo_missing": "找不到自带的示例配置文件；请在代码仓库根目录下运行（configs/porto_alegre.toml）",
        "cli_regions": "区域",
        "cli_regions_last": "区域（最近完成：{region}）",
        "cli_batch_title": "{name}：{n} 个区域",
        "cli_region_failed": "区域运行失败：",
        "cli_not_counted": "未计入：",
        "cli_bad_port": "--port {port} 不是有效的 TCP 端口（0-65535）",
        "cli_cannot_listen": "无法在 {host}:{port} 上监听（{why}）；请换一个 --port",
        "cli_exposed": "警告：工作台可从其他机器通过 {host}:{port} 访问，且没有登录保护。除非信任所在网络，"
                       "请使用默认地址 127.0.0.1。",
        "cli_workbench": "access15 工作台：{url}（方案保存在 {dir}；按 Ctrl+C 停止）",
        "cli_fetch_cached": "使用缓存：{nodes} 个节点，{edges} 条路段",
        "cli_fetch_downloaded": "已下载：{nodes} 个节点，{edges} 条路段",
        "cli_fetch_facilities": "；设施 {counts}",
        "cli_at_or_candidates": "请给出 --at 经度,纬度（可重复）或 --candidates 文件",
        "stages": {"load network": "载入路网", "load facilities": "载入设施", "load boundaries": "载入行政边界",
                   "population": "人口", "demand points": "需求点", "elevation": "高程", "snap": "接入道路",
                   "units": "单元", "route": "路径计算", "coverage": "覆盖统计", "standards": "指标核算"},
        "written": {"coverage": "覆盖率表", "unit_coverage": "各单元覆盖", "unit_check": "边界检查",
                    "supply": "人均供给", "targets": "规划指标", "capacity": "缺规模设施", "gpkg": "GeoPackage",
                    "html": "网页地图", "run": "运行记录", "table": "结果表", "units": "各单元结果",
                    "candidates": "候选选址", "failed": "失败区域", "pdf": "PDF 地图",
                    "travel_time_tif": "步行时间栅格", "coverage_tif": "覆盖人口栅格",
                    "demand_parquet": "需求点 GeoParquet", "facilities_parquet": "设施 GeoParquet"},
        "severities": {"error": "错误", "warning": "警告", "note": "提示"},
        "page": {
            "scenario": "方案", "plan_year": "规划年份", "gap_layer": "盲区图层", "add_title": "新增设施",
            "click_map": "点击地图", "category": "类别", "name": "名称", "optional": "可选", "capacity": "规模",
            "places": "名额/床位", "opens": "开放年份", "year": "年份", "click_adds": "点击即新增",
            "suggest": "建议选址", "sites_for": "处（当前类别）", "keep_all": "全部保留", "drop_all": "全部放弃",
            "coverage": "覆盖率", "th_circle": "服务圈", "th_facilities": "设施数", "th_covered": "覆盖",
            "th_share": "覆盖率", "th_vs": "较基线", "targets": "规划指标", "units_worst": "各单元（由低到高）",
            "edits": "调整", "save": "保存", "load": "载入", "new": "新建", "export": "导出", "loading": "载入中…",
            "off_network": "不在路网上", "from_year": "起始年份", "reopen": "恢复", "close": "关闭",
            "proposed": "拟建 {id}", "n_places": "{n} 个名额/床位", "opens_year": "{year} 年开放",
            "not_open": "该规划年份尚未开放", "delete": "删除", "no_targets": "配置中没有规划指标（[targets]）。",
            "th_target": "指标", "th_scope": "范围", "th_figure": "现状值", "th_target_value": "目标值",
            "met": "达标", "not_met": "未达标", "no_units": "配置中没有行政边界（[boundaries]）。", "th_unit": "单元",
            "th_all_req": "全部必需", "n_of_units": "共 {total} 个单元，显示 {n} 个", "not_yet_open": "尚未开放",
            "closed_edit": "− 关闭 {id}", "from_paren": "（自 {year} 年）", "server_ms": "服务器 {ms} 毫秒",
            "round_trip": "往返 {ms} 毫秒", "all_edits": "全部调整", "suggested_n": "建议 #{rank}",
            "adds_after": "新增覆盖 {n}（之后 {share}）", "keep": "保留", "drop": "放弃",
            "suggested_name": "建议选址 {site}", "all_required": "全部必需服务（综合）", "min": "{m} 分钟",
            "legend_gap": "服务圈外（颜色越深，居民越多）", "legend_closed": "方案中关闭",
            "suggesting": "正在计算建议选址…", "suggested_status": "建议选址 {n} 处：可点击逐个保留或放弃，或全部处理",
            "saved_in": "已保存 {file}（{folder}）", "exporting": "正在导出…", "exported_to": "已导出 {files} 至 {folder}",
            "could_not_start": "无法启动：{msg}", "pt": "个百分点",
        },
        "sc_named": "方案“{name}”", "sc_unnamed": "方案", "sc_year": "（规划年份 {year}）",
        "sc_added": "新增 {n} 处 {category}（{names}）", "sc_closed": "关闭 {n} 处（{ids}）", "sc_none": "无调整",
        "sc_join": "；", "sc_colon": "：",
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
        "walk_profiles": {"walk": "成年人步行", "elderly": "老年人步行", "wheelchair": "轮椅使用者",
                          "pram": "推婴儿车的家长"},
        "walkers_title": "步行人群（出行时间与未覆盖图层）",
        "walker_configured": "按配置",
        "walker_profile": "{name}（{kmh:g} 公里/小时）",
        "walker_line": "测算人群：{profiles}",
        "columns": {
            "level": "层级", "unit": "单元", "demand": "居民", "covered": "覆盖", "share_covered": "覆盖率",
            "median_min": "中位数(分钟)", "p90_min": "90%分位(分钟)", "unreachable": "不可达", "units": "单元数",
            "residents": "居民", "residents_in_overlaps": "重叠区居民", "residents_in_gaps": "空隙区居民",
            "category": "类别", "population": "人口口径", "basis": "计量", "facilities": "设施数",
            "missing_capacity": "缺规模", "capacity": "规模", "per_1000": "每千人", "target": "指标",
            "measure": "度量", "target_value": "目标值", "figure": "现状值", "status": "状态", "city": "城市",
            "year": "年份", "severity": "级别", "file": "文件", "row": "行", "field": "字段", "problem": "问题",
            "suggestion": "建议", "region": "区域", "share": "覆盖率", "median min": "中位数(分钟)",
            "covered_a": "A 覆盖", "covered_b": "B 覆盖", "gained": "新增", "lost": "减少",
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


# --- messages: errors, warnings and notes in the reader's language ------------------------------------------

#: Environment variable that sets the language of what the CLI shows ("zh" or "en"), over ``[output] lang``.
LANG_ENV = "ACCESS15_LANG"


def display_lang(config_lang: str | None = None) -> str:
    """The language the CLI speaks: ``$ACCESS15_LANG`` when it is set to zh/en (``zh_CN.UTF-8`` counts as zh),
    else the config's ``[output] lang``, else English."""
    env = os.environ.get(LANG_ENV, "").strip().lower()
    for lang in ("zh", "en"):
        if env.startswith(lang):
            return lang
    return config_lang if config_lang in TEXT else "en"


def template_parts(template: str) -> list[tuple[bool, str]]:
    """A message template split into (is_placeholder, text) parts: ``{expr}`` is a placeholder named by its
    text, ``{{``/``}}`` are literal braces (the syntax of Python format strings, expressions not evaluated)."""
    parts: list[tuple[bool, str]] = []
    lit, i, n = [], 0, len(template)
    while i < n:
        c = template[i]
        if c in "{}" and template[i:i + 2] in ("{{", "}}"):
            lit.append(c)
            i += 2
        elif c == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(template[j], 0)
                j += 1
            if lit:
                parts.append((False, "".join(lit)))
                lit = []
            parts.append((True, template[i + 1:j - 1]))
            i = j
        else:
            lit.append(c)
            i += 1
    if lit:
        parts.append((False, "".join(lit)))
    return parts


@functools.cache
def _message_table(lang: str) -> list[tuple[int, re.Pattern, list[tuple[bool, str]], dict[str, str]]]:
    """(length of the template's own text, pattern of the English message, parts of its translation,
    placeholder -> group) per template, the most specific (longest own text) first; templates with almost no
    words of their own are left out."""
    text = resources.files("access15").joinpath(f"data/messages_{lang}.toml").read_text(encoding="utf-8")
    table = []
    for en, tr in tomllib.loads(text)["messages"].items():
        parts = template_parts(en)
        literal = "".join(p for is_ph, p in parts if not is_ph)
        if sum(ch.isalpha() for ch in literal) < 4:
            continue
        groups: dict[str, str] = {}
        rx = []
        for is_ph, p in parts:
            if not is_ph:
                rx.append(re.escape(p))
            elif p in groups:
                rx.append(f"(?P={groups[p]})")
            else:
                groups[p] = f"g{len(groups)}"
                rx.append(f"(?P<{groups[p]}>.*?)")
        table.append((len(literal), re.compile("".join(rx), re.DOTALL), template_parts(tr), groups))
    table.sort(key=lambda row: -row[0])
    return table


@functools.lru_cache(maxsize=4096)
def translate(msg: str, lang: str) -> str | None:
    """``msg`` in ``lang`` when every part of it is in the message table ``data/messages_<lang>.toml``, else None.
    A message is a template of the table with its values filled in, or such messages joined by ": ", "; " or
    ". " (a source name may stand before ": " as it is)."""
    if msg.endswith(".") and not msg.endswith(".."):
        body = translate(msg[:-1], lang)
        return None if body is None else body + "。"
    if "; " in msg:  # "part; part": each part first, so that a short template cannot swallow the line
        joined = _split_translate(msg, "; ", "；", lang)
        if joined is not None:
            return joined
    whole = _fullmatch(msg, lang)
    head, sep, tail = msg.partition(": ")
    if sep and " " not in head:  # "file.csv: message": the name stays, unless a template explains more of it
        part = _fullmatch(tail, lang)
        if part is not None and (whole is None or part[1] > whole[1]):
            return head + "：" + part[0]
    if whole is not None:
        return whole[0]
    for sep, joined in ((": ", "："), (". ", "。")):  # "source: message", "problem. fix"
        done = _split_translate(msg, sep, joined, lang)
        if done is not None:
            return done
    return None


def _fullmatch(msg: str, lang: str) -> tuple[str, int] | None:
    """(``msg`` in ``lang``, the template's own letters) by the most specific template matching all of it."""
    for literal, pattern, parts, groups in _message_table(lang):
        m = pattern.fullmatch(msg)
        if m:  # a value that is itself a message (e.g. "did you mean 'x'?") is translated too
            return "".join(_value(m.group(groups[p]), lang) if is_ph else p for is_ph, p in parts), literal
    return None


def _split_translate(msg: str, sep: str, joined: str, lang: str) -> str | None:
    """``msg`` as two parts around one ``sep``, both translated (the head of ": " may stay: a source name)."""
    i = msg.find(sep)
    while i > 0:
        head, tail = msg[:i], msg[i + len(sep):]
        zt = translate(tail, lang)
        zh = translate(head, lang) or (head if sep == ": " and zt is not None else None)
        if zh is not None and zt is not None:
            return zh + joined + zt
        i = msg.find(sep, i + 1)
    return None


def _value(value: str, lang: str) -> str:
    """A value filled into a message: its translation when it is a message of the table, else as it is."""
    return (translate(value, lang) or value) if len(value) > 8 and " " in value else value


def message(lang: str, msg: str) -> str:
    """An error, warning or note (written in English where it is raised) in ``lang``: its form in the message
    table ``data/messages_<lang>.toml`` with the same values filled in; the English when ``lang`` is English or
    the message is not in the table."""
    if lang == "en" or not msg:
        return msg
    return translate(msg, lang) or msg
