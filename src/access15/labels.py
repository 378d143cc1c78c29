"""Display text for maps and tables in English and Chinese."""

from __future__ import annotations

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
    },
    "zh": {
        "travel_time": "步行至最近{label}设施的时间（分钟）",
        "gap": "{minutes:g}分钟{label}服务圈未覆盖区域",
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
    },
}


def t(lang: str, key: str, **kw) -> str:
    """The text ``key`` in ``lang`` ("en"/"zh"), formatted with ``kw``."""
    return TEXT.get(lang, TEXT["en"])[key].format(**kw)
