"""Siting results on disk: CSV tables and before/after HTML maps.

The maps start from the analysis's own gap map (:func:`access15.html_map.build_map`: streets, travel
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

import folium
from branca.element import MacroElement, Template
import geopandas as gpd
import numpy as np
import shapely

from .siting import OK, SiteCheck, Suggestion

CATCHMENT_COLOUR = "#2166ac"
CLOSED_COLOUR = "#1b9e77"
SITE_COLOUR = "#7b3294"
INVALID_COLOUR = "#777777"
#: Per-site catchment layers are drawn for at most this many sites; beyond, one merged layer.
MAX_SITE_LAYERS = 12


def _cells(check: SiteCheck, mask: np.ndarray, name: str) -> gpd.GeoDataFrame:
    """Demand cells (grid) or 20 m discs (node demand) where ``mask``, dissolved, in EPSG:4326."""
    result = check.context.result
    dem = result.demand[mask]
    if not len(dem):
        geom = shapely.Polygon()
    elif result.grid is not None:
        geom = shapely.coverage_union_all(result.grid.cell_polygons(dem["ix"].to_numpy(), dem["iy"].to_numpy()))
    else:
        geom = shapely.union_all(shapely.buffer(dem.geometry.values, 20))
    gdf = gpd.GeoDataFrame({"layer": [name]}, geometry=[geom], crs=result.network.crs).to_crs(4326)
    gdf["geometry"] = gdf.geometry.simplify(1e-5).set_precision(1e-6)
    return gdf


def _area(gdf: gpd.GeoDataFrame, name: str, colour: str, fill: float, dash: str | None, show: bool = True):
    style = {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": fill}
    if dash:
        style["dashArray"] = dash
    return folium.GeoJson(gdf, name=name, show=show, style_function=lambda _f, s=style: s)


class _TextPopup(MacroElement):
    """A plain-text popup bound with Leaflet alone (folium's Popup needs jQuery, which an offline map lacks)."""

    _template = Template("{% macro script(this, kwargs) %}"
                         "{{ this._parent.get_name() }}.bindPopup({{ this.text|tojson }}, {maxWidth: 360});"
                         "{% endmacro %}")

    def __init__(self, text: str):
        super().__init__()
        self._name = "TextPopup"
        self.text = html.escape(text)


def _site_marker(lat: float, lon: float, label: str, popup: str, colour: str) -> folium.Marker:
    """A numbered round marker drawn with HTML only (no icon fonts or images to fetch), with a popup."""
    icon = folium.DivIcon(html=(f"<div style='background:{colour};color:#fff;border:2px solid #fff;"
                                "border-radius:50%;width:24px;height:24px;line-height:20px;text-align:center;"
                                f"font:bold 12px sans-serif;box-shadow:0 0 3px #000'>{html.escape(label)}</div>"),
                          icon_size=(24, 24), icon_anchor=(12, 12))
    marker = folium.Marker([lat, lon], icon=icon, tooltip=html.escape(popup[:120]))
    marker.add_child(_TextPopup(popup))
    return marker


def _finish(fmap: folium.Map) -> folium.Map:
    """Move the layer control after the layers added here: folium writes children in order, and a control
    written before a layer's definition breaks the page (the layer is undefined when it is listed)."""
    for key, child in list(fmap._children.items()):
        if isinstance(child, folium.LayerControl):
            fmap._children.move_to_end(key)
    return fmap


def site_check_map(check: SiteCheck, lang: str | None = None) -> folium.Map:
    """The analysis's gap map plus, per candidate, its catchment and the gap it closes."""
    from .html_map import build_map

    result = check.context.result
    fmap = build_map(result, lang)
    before = result.demand[f"covered_{check.category}"].to_numpy(dtype=bool)
    t = check.table
    ok = np.flatnonzero(t["status"].to_numpy() == OK)
    n = len(result.demand)
    if len(ok) <= MAX_SITE_LAYERS:
        for i in ok:
            reach = np.zeros(n, dtype=bool)
            reach[check.reach.dem[check.reach.cand == i]] = True
            site = t["site"].iat[i]
            _area(_cells(check, reach, f"catchment {site}"), f"Catchment of {site} ({check.minutes:g} min)",
                  CATCHMENT_COLOUR, 0.0, "6 4").add_to(fmap)
            _area(_cells(check, reach & ~before, f"closed {site}"), f"Gap closed by {site}",
                  CLOSED_COLOUR, 0.45, None).add_to(fmap)
    else:
        closed = np.zeros(n, dtype=bool)
        closed[check.reach.dem] = True
        _area(_cells(check, closed & ~before, "closed"), "Gap closed by any candidate (each alone)",
              CLOSED_COLOUR, 0.45, None).add_to(fmap)
    for i, row in enumerate(t.itertuples()):  # one marker per candidate
        colour = SITE_COLOUR if row.status == OK else INVALID_COLOUR
        _site_marker(row.lat, row.lon, str(i + 1), row.verdict, colour).add_to(fmap)
    return _finish(fmap)


def suggestion_map(sugg: Suggestion, lang: str | None = None) -> folium.Map:
    """The analysis's gap map plus the suggested sites (numbered by rank), the gap they close together
    and, hidden by default, the candidate pool."""
    from .html_map import build_map

    check = sugg.check
    result = check.context.result
    fmap = build_map(result, lang)
    _area(_cells(check, sugg.newly_covered, "closed"), f"Gap closed by the {len(sugg.sites)} suggested sites",
          CLOSED_COLOUR, 0.45, None).add_to(fmap)
    before = result.demand[f"covered_{sugg.category}"].to_numpy(dtype=bool)
    left = ~before & ~sugg.newly_covered
    _area(_cells(check, left, "remaining"), "Gap remaining after the suggested sites", "#b2182b", 0.15, "4 3",
          show=False).add_to(fmap)
    pool = folium.FeatureGroup(name=f"Candidate sites ({len(check.table)})", show=False)
    for row in check.table.itertuples():  # one dot per candidate
        folium.CircleMarker([row.lat, row.lon], radius=3, color=INVALID_COLOUR if row.status != OK else "#444",
                            fill=True, fill_opacity=0.8, weight=1, tooltip=html.escape(row.verdict[:160])).add_to(pool)
    pool.add_to(fmap)
    for row in sugg.sites.itertuples():
        text = (f"#{row.rank} {row.site}: adds {row.newly_covered:,.0f} {sugg.noun} after the sites ranked above "
                f"(coverage {row.share_after:.1%})")
        _site_marker(row.lat, row.lon, str(row.rank), text, SITE_COLOUR).add_to(fmap)
    return _finish(fmap)


def _write_all(out_dir: Path, writers: dict[str, tuple[str, callable]]) -> dict[str, Path]:
    """Run each writer into a staging folder, then move every file into ``out_dir`` (all or nothing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".access15-siting-", dir=out_dir.parent))
    try:
        for name, write in writers.values():
            write(staging / name)
        written = {}
        for key, (name, _) in writers.items():
            os.replace(staging / name, out_dir / name)
            written[key] = out_dir / name
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_site_check(check: SiteCheck, out_dir: str | Path, html: bool = True) -> dict[str, Path]:
    """``site_check.csv`` (+ ``site_check_units.csv`` with boundaries, ``site_check.html``) in ``out_dir``."""
    writers = {"table": ("site_check.csv", lambda p: check.table.to_csv(p, index=False, float_format="%.6g"))}
    if len(check.units):
        writers["units"] = ("site_check_units.csv", lambda p: check.units.to_csv(p, index=False, float_format="%.6g"))
    if html:
        writers["html"] = ("site_check.html", lambda p: site_check_map(check).save(str(p)))
    return _write_all(Path(out_dir), writers)


def write_suggestion(sugg: Suggestion, out_dir: str | Path, html: bool = True) -> dict[str, Path]:
    """``suggest.csv`` (ranked sites), ``suggest_candidates.csv`` (every candidate alone) and ``suggest.html``."""
    ranked = sugg.sites.drop(columns="geometry")
    writers = {"table": ("suggest.csv", lambda p: ranked.to_csv(p, index=False, float_format="%.6g")),
               "candidates": ("suggest_candidates.csv",
                              lambda p: sugg.check.table.to_csv(p, index=False, float_format="%.6g"))}
    if html:
        writers["html"] = ("suggest.html", lambda p: suggestion_map(sugg).save(str(p)))
    return _write_all(Path(out_dir), writers)
