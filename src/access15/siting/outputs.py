"""Siting results on disk: CSV tables and before/after HTML maps.

The maps start from the analysis's own gap map (:func:`access15.maps.html.build_map`: streets, travel
times, gaps, existing facilities) and add the candidate sites, each site's catchment (the demand cells
within its circle) and the gap it closes (catchment cells that were outside the circle before). Files are
written into a staging folder and moved into place only when all are complete.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement, Template

from ..maps.html import build_map, macro, map_layer
from ..maps.offline import assert_offline
from ..provenance import RUN_JSON, file_record, write_run_json
from ..text import noun, number, t
from .check import SiteCheck
from .sites import OK
from .suggest import Suggestion

CATCHMENT_COLOUR = "#2166ac"
CLOSED_COLOUR = "#1b9e77"
SITE_COLOUR = "#7b3294"
INVALID_COLOUR = "#777777"
#: Per-site catchment layers are drawn for at most this many sites; beyond, one merged layer.
MAX_SITE_LAYERS = 12


def _cells(check: SiteCheck, mask: np.ndarray, name: str) -> gpd.GeoDataFrame:
    """Demand cells (grid) or 20 m discs (node demand) where ``mask``, dissolved, ready for the map
    (EPSG:4326, shifted like every overlay when the basemap is GCJ-02)."""
    result = check.context.result
    dem = result.demand[mask]
    if not len(dem):
        geom = shapely.Polygon()
    elif result.grid is not None:
        geom = result.grid.outline(dem["ix"].to_numpy(), dem["iy"].to_numpy())
    else:
        geom = shapely.union_all(shapely.buffer(dem.geometry.values, 20))
    return map_layer(gpd.GeoDataFrame({"layer": [name]}, geometry=[geom], crs=result.network.crs), result.config)


def _latlon(check: SiteCheck, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(lat, lon) rows of WGS84 points, shifted like the overlays."""
    pts = gpd.GeoDataFrame(geometry=shapely.points(np.column_stack([lon, lat])), crs=4326)
    xy = shapely.get_coordinates(map_layer(pts, check.context.result.config, 0.0).geometry.values)
    return xy[:, ::-1]


def _area(gdf: gpd.GeoDataFrame, name: str, colour: str, fill: float, dash: str | None, show: bool = True):
    style = {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": fill}
    if dash:
        style["dashArray"] = dash
    return folium.GeoJson(gdf, name=name, show=show, style_function=lambda _f, s=style: s)


class _SiteMarker(MacroElement):
    """A numbered round marker with a plain-text popup, drawn with Leaflet alone: no icon images (folium's
    Marker first creates Leaflet's default image icon) and no jQuery (folium's Popup needs it)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.marker({{ this.location|tojson }}, {icon: L.divIcon({html: {{ this.html|tojson }},"
        " className: 'access15-marker access15-site', iconSize: [24, 24], iconAnchor: [12, 12]})})"
        ".bindPopup({{ this.popup|tojson }}, {maxWidth: 360}).bindTooltip({{ this.tooltip|tojson }})"
        ".addTo({{ this._parent.get_name() }});"
        "{% endmacro %}")

    def __init__(self, lat: float, lon: float, label: str, popup: str, colour: str):
        super().__init__()
        self._name = "SiteMarker"
        self.location = [round(float(lat), 7), round(float(lon), 7)]
        self.html = (f"<div style='background:{colour};color:#fff;border:2px solid #fff;border-radius:50%;"
                     "width:24px;height:24px;line-height:20px;text-align:center;font:bold 12px sans-serif;"
                     f"box-shadow:0 0 3px #000'>{html.escape(label)}</div>")
        self.popup = html.escape(popup)
        self.tooltip = html.escape(popup[:120])


def _key(title: str, rows: list[tuple[str, str]]) -> MacroElement:
    """A small legend (bottom right) for the siting layers: (swatch CSS, text) rows."""
    body = "".join(f"<div><span style='display:inline-block;width:14px;height:14px;margin-right:6px;"
                   f"vertical-align:middle;{css}'></span>{html.escape(text)}</div>" for css, text in rows)
    return macro("access15_siting_key", "<div id='access15-siting-key' style='position:fixed;bottom:24px;right:12px;"
                 "z-index:9999;background:rgba(255,255,255,.92);padding:8px 10px;border:1px solid #999;"
                 f"border-radius:4px;font:12px/1.5 sans-serif'><b>{html.escape(title)}</b>{body}</div>")


def _siting_key(lang: str, minutes: float, invalid: bool) -> MacroElement:
    rows = [(f"background:{SITE_COLOUR};border-radius:50%", t(lang, "key_site")),
            (f"border:2px dashed {CATCHMENT_COLOUR}", t(lang, "key_catchment", minutes=minutes)),
            (f"background:{CLOSED_COLOUR};opacity:.6", t(lang, "key_closed"))]
    if invalid:
        rows.append((f"background:{INVALID_COLOUR};border-radius:50%", t(lang, "key_invalid")))
    return _key(t(lang, "key_title"), rows)


def _finish(fmap: folium.Map) -> folium.Map:
    """Move the layer control after the layers added here: folium writes children in order, and a control
    written before a layer's definition breaks the page (the layer is undefined when it is listed)."""
    for key, child in list(fmap._children.items()):
        if isinstance(child, folium.LayerControl):
            fmap._children.move_to_end(key)
    return fmap


def _show_gap_layer(fmap: folium.Map, check: SiteCheck, lang: str | None) -> None:
    """Switch the base map's gap layer from the combined circle to the checked category's circle."""
    result = check.context.result
    lang = lang or result.config.output.lang
    ccfg = result.config.categories[check.category]
    want = t(lang, "gap", minutes=ccfg.minutes, label=ccfg.label(lang))
    for child in fmap._children.values():
        if isinstance(child, folium.FeatureGroup) and child.layer_name in (want, t(lang, "gap_combined")):
            child.show = child.layer_name == want


def _base_map(check: SiteCheck, lang: str | None) -> tuple[folium.Map, str]:
    """The analysis's gap map with the checked category's gap layer on, and the language used."""
    result = check.context.result
    lang = lang or result.config.output.lang
    fmap = build_map(result, lang)
    _show_gap_layer(fmap, check, lang)
    return fmap, lang


def site_check_map(check: SiteCheck, lang: str | None = None) -> folium.Map:
    """The analysis's gap map plus, per candidate, its catchment and the gap it closes."""
    result = check.context.result
    fmap, lang = _base_map(check, lang)
    before = result.demand[f"covered_{check.category}"].to_numpy(dtype=bool)
    table = check.table
    ok = np.flatnonzero(table["status"].to_numpy() == OK)
    n = len(result.demand)
    if len(ok) <= MAX_SITE_LAYERS:
        for i in ok:
            reach = np.zeros(n, dtype=bool)
            reach[check.reach.dem[check.reach.cand == i]] = True
            site = table["site"].iat[i]
            _area(_cells(check, reach, f"catchment {site}"),
                  t(lang, "catchment_layer", site=site, minutes=check.minutes), CATCHMENT_COLOUR, 0.0,
                  "6 4").add_to(fmap)
            _area(_cells(check, reach & ~before, f"closed {site}"), t(lang, "closed_layer", site=site),
                  CLOSED_COLOUR, 0.45, None).add_to(fmap)
    else:
        closed = np.zeros(n, dtype=bool)
        closed[check.reach.dem] = True
        _area(_cells(check, closed & ~before, "closed"), t(lang, "closed_any"), CLOSED_COLOUR, 0.45,
              None).add_to(fmap)
    at = _latlon(check, table["lon"].to_numpy(), table["lat"].to_numpy())
    group = folium.FeatureGroup(name=t(lang, "proposed_layer", n=len(table)))
    for i, row in enumerate(table.itertuples()):  # one marker per candidate
        colour = SITE_COLOUR if row.status == OK else INVALID_COLOUR
        group.add_child(_SiteMarker(*at[i], str(i + 1), row.verdict, colour))
    group.add_to(fmap)
    fmap.add_child(_siting_key(lang, check.minutes, bool((table["status"] != OK).any())))
    return _finish(fmap)


def suggestion_map(sugg: Suggestion, lang: str | None = None) -> folium.Map:
    """The analysis's gap map plus the suggested sites (numbered by rank), the gap they close together
    and, hidden by default, the candidate pool."""
    check = sugg.check
    result = check.context.result
    fmap, lang = _base_map(check, lang)
    _area(_cells(check, sugg.newly_covered, "closed"), t(lang, "sugg_closed", n=len(sugg.sites)),
          CLOSED_COLOUR, 0.45, None).add_to(fmap)
    before = result.demand[f"covered_{sugg.category}"].to_numpy(dtype=bool)
    left = ~before & ~sugg.newly_covered
    _area(_cells(check, left, "remaining"), t(lang, "sugg_remaining"), "#b2182b", 0.15, "4 3",
          show=False).add_to(fmap)
    pool = folium.FeatureGroup(name=t(lang, "pool", n=len(check.table)), show=False)
    at = _latlon(check, check.table["lon"].to_numpy(), check.table["lat"].to_numpy())
    for (lat, lon), row in zip(at, check.table.itertuples()):  # one dot per candidate
        folium.CircleMarker([lat, lon], radius=3, color=INVALID_COLOUR if row.status != OK else "#444",
                            fill=True, fill_opacity=0.8, weight=1, tooltip=html.escape(row.verdict[:160])).add_to(pool)
    pool.add_to(fmap)
    at = _latlon(check, sugg.sites["lon"].to_numpy(), sugg.sites["lat"].to_numpy())
    group = folium.FeatureGroup(name=t(lang, "sugg_layer", n=len(sugg.sites)))
    for (lat, lon), row in zip(at, sugg.sites.itertuples()):
        popup = t(lang, "sugg_popup", rank=row.rank, site=row.site, n=number(row.newly_covered),
                     noun=noun(lang, sugg.noun), share=row.share_after)
        group.add_child(_SiteMarker(lat, lon, str(row.rank), popup, SITE_COLOUR))
    group.add_to(fmap)
    fmap.add_child(_key(t(lang, "key_sugg_title"), [
        (f"background:{SITE_COLOUR};border-radius:50%", t(lang, "key_sugg_site")),
        (f"background:{CLOSED_COLOUR};opacity:.6", t(lang, "key_sugg_closed")),
        ("border:2px dashed #b2182b", t(lang, "key_sugg_remaining"))]))
    return _finish(fmap)


def save_map(fmap: folium.Map, path: Path) -> None:
    """Render ``fmap`` to ``path``, refusing a page that would load anything from another host."""
    path.write_text(assert_offline(fmap.get_root().render()), encoding="utf-8")


def _write_all(out_dir: Path, writers: dict[str, tuple[str, Callable[[Path], None]]], provenance: dict,
               inputs: list[Path] | None = None) -> dict[str, Path]:
    """Run each writer into a staging folder, add ``run.json`` (the analysis's provenance, the candidate files
    with their SHA-256 and every output's), then move every file into ``out_dir`` (all or nothing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".access15-siting-", dir=out_dir.parent))
    try:
        for name, write in writers.values():
            write(staging / name)
        record = dict(provenance)
        record["inputs"] = [*record.get("inputs", []), *(file_record("candidates", p) for p in inputs or [])]
        write_run_json(staging / RUN_JSON, record, {k: staging / n for k, (n, _) in writers.items()})
        written = {}
        for key, (name, _) in [*writers.items(), ("run", (RUN_JSON, None))]:
            os.replace(staging / name, out_dir / name)
            written[key] = out_dir / name
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_site_check(check: SiteCheck, out_dir: str | Path, html: bool = True,
                     inputs: list[Path] | None = None) -> dict[str, Path]:
    """``site_check.csv`` (+ ``site_check_units.csv`` with boundaries, ``site_check.html``) and ``run.json`` in
    ``out_dir``; ``inputs`` are the candidate files read (listed in ``run.json`` with their SHA-256)."""
    writers = {"table": ("site_check.csv", lambda p: check.table.to_csv(p, index=False, float_format="%.6g"))}
    if len(check.units):
        writers["units"] = ("site_check_units.csv", lambda p: check.units.to_csv(p, index=False, float_format="%.6g"))
    if html:
        writers["html"] = ("site_check.html", lambda p: save_map(site_check_map(check), p))
    return _write_all(Path(out_dir), writers, check.context.result.provenance, inputs)


def write_suggestion(sugg: Suggestion, out_dir: str | Path, html: bool = True,
                     inputs: list[Path] | None = None) -> dict[str, Path]:
    """``suggest.csv`` (ranked sites), ``suggest_candidates.csv`` (every candidate alone), ``suggest.html`` and
    ``run.json`` (with the candidate files read, ``inputs``)."""
    ranked = sugg.sites.drop(columns="geometry")
    writers = {"table": ("suggest.csv", lambda p: ranked.to_csv(p, index=False, float_format="%.6g")),
               "candidates": ("suggest_candidates.csv",
                              lambda p: sugg.check.table.to_csv(p, index=False, float_format="%.6g"))}
    if html:
        writers["html"] = ("suggest.html", lambda p: save_map(suggestion_map(sugg), p))
    return _write_all(Path(out_dir), writers, sugg.check.context.result.provenance, inputs)
