"""The HTML gap map (folium): one self-contained file that opens offline.

Travel-time cells are drawn as one PNG image per category, warped from the analysis CRS to Web
Mercator with rasterio and embedded as a data URL (a few hundred KB for a city, instead of megabytes
of GeoJSON). Gap areas are dissolved cell polygons; facilities are markers with popups. Every layer is
toggleable.
"""

from __future__ import annotations

import html
from pathlib import Path

import branca
import folium
import geopandas as gpd
import numpy as np
import rasterio.features
import rasterio.transform
import rasterio.warp
import shapely
from matplotlib import colors as mcolors

from .coverage import COMBINED
from .crs import WGS84, transform_xy
from .labels import t
from .pipeline import AnalysisResult
from .provenance import footer_lines

#: Colours of the travel-time bands, fastest first (ColorBrewer RdYlGn, reversed); the last is "none".
BAND_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#67001f"]
CATEGORY_COLOURS = ["#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#fb9a99"]
GAP_COLOUR = "#b2182b"


def band_edges(threshold: float, max_minutes: float) -> list[float]:
    """Band limits in minutes: 0, 5, 10, 15, 30, the threshold and the search limit."""
    return sorted({0.0, 5.0, 10.0, 15.0, 30.0, float(threshold), float(max_minutes)} - {e for e in (5.0, 10.0, 15.0, 30.0) if e > max_minutes})


def _grid_raster(result: AnalysisResult, values: np.ndarray) -> tuple[np.ndarray, rasterio.Affine]:
    """A float32 raster (NaN = no cell) of per-cell ``values`` in the network CRS."""
    g = result.grid
    arr = np.full((g.ny, g.nx), np.nan, dtype=np.float32)
    rows = g.ny - 1 - result.demand["iy"].to_numpy()
    arr[rows, result.demand["ix"].to_numpy()] = values
    transform = rasterio.transform.from_origin(g.x0, g.y0 + g.ny * g.cell, g.cell, g.cell)
    return arr, transform


def _to_mercator(arr: np.ndarray, transform, src_crs, resampling=rasterio.warp.Resampling.nearest):
    bounds = rasterio.transform.array_bounds(arr.shape[0], arr.shape[1], transform)
    dst_t, w, h = rasterio.warp.calculate_default_transform(src_crs, "EPSG:3857", arr.shape[1], arr.shape[0], *bounds)
    out = np.full((h, w), np.nan, dtype=np.float32)
    rasterio.warp.reproject(arr, out, src_transform=transform, src_crs=src_crs, dst_transform=dst_t,
                            dst_crs="EPSG:3857", resampling=resampling, src_nodata=np.nan, dst_nodata=np.nan)
    west, south, east, north = rasterio.transform.array_bounds(h, w, dst_t)
    (lon0, lat0), (lon1, lat1) = transform_xy(np.array([[west, south], [east, north]]), "EPSG:3857", WGS84)
    return out, [[lat0, lon0], [lat1, lon1]]


def _colourise(minutes: np.ndarray, edges: list[float]) -> np.ndarray:
    rgba = np.zeros(minutes.shape + (4,), dtype=np.uint8)
    palette = np.array([mcolors.to_rgba(c, 0.75) for c in BAND_COLOURS]) * 255
    idx = np.clip(np.searchsorted(edges[1:-1], minutes, side="left"), 0, len(edges) - 2)
    idx = np.where(np.isinf(minutes), len(palette) - 1, np.minimum(idx, len(palette) - 2))
    has = ~np.isnan(minutes)
    rgba[has] = palette[idx[has]].astype(np.uint8)
    return rgba


def _legend(title: str, items: list[tuple[str, str]], footer: list[str]) -> branca.element.MacroElement:
    rows = "".join(f'<div><span style="display:inline-block;width:14px;height:14px;background:{c};'
                   f'border:1px solid #555;margin-right:6px;vertical-align:middle"></span>{html.escape(s)}</div>'
                   for c, s in items)
    foot = "".join(f'<div style="color:#444;font-size:11px;margin-top:4px">{html.escape(s)}</div>' for s in footer)
    macro = branca.element.MacroElement()
    macro._template = branca.element.Template(
        "{% macro html(this, kwargs) %}<div id='access15-legend' style='position:fixed;bottom:24px;left:12px;"
        "z-index:9999;background:rgba(255,255,255,.92);padding:8px 10px;border:1px solid #999;border-radius:4px;"
        "font:12px/1.45 sans-serif;max-width:320px'><b>" + html.escape(title) + "</b>" + rows + foot
        + "</div>{% endmacro %}")
    return macro


def _title(text: str, sub: str) -> branca.element.MacroElement:
    macro = branca.element.MacroElement()
    macro._template = branca.element.Template(
        "{% macro html(this, kwargs) %}<div id='access15-title' style='position:fixed;top:10px;left:60px;"
        "z-index:9999;background:rgba(255,255,255,.92);padding:6px 12px;border:1px solid #999;border-radius:4px;"
        "font:14px/1.4 sans-serif'><b>" + html.escape(text) + "</b><br><span style='font-size:12px'>"
        + html.escape(sub) + "</span></div>{% endmacro %}")
    return macro


def build_map(result: AnalysisResult, lang: str | None = None, tiles: str | None = None) -> folium.Map:
    """A folium map of the analysis: streets, travel-time cells and gaps per category, facilities.

    ``tiles`` is a folium tile name or URL for an online basemap; ``None`` draws no basemap (the
    streets layer from the extract stands in for it, so the map works offline).
    """
    cfg = result.config
    lang = lang or cfg.output.lang
    net = result.network
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    (w, s), (e, n) = transform_xy(np.array([lo, hi]), net.crs, WGS84)
    fmap = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=tiles, control_scale=True, prefer_canvas=True)
    fmap.fit_bounds([[s, w], [n, e]])

    # streets rasterised at ~1/4 cell so the map has context without a basemap
    res = max(cfg.demand.cell_m / 4 if result.grid else 10.0, 5.0)
    width, height = int(np.ceil((hi[0] - lo[0]) / res)) + 1, int(np.ceil((hi[1] - lo[1]) / res)) + 1
    st = rasterio.transform.from_origin(lo[0], hi[1], res, res)
    streets = rasterio.features.rasterize(((g, 1) for g in net.edge_geometry), out_shape=(height, width),
                                          transform=st, dtype=np.uint8).astype(np.float32)
    streets[streets == 0] = np.nan
    merc, bounds = _to_mercator(streets, st, net.crs)
    rgba = np.zeros(merc.shape + (4,), dtype=np.uint8)
    rgba[merc == 1] = (90, 90, 90, 200)
    folium.raster_layers.ImageOverlay(rgba, bounds=bounds, name=t(lang, "streets"), pixelated=False).add_to(fmap)

    first = True
    for cat, ccfg in cfg.categories.items():
        label = ccfg.label(lang)
        values = result.demand[f"time_{cat}"].to_numpy()
        if result.grid is not None:
            edges = band_edges(ccfg.minutes, cfg.max_minutes)
            arr, tr = _grid_raster(result, values)
            merc, bounds = _to_mercator(arr, tr, net.crs)
            folium.raster_layers.ImageOverlay(_colourise(merc, edges), bounds=bounds, show=first,
                                              name=t(lang, "travel_time", label=label)).add_to(fmap)
        first = False
    for cat in list(cfg.categories) + [COMBINED]:
        gaps = result.gaps(cat)
        if result.grid is not None and len(gaps):
            polys = result.grid.cell_polygons(gaps["ix"].to_numpy(), gaps["iy"].to_numpy())
            merged = shapely.coverage_union_all(polys)
        else:
            merged = shapely.union_all(shapely.buffer(gaps.geometry.values, 20)) if len(gaps) else shapely.Polygon()
        if cat == COMBINED:
            name = t(lang, "gap_combined")
        else:
            ccfg = cfg.categories[cat]
            name = t(lang, "gap", minutes=ccfg.minutes, label=ccfg.label(lang))
        gdf = gpd.GeoDataFrame({"layer": [name]}, geometry=[merged], crs=net.crs).to_crs(4326)
        gdf["geometry"] = gdf.geometry.simplify(1e-5).set_precision(1e-6)
        folium.GeoJson(gdf, name=name, show=cat == COMBINED,
                       style_function=lambda _f: {"color": GAP_COLOUR, "weight": 1.5, "fillColor": GAP_COLOUR,
                                                  "fillOpacity": 0.25, "dashArray": "4 3"}).add_to(fmap)

    fac = result.facilities.to_crs(4326)
    for i, (cat, ccfg) in enumerate(cfg.categories.items()):
        sub = fac[fac["category"] == cat][["facility_id", "name", "capacity", "snap_m", "geometry"]].copy()
        if not len(sub):
            continue
        sub["snap_m"] = sub["snap_m"].round(1)
        sub["geometry"] = sub.geometry.set_precision(1e-6)
        colour = CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
        folium.GeoJson(
            sub, name=t(lang, "facilities", label=ccfg.label(lang)),
            marker=folium.CircleMarker(radius=5, fill=True, fill_opacity=0.9, weight=1, color="#222"),
            style_function=lambda _f, c=colour: {"fillColor": c},
            popup=folium.GeoJsonPopup(fields=["name", "facility_id", "capacity", "snap_m"]),
        ).add_to(fmap)

    first_cat, first_cfg = next(iter(cfg.categories.items()))
    edges = band_edges(first_cfg.minutes, cfg.max_minutes)
    items = [(BAND_COLOURS[min(i, len(BAND_COLOURS) - 2)], f"{a:g}–{b:g} min") for i, (a, b) in
             enumerate(zip(edges[:-1], edges[1:]))]
    items.append((BAND_COLOURS[-1], t(lang, "none", max=cfg.max_minutes)))
    items.append((GAP_COLOUR, t(lang, "gap_combined")))
    cov = result.coverage.set_index("category")
    heads = [t(lang, "headline", label=c.label(lang), share=cov.loc[k, "share_covered"], minutes=c.minutes)
             for k, c in cfg.categories.items()]
    heads.append(t(lang, "headline_combined", share=cov.loc[COMBINED, "share_covered"]))
    sources = sorted({net.source} | set(result.facilities["source"].astype(str)))
    footer = [result.demand_label, t(lang, "speed", profile=cfg.speed_profile, kmh=cfg.kmh),
              t(lang, "sources", sources="; ".join(sources)), f"access15 {result.version}"]
    footer += footer_lines(getattr(result, "provenance", {}))
    fmap.add_child(_title(cfg.name, " · ".join(heads)))
    fmap.add_child(_legend(t(lang, "travel_time", label=first_cfg.label(lang)), items, footer))
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def write_map(result: AnalysisResult, path: str | Path, lang: str | None = None, tiles: str | None = None) -> Path:
    """Render :func:`build_map` to an HTML file at ``path``."""
    path = Path(path)
    build_map(result, lang, tiles).save(str(path))
    return path
