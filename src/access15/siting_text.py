"""Sentences of the siting reports in English and Chinese (``[output] lang``).

Formatting only: every figure comes from :mod:`access15.siting`.
"""

from __future__ import annotations

import math

TEXT = {
    "en": {
        "outside": "outside the study area ({where}); it is not analysed here",
        "where_bounds": "the boundaries",
        "where_network": "the network extract",
        "water": "on water ({name}, OSM id {oid}); move the site onto land",
        "water_unnamed": "a water area",
        "off": "{d:,.0f} m from the nearest walkable street (limit {limit:g} m); not reachable on foot",
        "adds": "{site} adds {n} {who} ({pts:+.1f} points) to the {minutes:g}-minute {label} circle",
        "group": "{noun} of group {group} ({all} {noun} in all)",
        "combined": " and {n} ({pts:+.1f} points) to the combined circle",
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
        "sugg_popup": "#{rank} {site}: adds {n} {noun} after the sites ranked above (coverage {share:.1%})",
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
    },
    "zh": {
        "outside": "位于研究范围（{where}）之外，未作分析",
        "where_bounds": "行政边界",
        "where_network": "路网数据范围",
        "water": "位于水域（{name}，OSM 编号 {oid}），请将选址移至陆地",
        "water_unnamed": "水域",
        "off": "距最近的步行道路 {d:,.0f} 米（上限 {limit:g} 米），步行无法到达",
        "adds": "{site}：新增 {n} {who}进入{minutes:g}分钟{label}圈（{pts:+.1f} 个百分点）",
        "group": "{noun}（{group}；全部{noun} {all}）",
        "combined": "，综合服务圈新增 {n}（{pts:+.1f} 个百分点）",
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
        "sugg_popup": "第 {rank} 名 {site}：在排名靠前的选址之后新增 {n} {noun}（覆盖率 {share:.1%}）",
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
    },
}


def text(lang: str, key: str, **kw) -> str:
    """The phrase ``key`` in ``lang`` (English unless "zh"), formatted with ``kw``."""
    return TEXT.get(lang, TEXT["en"])[key].format(**kw)


def noun(lang: str, noun_en: str) -> str:
    """The demand noun ("residents", "grid cells", "street nodes") in ``lang``."""
    return TEXT.get(lang, TEXT["en"])["nouns"].get(noun_en, noun_en)


def number(v: float) -> str:
    """A count with thousands separators; one decimal only for small fractional values."""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:,.1f}"


def verdict(lang: str, row, noun_en: str, minutes: float, label: str, required: bool, group: str | None) -> str:
    """The one-sentence verdict for one row of a site-check table."""
    if row.status != "ok":
        return text(lang, "invalid", site=row.site, message=row.message)
    nn = noun(lang, noun_en)
    who = text(lang, "group", noun=nn, group=group, all=number(row.all_newly_covered)) if group else nn
    s = text(lang, "adds", site=row.site, n=number(row.newly_covered), who=who, pts=row.points, minutes=minutes,
             label=label)
    if required:
        s += text(lang, "combined", n=number(row.combined_newly_covered), pts=row.combined_points)
    s += text(lang, "catchment", c=number(row.catchment), noun=nn, s=number(row.already_served))
    if math.isfinite(row.capacity) and math.isfinite(row.ratio_after):
        s += text(lang, "ratio", cap=row.capacity, before=row.ratio_before, after=row.ratio_after, noun=nn)
    elif math.isfinite(row.capacity) and math.isfinite(row.catchment_ratio):
        s += text(lang, "catchment_ratio", cap=row.capacity, ratio=row.catchment_ratio, noun=nn)
    return s
