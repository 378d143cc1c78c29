"""POI exports in, categories out: AMap (高德) and Baidu (百度) place-search results as facilities.

Chinese planners' facility lists come from AMap or Baidu POI searches saved as files. This module reads

* **AMap Web Service place-search JSON** (``format = "amap"``): a ``pois`` list whose items have
  ``location = "lng,lat"`` (one string), ``type = "大类;中类;小类"`` (several joined by ``|``) and
  ``typecode`` (``"090100|090101"``); coordinates are GCJ-02;
* **Baidu Place API JSON** (``format = "baidu"``): a ``results`` list with ``location = {lat, lng}`` and
  ``detail_info.tag`` or ``tag`` (``"医疗;综合医院"``); coordinates are BD-09 (``bd09ll``);
* **CSV/Excel exports of POI download tools** (``format = "poi_csv"``): a single ``经纬度``/``location``
  column ``"lng,lat"`` or separate ``经度``/``纬度`` columns, with ``名称``, ``类型`` / ``大类``/``中类``/
  ``小类``, ``typecode``/``类型编码``. The system is the declared ``crs``, or inferred from the headers,
  the file name or the layout (Baidu ``uid``/``tag`` columns -> BD-09, AMap ``typecode`` -> GCJ-02),
  and the inference is said in a warning and in the report,

and converts every position to WGS84 with :mod:`access15.coords` (:func:`~access15.coords.convert_lonlat`).

Each POI is then given a category and a sub-kind by a **preset** (data, like ``osm_tags.toml``):
``data/poi_amap.toml`` (AMap type codes / names) or ``data/poi_baidu.toml`` (Baidu tags), each including
the shared exclusion and name-keyword rules of ``data/poi_names.toml``. Precedence, per POI:

1. **exclusion rules** (entrances, parking, pharmacies, companies, closed sites, ...): the POI is dropped;
2. **name keyword rules** (长者食堂 filed under food is elderly care; a 社区卫生服务站 filed under
   "医疗保健服务;诊所" is a community health station);
3. **type / typecode rules**.

Within a stage the first rule in file order wins (a project preset's own rules before the included ones).
Everything is vectorised: each rule is compiled once to one regular expression and applied to the whole
column with pandas string operations (O(rules x rows)). :class:`PoiReport` says what the mapping did:
counts per category and sub-kind, the rows excluded per rule, the unmatched types with counts (so a
planner can extend the preset) and the duplicates merged (:func:`merge_duplicates`).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..coords import convert_lonlat, find_lonlat_columns, looks_swapped, parse_crs
from ..errors import AccessWarning, InputError
from .tables import NAME_HEADERS, number_error, parse_numbers, read_table, resolve_column

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: ``[[facilities]] format = ...`` values handled here.
POI_FORMATS = ("amap", "baidu", "poi_csv")
#: The coordinate system each provider's API returns (AMap: GCJ-02; Baidu Place API default ``bd09ll``).
FORMAT_SYSTEM = {"amap": "gcj02", "baidu": "bd09"}
#: Built-in preset per provider.
BUILTIN_PRESETS = {"amap": "poi_amap.toml", "baidu": "poi_baidu.toml"}
#: Extra columns a POI source adds to the standard facility columns.
POI_COLUMNS = ["subkind", "poi_type", "poi_typecode"]
#: Two facilities of one category from different sources closer than this (metres) with similar names
#: (see :func:`name_similarity`) are one facility.
DUPLICATE_M = 30.0
#: Name similarity (0-1) from which two close facilities are taken as the same.
DUPLICATE_RATIO = 0.6

_TYPE_HEADERS = ("type", "类型", "poi类型", "分类", "类别", "行业分类", "tag", "标签", "types")
_TYPECODE_HEADERS = ("typecode", "类型编码", "分类编码", "类别编码", "type_code", "typecodes", "类型代码")
_LOCATION_HEADERS = ("location", "经纬度", "坐标", "lnglat", "lng_lat", "经纬度坐标", "lng,lat", "位置")
_ID_HEADERS = ("id", "uid", "poi_id", "poiid", "poi编号", "编号", "pid")
_LEVEL_HEADERS = (("大类", "中类", "小类"), ("一级分类", "二级分类", "三级分类"), ("一级行业", "二级行业"))
_NUM = r"\s*([-+]?\d+(?:\.\d+)?)\s*"
_LNGLAT = re.compile(rf"^{_NUM}[,，]{_NUM}$")


# ---------------------------------------------------------------------------------------------- preset


@dataclass(frozen=True)
class PoiRule:
    """One rule of a preset.

    ``stage`` is ``"exclude"``, ``"name"`` or ``"type"``. ``name`` is one regular expression searched
    anywhere in the NFKC-normalised POI name; ``type`` matches when any ``|``-separated type of the POI
    starts with one of the listed prefixes (``"医疗保健服务;诊所"``); ``typecode`` likewise with code
    prefixes (``"0903"`` = the whole 中类, ``"090300"`` = that code only). A rule matches when any of its
    parts does, and not when ``unless_name`` matches. ``when`` names a setting that must be true
    (``"not kindergartens"``: false) for the rule to apply.
    """

    stage: str
    id: str
    comment: str = ""
    category: str | None = None
    subkind: str | None = None
    name: re.Pattern | None = None
    type: re.Pattern | None = None
    typecode: re.Pattern | None = None
    unless_name: re.Pattern | None = None
    when: str | None = None

    def active(self, settings: dict[str, Any]) -> bool:
        """Whether the rule applies under ``settings``."""
        if not self.when:
            return True
        key = self.when.removeprefix("not ").strip()
        value = bool(settings.get(key, False))
        return not value if self.when.startswith("not ") else value

    def mask(self, name: pd.Series, types: pd.Series, codes: pd.Series) -> np.ndarray:
        """Rows this rule matches (vectorised regular-expression search over whole columns)."""
        m = np.zeros(len(name), dtype=bool)
        for pattern, col in ((self.name, name), (self.type, types), (self.typecode, codes)):
            if pattern is not None:
                m |= col.str.contains(pattern, regex=True).to_numpy(dtype=bool, na_value=False)
        if self.unless_name is not None:
            m &= ~name.str.contains(self.unless_name, regex=True).to_numpy(dtype=bool, na_value=False)
        return m


@dataclass
class PoiPreset:
    """A category preset: rules by stage, default settings, and where it came from."""

    name: str
    path: str
    settings: dict[str, Any]
    exclude: list[PoiRule]
    names: list[PoiRule]
    types: list[PoiRule]

    @property
    def rules(self) -> list[PoiRule]:
        """Every rule in order of precedence."""
        return [*self.exclude, *self.names, *self.types]

    def table(self) -> pd.DataFrame:
        """The preset as a table (stage, id, category, subkind, comment) in order of precedence."""
        return pd.DataFrame([{"stage": r.stage, "id": r.id, "category": r.category or "", "subkind": r.subkind or "",
                              "when": r.when or "", "comment": r.comment} for r in self.rules])


def _alternation(values: Any, where: str, source: str, escape: bool, anchor: str = "") -> re.Pattern | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise InputError(source, f"{where} must be a list of non-empty strings", "e.g. name = [\"长者食堂\", \"助餐点\"]")
    parts = [re.escape(unicodedata.normalize("NFKC", v)) if escape else v for v in values]
    try:
        return re.compile(anchor + "(?:" + "|".join(parts) + ")")
    except re.error as exc:
        raise InputError(source, f"{where}: bad regular expression ({exc})", "fix the pattern or escape it") from None


_RULE_KEYS = {"id", "comment", "category", "subkind", "name", "keywords", "type", "typecode", "unless_name", "when"}


def _rule(stage: str, table: Any, i: int, source: str) -> PoiRule:
    where = f"[[{stage}]] #{i}"
    if not isinstance(table, dict):
        raise InputError(source, f"{where} must be a table", "see the header of data/poi_names.toml")
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(_RULE_KEYS), n=1)
        raise InputError(source, f"{where}: unknown key '{unknown[0]}'",
                         f"did you mean '{close[0]}'?" if close else "valid keys: " + ", ".join(sorted(_RULE_KEYS)))
    if stage != "exclude" and not table.get("category"):
        raise InputError(source, f"{where} has no category", "add category = \"clinic\" (or another category)")
    names = table.get("name", table.get("keywords"))
    rule = PoiRule(
        stage=stage, id=str(table.get("id") or f"{stage}{i}"), comment=str(table.get("comment", "")),
        category=table.get("category"), subkind=table.get("subkind") or table.get("category"),
        name=_alternation(names, f"{where} name", source, escape=False),
        type=_alternation(table.get("type"), f"{where} type", source, escape=True, anchor=r"(?:^|\|)"),
        typecode=_alternation(table.get("typecode"), f"{where} typecode", source, escape=True, anchor=r"(?:^|\|)"),
        unless_name=_alternation(table.get("unless_name"), f"{where} unless_name", source, escape=False),
        when=table.get("when"))
    if rule.name is None and rule.type is None and rule.typecode is None:
        raise InputError(source, f"{where} matches nothing", "give it name, type or typecode")
    return rule


def _builtin_text(name: str) -> str:
    return resources.files("access15").joinpath("data", name).read_text(encoding="utf-8")


def load_preset(path: str | Path | None = None, fmt: str = "amap") -> PoiPreset:
    """Load a POI category preset.

    Parameters
    ----------
    path : a preset TOML (see ``data/poi_names.toml`` for the format); ``None`` loads the built-in
        preset of ``fmt`` (``data/poi_amap.toml`` or ``data/poi_baidu.toml``).
    fmt : ``"amap"`` or ``"baidu"``.

    ``[preset] include = ["poi_names.toml"]`` appends another preset's rules after this file's own
    (a name is looked up beside the file, then among the built-in presets).
    """
    if path is None:
        name = BUILTIN_PRESETS.get(fmt, BUILTIN_PRESETS["amap"])
        text, source, base = _builtin_text(name), f"access15/data/{name}", None
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(p, "POI preset not found", "check preset = \"...\" in [[facilities]]")
        text, source, base = p.read_text(encoding="utf-8-sig"), str(p), p.parent
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML ({exc})", "fix the syntax at the position given") from None
    head = data.get("preset", {})
    settings = dict(data.get("settings", {}))
    stages = {s: [_rule(s, t, i, source) for i, t in enumerate(data.get(s, []), start=1)]
              for s in ("exclude", "name", "type")}
    for inc in head.get("include", []):
        local = base / inc if base is not None else None
        sub = load_preset(local) if local is not None and local.is_file() else _load_builtin(inc, source)
        for s, attr in (("exclude", "exclude"), ("name", "names"), ("type", "types")):
            stages[s].extend(getattr(sub, attr))
        settings = {**sub.settings, **settings}
    return PoiPreset(str(head.get("name", Path(source).stem)), source, settings,
                     stages["exclude"], stages["name"], stages["type"])


def _load_builtin(name: str, source: str) -> PoiPreset:
    try:
        _builtin_text(name)
    except (FileNotFoundError, OSError):
        raise InputError(source, f"included preset '{name}' not found", "put it beside the preset file") from None
    with resources.as_file(resources.files("access15").joinpath("data", name)) as p:
        return load_preset(p)


# -------------------------------------------------------------------------------------------- classify


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.normalize("NFKC").str.strip()


def classify(name: pd.Series, types: pd.Series, codes: pd.Series, preset: PoiPreset,
             settings: dict[str, Any] | None = None) -> pd.DataFrame:
    """Decide every POI's category by the preset (exclusion -> name keywords -> type/typecode).

    Returns
    -------
    DataFrame with ``decision`` (``"matched"``, ``"excluded"`` or ``"unmatched"``), ``category``,
    ``subkind`` and ``rule`` (the deciding rule's id, "" when unmatched), index as ``name``.
    """
    settings = {**preset.settings, **(settings or {})}
    name, types, codes = _text(name), _text(types), _text(codes).str.replace(r"\s+", "", regex=True)
    n = len(name)
    decided = np.zeros(n, dtype=bool)
    decision = np.full(n, "unmatched", dtype=object)
    category = np.full(n, "", dtype=object)
    subkind = np.full(n, "", dtype=object)
    rule_id = np.full(n, "", dtype=object)
    for rule in preset.rules:
        if not rule.active(settings):
            continue
        m = rule.mask(name, types, codes) & ~decided
        if not m.any():
            continue
        decided |= m
        rule_id[m] = rule.id
        if rule.stage == "exclude":
            decision[m] = "excluded"
        else:
            decision[m], category[m], subkind[m] = "matched", rule.category, rule.subkind
    return pd.DataFrame({"decision": decision, "category": category, "subkind": subkind, "rule": rule_id},
                        index=name.index)


# ---------------------------------------------------------------------------------------------- report


@dataclass
class PoiReport:
    """What reading and mapping one POI source did.

    ``counts``: category, subkind, count of the facilities kept; ``excluded``: rule, comment, count;
    ``unmatched``: type, typecode, count (most frequent first: extend the preset with these).
    (Facilities listed by two sources are merged across sources by :func:`merge_duplicates`, which returns the
    pairs; :func:`access15.io.facilities.load_facilities` names them in a warning.)
    ``crs_note`` says which coordinate system the positions were taken to be and why.
    """

    source: str
    format: str
    preset: str
    crs_note: str
    rows: int
    counts: pd.DataFrame
    excluded: pd.DataFrame
    unmatched: pd.DataFrame
    same_id_dropped: int = 0

    @property
    def kept(self) -> int:
        """Facilities kept (before merging duplicates across sources)."""
        return int(self.counts["count"].sum()) if len(self.counts) else 0

    def summary(self) -> str:
        """One line for a warning or a log."""
        cats = self.counts.groupby("category")["count"].sum() if len(self.counts) else pd.Series(dtype=int)
        top = ", ".join(f"{t or '(no type)'} ×{c}" for t, c in
                        zip(self.unmatched["type"].head(3), self.unmatched["count"].head(3)))
        kept = ", ".join(f"{k} {v}" for k, v in cats.items()) or "none"
        unmatched = int(self.unmatched["count"].sum())
        parts = [f"{self.source}: {self.rows} POIs ({self.format}, {self.crs_note}) -> {self.kept} facilities ({kept})",
                 f"{int(self.excluded['count'].sum())} excluded",
                 f"{unmatched} unmatched (most frequent unmatched types: {top}; add them to the preset {self.preset} "
                 "to count them)" if top else f"{unmatched} unmatched"]
        if self.same_id_dropped:
            parts.append(f"{self.same_id_dropped} repeated POI ids dropped")
        return "; ".join(parts)

    def table(self) -> str:
        """The report as plain text tables (for a terminal or a log)."""
        parts = [self.summary(), "", "category / subkind:", self.counts.to_string(index=False) if len(self.counts)
                 else "  (none)", "", "excluded by rule:",
                 self.excluded.to_string(index=False) if len(self.excluded) else "  (none)", "",
                 "unmatched types:", self.unmatched.to_string(index=False) if len(self.unmatched) else "  (none)"]
        return "\n".join(parts)


def _report(path: Path, fmt: str, preset: PoiPreset, crs_note: str, raw: pd.DataFrame, dec: pd.DataFrame,
            same_id: int) -> PoiReport:
    kept = dec[dec["decision"] == "matched"]
    counts = (kept.groupby(["category", "subkind"]).size().rename("count").reset_index()
              .sort_values(["category", "count"], ascending=[True, False], kind="stable").reset_index(drop=True))
    comments = {r.id: r.comment for r in preset.exclude}
    exc = dec[dec["decision"] == "excluded"].groupby("rule").size().rename("count").reset_index()
    exc["comment"] = exc["rule"].map(comments).fillna("")
    exc = exc.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
    um = raw.loc[dec["decision"] == "unmatched", ["type", "typecode"]].fillna("")
    unmatched = (um.groupby(["type", "typecode"]).size().rename("count").reset_index()
                 .sort_values("count", ascending=False, kind="stable").reset_index(drop=True))
    return PoiReport(path.name, fmt, preset.path, crs_note, len(raw), counts, exc[["rule", "count", "comment"]],
                     unmatched, same_id_dropped=same_id)


# --------------------------------------------------------------------------------------------- readers


def _load_json(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "the file is not UTF-8 text", "save the API response as UTF-8 JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                         "save the whole API response (one JSON document, or a JSON list of pages)") from None


def _records(doc: Any, key: str, path: Path, what: str) -> list[dict]:
    """The POI dicts of a saved response: ``{key: [...]}``, a list of such pages, or a plain list of POIs."""
    pages = doc if isinstance(doc, list) else [doc]
    out: list[dict] = []
    found = False
    for page in pages:
        if isinstance(page, dict) and key in page:
            found = True
            items = page[key]
            if not isinstance(items, list):
                raise InputError(path, f"'{key}' is not a list", f"save the {what} response unchanged", field=key)
            out.extend(items)
        elif isinstance(page, dict) and "name" in page and "location" in page:
            found = True
            out.append(page)
        elif isinstance(page, dict):
            status, info = page.get("status"), page.get("info", page.get("message", ""))
            failed = str(status) == "0" if key == "pois" else status not in (None, 0, "0")
            if failed:
                raise InputError(path, f"the saved response is an error (status {status}: {info})",
                                 "search again with a valid key and save the successful response", field="status")
    if not found:
        raise InputError(path, f"no '{key}' list", f"this is not a saved {what} response; save the JSON the API "
                         f"returned (with its '{key}' list), or use format = \"poi_csv\" for a table", field=key)
    bad = [i for i, r in enumerate(out) if not isinstance(r, dict)]
    if bad:
        raise InputError(path, "item is not a POI object", f"every element of '{key}' must be a JSON object",
                         row=bad[0] + 1, field=key)
    return out


def _str_col(records: list[dict], key: str) -> pd.Series:
    """A JSON field as text; AMap writes ``[]`` for an empty value."""
    vals = [r.get(key) for r in records]
    return pd.Series(["" if v is None or isinstance(v, (list, dict)) else str(v) for v in vals], dtype="string")


def _split_lnglat(s: pd.Series, path: Path, field_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``"lng,lat"`` strings -> two float arrays; a malformed or empty value is an InputError."""
    text = s.astype("string").fillna("").str.strip()
    parts = text.str.extract(_LNGLAT)
    lon = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lat = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(lon) | np.isnan(lat)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = text.iloc[i]
        if not value:
            raise InputError(path, "empty location", "give every POI a location \"lng,lat\" or delete it",
                             row=i + 1, field=field_name)
        raise InputError(path, f"location '{value}' is not \"lng,lat\"",
                         "write longitude and latitude as two decimal numbers separated by a comma, "
                         "e.g. 116.310905,39.992806", row=i + 1, field=field_name)
    return lon, lat


def read_amap_json(path: Path) -> pd.DataFrame:
    """A saved AMap place-search response -> raw table (id, name, type, typecode, lon, lat in GCJ-02)."""
    recs = _records(_load_json(path), "pois", path, "AMap place-search")
    lon, lat = _split_lnglat(_str_col(recs, "location"), path, "location")
    return pd.DataFrame({"id": _str_col(recs, "id"), "name": _str_col(recs, "name"), "type": _str_col(recs, "type"),
                         "typecode": _str_col(recs, "typecode"), "address": _str_col(recs, "address"),
                         "lon": lon, "lat": lat})


def read_baidu_json(path: Path) -> pd.DataFrame:
    """A saved Baidu Place API response -> raw table (id, name, type = tag, lon, lat in BD-09)."""
    recs = _records(_load_json(path), "results", path, "Baidu Place API")
    lon = np.full(len(recs), np.nan)
    lat = np.full(len(recs), np.nan)
    tags = []
    for i, r in enumerate(recs):  # nested JSON objects: one pass to flatten, the checks below are vectorised
        loc = r.get("location")
        if isinstance(loc, dict):
            lon[i], lat[i] = _num(loc.get("lng")), _num(loc.get("lat"))
        detail = r.get("detail_info") if isinstance(r.get("detail_info"), dict) else {}
        tags.append(str(detail.get("tag") or r.get("tag") or ""))
    bad = np.isnan(lon) | np.isnan(lat)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"location {json.dumps(recs[i].get('location'), ensure_ascii=False)} is not "
                         "{\"lat\": ..., \"lng\": ...}", "give every result a location with numeric lat and lng "
                         "or delete it", row=i + 1, field="location")
    return pd.DataFrame({"id": _str_col(recs, "uid"), "name": _str_col(recs, "name"),
                         "type": pd.Series(tags, dtype="string"), "typecode": pd.Series([""] * len(recs), dtype="string"),
                         "address": _str_col(recs, "address"), "lon": lon, "lat": lat})


def _num(v: Any) -> float:
    try:
        return float(v) if not isinstance(v, bool) else np.nan
    except (TypeError, ValueError):
        return np.nan


def _system_hint(text: str) -> str | None:
    t = text.lower()
    if re.search(r"bd-?09|百度|baidu", t):
        return "bd09"
    if re.search(r"gcj-?02|高德|gaode|amap|火星|腾讯|tencent", t):
        return "gcj02"
    if re.search(r"wgs-?84|4326", t):
        return "wgs84"
    return None


def read_poi_table(path: Path, src: Any) -> tuple[pd.DataFrame, str | None, str, str]:
    """A CSV/Excel POI export -> (raw table, system, how the system was found, flavour "amap"/"baidu").

    ``system`` is ``"gcj02"``, ``"bd09"``, ``"wgs84"`` or None when it was declared in ``src.crs``.
    """
    df = read_table(path)[0]
    if not len(df):
        raise InputError(path, "no rows", "add POIs or remove this [[facilities]] entry")
    cols = list(df.columns)
    name_col = resolve_column(cols, src.name_column, NAME_HEADERS + ("poi名称", "poi_name"))
    type_col = resolve_column(cols, None, _TYPE_HEADERS)
    code_col = resolve_column(cols, None, _TYPECODE_HEADERS)
    id_col = resolve_column(cols, src.id_column, _ID_HEADERS)
    loc_col = resolve_column(cols, None, _LOCATION_HEADERS)
    pair = find_lonlat_columns(cols, src.lon, src.lat)
    if pair is not None:
        lon_raw, lat_raw = df[pair[0]], df[pair[1]]
        x, bad_x = parse_numbers(lon_raw)
        y, bad_y = parse_numbers(lat_raw)
        for col, vals, bad in ((pair[0], lon_raw, bad_x), (pair[1], lat_raw, bad_y)):
            if bad.any():
                raise number_error(path, vals, bad, col, "a decimal coordinate")
            if np.isnan(parse_numbers(vals)[0]).any():
                i = int(np.flatnonzero(np.isnan(parse_numbers(vals)[0]))[0])
                raise InputError(path, "empty coordinate", "fill in a decimal coordinate or delete the row",
                                 row=i + 1, field=col)
        coord_cols = list(pair)
    elif loc_col is not None:
        x, y = _split_lnglat(df[loc_col], path, loc_col)
        coord_cols = [loc_col]
    else:
        raise InputError(path, f"no coordinate columns (columns: {', '.join(cols)})",
                         "name a column 经纬度 or location with \"lng,lat\", or 经度 and 纬度, or set lon/lat "
                         "in [[facilities]]")
    if type_col is not None:
        types = df[type_col].astype("string")
    else:
        levels = next((lv for lv in _LEVEL_HEADERS if all(c in cols for c in lv)), None)
        types = (df[levels[0]].astype("string").fillna("").str.cat([df[c].astype("string").fillna("")
                                                                    for c in levels[1:]], sep=";")
                 if levels else pd.Series([""] * len(df), dtype="string", index=df.index))
    raw = pd.DataFrame({
        "id": df[id_col].astype("string") if id_col else pd.Series([""] * len(df), dtype="string", index=df.index),
        "name": df[name_col].astype("string") if name_col else pd.Series([""] * len(df), dtype="string", index=df.index),
        "type": types, "typecode": df[code_col].astype("string") if code_col else "",
        "address": "", "lon": x, "lat": y}).reset_index(drop=True)
    if src.capacity_column:
        if src.capacity_column not in cols:
            raise InputError(path, f"no capacity column '{src.capacity_column}' (columns: {', '.join(cols)})",
                             "fix capacity_column in [[facilities]] or remove it", field=src.capacity_column)
        cap, bad = parse_numbers(df[src.capacity_column])
        if bad.any():
            raise number_error(path, df[src.capacity_column], bad, src.capacity_column, "the capacity")
        raw["capacity"] = cap
    lower = {c.lower() for c in cols}
    baidu_layout = "uid" in lower or any(c in lower for c in ("tag", "标签"))
    flavour = "baidu" if baidu_layout and code_col is None else "amap"
    if src.crs:
        return raw, None, "declared", flavour
    for hint_text, why in ((" ".join(coord_cols), f"column header '{' '.join(coord_cols)}'"),
                           (path.stem, f"file name '{path.name}'")):
        sysname = _system_hint(hint_text)
        if sysname:
            return raw, sysname, f"inferred from the {why}", ("baidu" if sysname == "bd09" else flavour)
    if baidu_layout:
        return raw, "bd09", "inferred from the Baidu layout (uid/tag columns)", "baidu"
    if code_col is not None:
        return raw, "gcj02", f"inferred from the AMap layout ('{code_col}' column)", "amap"
    raise InputError(path, "cannot tell whether the coordinates are GCJ-02 (AMap) or BD-09 (Baidu)",
                     "declare crs = \"gcj02\" or crs = \"bd09\" (or \"EPSG:4326\") in [[facilities]]")


def _check_range(path: Path, x: np.ndarray, y: np.ndarray, fields: tuple[str, str]) -> None:
    bad = (np.abs(x) > 180) | (np.abs(y) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if looks_swapped(x, y)[i]:
            raise InputError(path, f"longitude and latitude look swapped ({x[i]:g}, {y[i]:g})",
                             "set swap_lonlat = true in [[facilities]]", row=i + 1, field=fields[1])
        raise InputError(path, f"coordinate ({x[i]:g}, {y[i]:g}) is out of range for longitude/latitude",
                         "longitude must be within ±180 and latitude within ±90", row=i + 1,
                         field=fields[0] if abs(x[i]) > 180 else fields[1])


def load_poi_source(src: Any, path: Path, preset_path: Path | None = None) -> tuple[gpd.GeoDataFrame, PoiReport]:
    """Read one POI export and map it to categories.

    Parameters
    ----------
    src : the :class:`~access15.config.FacilitySource` (``format``, ``crs``, ``kindergartens``, ...).
    path : the file (absolute).
    preset_path : the project's preset TOML (``preset = "..."`` resolved), or None for the built-in one.

    Returns
    -------
    facilities : GeoDataFrame in EPSG:4326 (WGS84 lon/lat) with columns category, name, facility_id,
        capacity, source, geometry, subkind, poi_type, poi_typecode; only the matched POIs, repeated
        POI ids (the same POI saved from overlapping searches) once.
    report : :class:`PoiReport`.
    """
    fmt = src.format
    if fmt not in POI_FORMATS:
        raise InputError(path, f"format = '{fmt}' is not a POI format", "use \"amap\", \"baidu\" or \"poi_csv\"",
                         field="format")
    if not path.is_file():
        raise InputError(path, "facility file not found", "check the path in [[facilities]]")
    if fmt == "amap":
        raw, system, why, flavour = read_amap_json(path), "gcj02", "AMap Web Service format", "amap"
        fields = ("location", "location")
    elif fmt == "baidu":
        raw, system, why, flavour = read_baidu_json(path), "bd09", "Baidu Place API format (bd09ll)", "baidu"
        fields = ("location.lng", "location.lat")
    else:
        raw, system, why, flavour = read_poi_table(path, src)
        fields = ("lon", "lat")
    if src.crs:
        declared = parse_crs(src.crs, path)
        why = "declared"
    else:
        declared = parse_crs(None if system == "wgs84" else system, path)
        if fmt == "poi_csv":
            warnings.warn(f"{path.name}: coordinates taken as {declared.label} ({why}); declare crs in "
                          "[[facilities]] if that is wrong", AccessWarning, stacklevel=3)
    x, y = raw["lon"].to_numpy(float), raw["lat"].to_numpy(float)
    if src.swap_lonlat:
        x, y = y, x
    _check_range(path, x, y, fields)
    lon, lat = convert_lonlat(x, y, declared)
    crs_note = f"{declared.label} ({why})" if not declared.is_wgs84 else f"WGS84 ({why})"
    # the same POI saved twice (overlapping searches or pages): keep the first
    ids = raw["id"].fillna("").astype(str)
    repeated = (ids != "") & ids.duplicated()
    same_id = int(repeated.sum())
    preset = load_preset(preset_path, flavour)
    settings = {} if getattr(src, "kindergartens", None) is None else {"kindergartens": bool(src.kindergartens)}
    dec = classify(raw["name"], raw["type"], raw["typecode"], preset, settings)
    keep_rows = ~repeated.to_numpy()
    report = _report(path, fmt, preset, crs_note, raw[keep_rows], dec[keep_rows], same_id)
    keep = keep_rows & (dec["decision"] == "matched").to_numpy()
    ids_out = np.where(ids == "", [f"{path.stem}:{i + 1}" for i in range(len(raw))], ids)
    cap = raw["capacity"].to_numpy(float) if "capacity" in raw else np.full(len(raw), np.nan)
    out = gpd.GeoDataFrame({
        "category": dec["category"].to_numpy()[keep],
        "name": raw["name"].fillna("").astype(str).to_numpy()[keep],
        "facility_id": ids_out[keep],
        "capacity": cap[keep],
        "source": path.name,
        "subkind": dec["subkind"].to_numpy()[keep],
        "poi_type": raw["type"].fillna("").astype(str).to_numpy()[keep],
        "poi_typecode": raw["typecode"].fillna("").astype(str).to_numpy()[keep],
    }, geometry=gpd.points_from_xy(lon[keep], lat[keep]), crs=4326)
    return out, report


# ------------------------------------------------------------------------------------------ duplicates

#: Administrative words and punctuation that differ between a POI name and a government list's.
_NAME_NOISE = re.compile(r"[\s()（）\[\]【】「」<>《》\-－—_·・.,，、:：'\"]|街道办事处|街道|社区|居委会|办事处")


def normalize_name(names: pd.Series) -> pd.Series:
    """Names for comparison: NFKC, lower case, without spaces, punctuation and 街道/社区 noise."""
    return _text(names).str.lower().str.replace(_NAME_NOISE, "", regex=True)


def name_similarity(a: str, b: str) -> float:
    """1.0 when one normalised name contains the other, else difflib's ratio (0-1)."""
    if not a or not b:
        return 0.0
    if a in b or b in a:
        return 1.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def merge_duplicates(fac: gpd.GeoDataFrame, max_m: float = DUPLICATE_M,
                     min_ratio: float = DUPLICATE_RATIO) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge the same facility listed by several sources.

    Two facilities are the same when they have the same category, come from different sources, lie
    within ``max_m`` metres and have similar names (:func:`name_similarity` >= ``min_ratio``). Groups of
    such pairs keep their first row (the earliest ``[[facilities]]`` source, e.g. the government list
    listed before the AMap export); a missing capacity is taken from a dropped duplicate.
    Candidate pairs come from one STRtree query in a local UTM projection, O(n log n).

    Returns the merged facilities (EPSG:4326, original row order) and the pairs merged.
    """
    cols = ["kept_name", "kept_source", "kept_id", "dropped_name", "dropped_source", "dropped_id",
            "distance_m", "similarity"]
    if len(fac) < 2 or "source" not in fac.columns:
        return fac, pd.DataFrame(columns=cols)

    utm = fac.estimate_utm_crs()
    geom = fac.to_crs(utm).geometry.values
    tree = shapely.STRtree(geom)
    i, j = tree.query(geom, predicate="dwithin", distance=max_m)
    cat, src = fac["category"].to_numpy(), fac["source"].to_numpy()
    cand = (i < j) & (cat[i] == cat[j]) & (src[i] != src[j])
    i, j = i[cand], j[cand]
    norm = normalize_name(fac["name"]).to_numpy()
    sim = np.array([name_similarity(norm[a], norm[b]) for a, b in zip(i, j)], dtype=float)  # candidate pairs only
    ok = sim >= min_ratio
    i, j, sim = i[ok], j[ok], sim[ok]
    if not len(i):
        return fac, pd.DataFrame(columns=cols)
    n = len(fac)
    _, label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    first = pd.Series(np.arange(n)).groupby(label).transform("min").to_numpy()
    dropped = first != np.arange(n)
    out = fac.copy()
    if "capacity" in out.columns:
        cap = out["capacity"].to_numpy(float).copy()
        donor = pd.Series(cap).groupby(first).transform(lambda s: s.dropna().iloc[0] if s.notna().any() else np.nan)
        cap = np.where(np.isnan(cap), donor.to_numpy(float), cap)
        out["capacity"] = cap
    d = shapely.distance(geom[first[dropped]], geom[dropped])
    k, r = first[dropped], np.flatnonzero(dropped)
    pairs = pd.DataFrame({
        "kept_name": fac["name"].to_numpy()[k], "kept_source": src[k], "kept_id": fac["facility_id"].to_numpy()[k],
        "dropped_name": fac["name"].to_numpy()[r], "dropped_source": src[r],
        "dropped_id": fac["facility_id"].to_numpy()[r], "distance_m": np.round(d, 1),
        "similarity": [name_similarity(norm[a], norm[b]) for a, b in zip(k, r)]})
    return out[~dropped], pairs
