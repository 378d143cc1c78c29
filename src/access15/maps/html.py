"""The HTML gap map (folium): one self-contained file that opens offline.

Travel-time bands and gap cells are drawn as PNG images, one per category, warped from the analysis CRS
to Web Mercator with rasterio and embedded as data URLs (a few hundred KB for a city of a million, instead
of megabytes of GeoJSON). Gap areas also get a dissolved, simplified outline; facilities are per-category
SVG markers with popups; units get a coverage choropleth whose tooltip is the unit's coverage row.
Leaflet is inlined from the package (:mod:`access15.offline`): nothing loads from a CDN. With a GCJ-02
basemap (AMap) every overlay is shifted WGS84 -> GCJ-02 so it lines up, and the legend says so.

Renders a :class:`~access15.mapdata.MapData` (a live AnalysisResult is converted), so a map from a run
and a map from its GeoPackage go through the same code. Complexity: O(cells + street vertices) for the
rasters, O(facilities + boundary vertices) for the vector layers.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.transform
import rasterio.warp
import shapely
from matplotlib import colors as mcolors
from PIL import Image

from ..config import Config
from ..coords import WGS84, gcj02_to_wgs84, transform_xy, wgs84_to_gcj02
from ..coverage import COMBINED
from ..presets import load_walk_profiles
from ..provenance import footer_lines as provenance_footer
from ..result import AnalysisResult
from ..text import demand_text, profile_name, t, word
from . import compact
from .mapdata import MapData, as_map_data
from .offline import assert_offline, inline_assets
from .style import SHARE_BREAKS, of_level, sources_line, unit_levels, weight_breaks, weight_key

#: Travel-time band limits (minutes); the last band runs to the search limit.
BAND_LIMITS = (0.0, 5.0, 10.0, 15.0, 30.0)
#: Colours of the travel-time bands, fastest first (ColorBrewer RdYlGn, reversed); the last is "none".
BAND_COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#67001f"]
#: Marker fills per category (black outline); chosen to stand out from the band and gap colours.
CATEGORY_COLOURS = ["#1f78b4", "#ffffff", "#ffd92f", "#a6761d", "#66c2a5", "#e78ac3", "#8da0cb", "#b3b3b3"]
#: Marker shapes per category (SVG), so categories differ in shape as well as colour.
CATEGORY_SHAPES = ["circle", "square", "triangle", "diamond", "pentagon", "star", "hexagon", "cross"]
GAP_COLOUR = "#7a0177"
#: Uncovered weight per cell, light to dark (ColorBrewer RdPu), apart from the red-yellow-green bands.
GAP_RAMP = ["#fcc5c0", "#fa9fb5", "#f768a1", "#c51b8a", "#7a0177"]
#: Coverage share of a unit, low to high (ColorBrewer RdYlBu, 5 classes).
SHARE_COLOURS = ["#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6"]
#: Opacity of the band and gap images (the streets show through).
BAND_ALPHA, GAP_ALPHA = 0.72, 0.55
#: The largest raster side (pixels) drawn for the streets background, its colour and opacity.
MAX_STREET_PX = 2048
STREET_RASTER_COLOUR, STREET_RASTER_ALPHA = "#6e6e6e", 190 / 255
#: Coordinate precision (degrees) of vector layers: 1e-5 degree is about 1 m.
PRECISION_DEG = 1e-5

AMAP_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@dataclass
class Basemap:
    """A resolved basemap: tile URL (None = no tiles), attribution, display name, and whether its
    coordinates are GCJ-02 (then the overlays are shifted)."""

    url: str | None
    attribution: str
    name: str
    gcj02: bool
    subdomains: str = "abc"


def resolve_basemap(basemap: str = "none", attribution: str = "", crs: str = "") -> Basemap:
    """The :class:`Basemap` for a config value ``"none"``, ``"osm"``, ``"amap"`` or a tile URL template.

    ``crs = "gcj02"`` marks a custom URL as GCJ-02; ``"amap"`` is GCJ-02 unless ``crs = "wgs84"``.
    """
    if basemap in ("", "none"):
        return Basemap(None, "", "none", False)
    if basemap == "osm":
        return Basemap(OSM_URL, attribution or "© OpenStreetMap contributors", "OpenStreetMap", crs == "gcj02")
    if basemap == "amap":
        return Basemap(AMAP_URL, attribution or "© AutoNavi 高德地图", "AMap 高德", crs != "wgs84", "1234")
    return Basemap(basemap, attribution, basemap.split("/")[2] if "//" in basemap else basemap, crs == "gcj02")


Shift = Callable[[np.ndarray], np.ndarray]


def _gcj02_shift(xy: np.ndarray) -> np.ndarray:
    """WGS84 lon/lat (N, 2) -> GCJ-02 lon/lat (N, 2)."""
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _identity(xy: np.ndarray) -> np.ndarray:
    return xy


def _geo_layer(gdf: gpd.GeoDataFrame, shift: Shift, simplify_deg: float = 0.0,
               rounding: str = "valid_output") -> gpd.GeoDataFrame:
    """``gdf`` in EPSG:4326, simplified, shifted into the basemap's datum and rounded to ~1 m (``rounding``:
    the ``shapely.set_precision`` mode; ``"pointwise"`` only rounds the vertices, ten times faster, for outlines
    whose vertices lie metres apart)."""
    out = gdf.to_crs(4326)
    geom = out.geometry.values
    if simplify_deg:
        geom = shapely.simplify(geom, simplify_deg, preserve_topology=True)
    geom = shapely.transform(geom, shift)
    out = out.set_geometry(shapely.set_precision(geom, PRECISION_DEG, mode=rounding), crs=4326)
    return out[~out.geometry.is_empty]


def map_layer(gdf: gpd.GeoDataFrame, config: Config, simplify_deg: float = PRECISION_DEG) -> gpd.GeoDataFrame:
    """``gdf`` ready to draw over the map of ``config`` (its ``[output]`` basemap): EPSG:4326, simplified,
    shifted to GCJ-02 when the basemap is, rounded to ~1 m. For layers other modules add to :func:`build_map`."""
    out = config.output
    bm = resolve_basemap(out.basemap, out.basemap_attribution, out.basemap_crs)
    return _geo_layer(gdf, _gcj02_shift if bm.gcj02 else _identity, simplify_deg)


def band_edges(max_minutes: float) -> list[float]:
    """Band limits in minutes: 0, 5, 10, 15, 30 (those below the search limit) and the search limit."""
    return [e for e in BAND_LIMITS if e < max_minutes] + [float(max_minutes)]


def _grid_raster(data: MapData, values: np.ndarray) -> tuple[np.ndarray, rasterio.Affine]:
    """A float32 raster (NaN = no cell) of per-cell ``values`` in the analysis CRS."""
    g = data.grid
    return g.raster(data.demand["ix"].to_numpy(), data.demand["iy"].to_numpy(), values), g.transform


#: Lines sampled at a time by :func:`burn_lines`.
BURN_BLOCK = 100_000


def burn_lines(lines: np.ndarray, x0: float, y1: float, res: float, shape: tuple[int, int]) -> np.ndarray:
    """A float32 raster (1 where a line passes, else 0) with top-left corner ``(x0, y1)`` and square pixels of
    ``res`` metres: every segment is sampled at ``n + 1`` evenly spaced points, ``n`` the fewest pieces of at
    most ``res / 2`` (the vertices ``shapely.segmentize`` would make, without building the geometries), and the
    points are binned.

    Vectorised (O(total length / res)); a line that only grazes a pixel corner may leave it blank, which is
    fine for a context layer (rasterio's rasterize walks every geometry in Python: 15 s per million edges).
    """
    out = np.zeros(shape, dtype=np.float32)
    lines = np.asarray(lines)
    for start in range(0, len(lines), BURN_BLOCK):  # a block of lines at a time: bounded memory
        coords, line = shapely.get_coordinates(lines[start:start + BURN_BLOCK], return_index=True)
        first = np.flatnonzero(line[1:] == line[:-1])  # consecutive vertices of one line: a segment
        x, y = coords[:, 0], coords[:, 1]  # one coordinate at a time: no (samples, 2) temporaries
        ax, ay = x[first], y[first]
        dx, dy = x[first + 1] - ax, y[first + 1] - ay
        n = np.maximum(np.ceil(np.hypot(dx, dy) / (res / 2)), 1).astype(np.int64)
        seg = np.repeat(np.arange(len(ax)), n + 1)
        f = (np.arange(len(seg)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)) / n[seg]
        col = np.floor((ax[seg] + dx[seg] * f - x0) / res).astype(np.int64)
        row = np.floor((y1 - (ay[seg] + dy[seg] * f)) / res).astype(np.int64)
        ok = (col >= 0) & (col < shape[1]) & (row >= 0) & (row < shape[0])
        out[row[ok], col[ok]] = 1.0
    return out


def _to_mercator(arr: np.ndarray, transform, src_crs, shift: Shift):
    """Warp ``arr`` to Web Mercator (nearest neighbour); return it and its Leaflet bounds
    ``[[south, west], [north, east]]``.

    With the GCJ-02 shift the image is resampled once more, pixel by pixel: each pixel centre of a
    Mercator grid laid in GCJ-02 coordinates is taken back to WGS84 (:func:`gcj02_to_wgs84`) and samples
    the WGS84 image there, so every cell lands where the GCJ-02 basemap draws that ground (shifting only
    the image corners would leave up to ~50 m of error across a 30 km city). O(pixels).
    """
    bounds = rasterio.transform.array_bounds(arr.shape[0], arr.shape[1], transform)
    dst_t, w, h = rasterio.warp.calculate_default_transform(src_crs, "EPSG:3857", arr.shape[1], arr.shape[0], *bounds)
    out = np.full((h, w), np.nan, dtype=np.float32)
    rasterio.warp.reproject(arr, out, src_transform=transform, src_crs=src_crs, dst_transform=dst_t,
                            dst_crs="EPSG:3857", resampling=rasterio.warp.Resampling.nearest,
                            src_nodata=np.nan, dst_nodata=np.nan)
    west, south, east, north = rasterio.transform.array_bounds(h, w, dst_t)
    if shift is not _identity:
        out, (west, south, east, north) = _shift_image(out, dst_t, (west, south, east, north), shift)
    (lon0, lat0), (lon1, lat1) = transform_xy(np.array([[west, south], [east, north]]), "EPSG:3857", WGS84)
    return out, np.round([[lat0, lon0], [lat1, lon1]], 7).tolist()


def _shift_image(img: np.ndarray, img_t, box: tuple[float, float, float, float], shift: Shift):
    """Resample a WGS84 Web Mercator image onto a Mercator grid in the shifted (GCJ-02) datum."""
    west, south, east, north = box
    corners = np.array([[west, south], [east, south], [east, north], [west, north]])
    moved = transform_xy(shift(transform_xy(corners, "EPSG:3857", WGS84)), WGS84, "EPSG:3857")
    res = img_t.a
    (mw, ms), (me, mn) = moved.min(axis=0), moved.max(axis=0)
    nx, ny = int(np.ceil((me - mw) / res)), int(np.ceil((mn - ms) / res))
    cx = mw + (np.arange(nx) + 0.5) * res
    cy = mn - (np.arange(ny) + 0.5) * res
    gx, gy = np.meshgrid(cx, cy)
    lonlat = transform_xy(np.column_stack([gx.ravel(), gy.ravel()]), "EPSG:3857", WGS84)
    lon, lat = gcj02_to_wgs84(lonlat[:, 0], lonlat[:, 1])
    src = transform_xy(np.column_stack([lon, lat]), WGS84, "EPSG:3857")
    col = np.floor((src[:, 0] - west) / res).astype(np.int64)
    row = np.floor((north - src[:, 1]) / -img_t.e).astype(np.int64)
    ok = (col >= 0) & (col < img.shape[1]) & (row >= 0) & (row < img.shape[0])
    flat = np.full(nx * ny, np.nan, dtype=img.dtype)
    flat[ok] = img[row[ok], col[ok]]
    return flat.reshape(ny, nx), (mw, mn - ny * res, mw + nx * res, mn)


def png_url(classes: np.ndarray, palette: list[str], alpha: float) -> str:
    """A class image (-1 = transparent) as a palette PNG data URL: one byte per pixel and a tRNS chunk for the
    alpha, DEFLATE level 6 (Pillow). A quarter of the RGBA bytes, and several times faster to compress than
    folium's RGBA PNG at level 9 at metro size. O(pixels)."""
    pal = (np.array([(0, 0, 0, 0)] + [mcolors.to_rgba(c, alpha) for c in palette]) * 255).round().astype(np.uint8)
    img = Image.fromarray((classes + 1).astype(np.uint8), mode="P")
    img.putpalette(pal[:, :3].ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6, transparency=pal[:, 3].tobytes())
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def band_palette(edges: list[float]) -> list[str]:
    """The colour of each travel-time band of ``edges`` (:func:`band_edges`), then of "none within reach"."""
    return BAND_COLOURS[: len(edges) - 1] + [BAND_COLOURS[-1]]


def band_legend(max_minutes: float, lang: str) -> list[tuple[str, str]]:
    """(CSS colour with the map's opacity, label) of each band class of :func:`band_classes`, in order:
    "0–5 min", ..., then "none within <max> min". The legend of ``map.html`` and of the workbench page."""
    edges = band_edges(max_minutes)
    labels = [t(lang, "band", a=a, b=b) for a, b in zip(edges[:-1], edges[1:])] + [t(lang, "none", max=max_minutes)]
    return [(_css(c, BAND_ALPHA), label) for c, label in zip(band_palette(edges), labels)]


def band_classes(minutes: np.ndarray, edges: list[float]) -> np.ndarray:
    """Band index per value: ``i`` for ``edges[i] < t <= edges[i+1]`` (0 includes t = 0), the last index
    for ``inf`` (no facility within the search limit), -1 for NaN (no cell / off the network)."""
    idx = np.clip(np.searchsorted(np.asarray(edges[1:-1]), minutes, side="left"), 0, len(edges) - 2)
    idx = np.where(np.isinf(minutes), len(edges) - 1, idx)
    return np.where(np.isnan(minutes), -1, idx).astype(np.int64)


def _svg_marker(shape: str, colour: str, size: int = 16) -> str:
    """A small SVG symbol; black outline so it reads on any background and in grey print."""
    s, c = size, size / 2
    r = s / 2 - 1.5
    pts = {"triangle": [(c, 1.5), (s - 1.5, s - 2), (1.5, s - 2)],
           "diamond": [(c, 1), (s - 1, c), (c, s - 1), (1, c)],
           "pentagon": [(c + r * np.sin(a), c - r * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 6)[:-1]],
           "hexagon": [(c + r * np.sin(a), c - r * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1]],
           "star": [(c + (r if i % 2 == 0 else r / 2.2) * np.sin(a), c - (r if i % 2 == 0 else r / 2.2) * np.cos(a))
                    for i, a in enumerate(np.linspace(0, 2 * np.pi, 11)[:-1])],
           "cross": [(c - 2, 1.5), (c + 2, 1.5), (c + 2, c - 2), (s - 1.5, c - 2), (s - 1.5, c + 2), (c + 2, c + 2),
                     (c + 2, s - 1.5), (c - 2, s - 1.5), (c - 2, c + 2), (1.5, c + 2), (1.5, c - 2), (c - 2, c - 2)]}
    style = f'fill="{colour}" stroke="#111" stroke-width="1.3"'
    if shape == "circle":
        body = f'<circle cx="{c:g}" cy="{c:g}" r="{r:g}" {style}/>'
    elif shape == "square":
        body = f'<rect x="2" y="2" width="{s - 4}" height="{s - 4}" {style}/>'
    else:
        body = '<polygon points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts[shape]) + f'" {style}/>'
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}">{body}</svg>'


def category_style(i: int) -> tuple[str, str]:
    """(colour, shape) of the ``i``-th category."""
    return CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)], CATEGORY_SHAPES[i % len(CATEGORY_SHAPES)]


def macro(name: str, body: str, section: str = "html") -> branca.element.MacroElement:
    """A map element that writes ``body`` verbatim into the page's ``html`` (markup) or ``script`` section."""
    element = branca.element.MacroElement()
    element._name = name
    element._template = branca.element.Template("{% macro " + section + "(this, kwargs) %}" + body + "{% endmacro %}")
    return element


def _css(colour: str, alpha: float) -> str:
    r, g, b, _ = (np.array(mcolors.to_rgba(colour)) * 255).round().astype(int)
    return f"rgba({r},{g},{b},{alpha:g})"


def _swatch(colour: str, hatch: bool = False) -> str:
    pattern = (";background-image:repeating-linear-gradient(45deg,rgba(0,0,0,.45) 0 1px,transparent 1px 4px)"
               if hatch else "")
    return (f'<span style="display:inline-block;width:14px;height:14px;background:{colour}{pattern};'
            'border:1px solid #555;margin-right:6px;vertical-align:middle"></span>')


def headlines(data: MapData, lang: str) -> list[str]:
    """One coverage headline per category and the combined circle ("Clinic: 62.1% within 15 min")."""
    cfg = data.config
    cov = data.coverage.set_index("category")
    heads = [t(lang, "headline", label=c.label(lang), share=float(cov.loc[k, "share_covered"]), minutes=c.minutes)
             for k, c in cfg.categories.items() if k in cov.index]
    if COMBINED in cov.index and any(c.required for c in cfg.categories.values()):
        heads.append(t(lang, "headline_combined", share=float(cov.loc[COMBINED, "share_covered"])))
    return heads


def footer_lines(data: MapData, lang: str, basemap: Basemap) -> list[str]:
    """Demand label, speed profile, data sources and dates, basemap note and version."""
    cfg = data.config
    lines = [demand_text(data.demand_label, lang), t(lang, "speed", profile=profile_name(lang, cfg.speed_profile), kmh=cfg.kmh),
             sources_line(data, lang)]
    if basemap.gcj02:
        lines.append(t(lang, "gcj02_note", basemap=basemap.name))
    elif basemap.url is None:
        lines.append(t(lang, "basemap_none"))
    lines += provenance_footer(data.provenance, lang)
    lines.append(f"access15 {data.version}")
    return lines


def _unit_table(data: MapData, lang: str, level=None) -> pd.DataFrame:
    """One row per unit of ``level``: demand and the share covered per category and combined (as text)."""
    uc = of_level(data.unit_coverage, level)
    cfg = data.config
    labels = {k: c.label(lang) for k, c in cfg.categories.items()}
    labels[COMBINED] = t(lang, "combined")
    wide = uc.pivot(index="unit", columns="category", values="share_covered")
    out = pd.DataFrame({"unit": wide.index.astype(str)})
    demand = uc.groupby("unit")["demand"].first()
    out[t(lang, "demand")] = [f"{demand[u]:,.0f}" for u in wide.index]
    for cat in [c for c in [*cfg.categories, COMBINED] if c in wide.columns]:
        out[labels[cat]] = [("–" if pd.isna(v) else f"{v:.1%}") for v in wide[cat].to_numpy()]
    out["_share"] = wide[COMBINED].to_numpy() if COMBINED in wide.columns else wide.iloc[:, 0].to_numpy()
    return out


def share_legend() -> list[tuple[str, str]]:
    """(colour, label) of each class of the unit choropleth, lowest share first ("0%–20%", ...): the legend of
    ``map.html`` and of the workbench page."""
    lims = [0.0, *SHARE_BREAKS, 1.0]
    return [(c, f"{a:.0%}–{b:.0%}") for c, a, b in zip(SHARE_COLOURS, lims[:-1], lims[1:])]


def wgs84_layer(gdf: gpd.GeoDataFrame, simplify_deg: float = 2 * PRECISION_DEG) -> gpd.GeoDataFrame:
    """``gdf`` in EPSG:4326, simplified and rounded to ~1 m, unshifted (for a page without a basemap)."""
    return _geo_layer(gdf, _identity, simplify_deg)


def share_colour(share: float) -> str:
    """The choropleth colour of a coverage share (0-1); grey when unknown."""
    if share is None or not np.isfinite(share):
        return "#bdbdbd"
    return SHARE_COLOURS[int(np.searchsorted(SHARE_BREAKS, share, side="right"))]


def _gap_group(data: MapData, covered: str, name: str, shift: Shift, weights: np.ndarray, breaks: list[float],
               ramp: list[str], show: bool, control: bool = True) -> folium.FeatureGroup:
    """The gap layer of one circle (points where column ``covered`` is false): the cells coloured by uncovered
    weight and their outline (grid demand), or a buffer round the gap points (node demand)."""
    group = folium.FeatureGroup(name=name, show=show, control=control)
    gap = ~data.demand[covered].to_numpy(dtype=bool)  # (a mask, not a copy of the gap rows' every column)
    if data.grid is not None:
        uncovered = np.where(gap, weights, np.nan)
        uncovered[uncovered <= 0] = np.nan
        arr, tr = _grid_raster(data, uncovered)
        merc, bounds = _to_mercator(arr, tr, data.crs, shift)
        cls = np.where(np.isnan(merc), -1, np.searchsorted(breaks, merc, side="left").clip(0, len(breaks) - 1))
        folium.raster_layers.ImageOverlay(png_url(cls, ramp, GAP_ALPHA), bounds=bounds, name=name).add_to(group)
        merged = data.grid.outline(data.demand["ix"].to_numpy()[gap], data.demand["iy"].to_numpy()[gap])
    else:
        pts = data.demand.geometry.values[gap]
        merged = shapely.union_all(shapely.buffer(pts, 20)) if len(pts) else shapely.Polygon()
    # a grid outline's vertices are cell corners, a cell apart: nothing for a 1 m simplification to remove
    grid = data.grid is not None
    outline = _geo_layer(gpd.GeoDataFrame({"layer": [name]}, geometry=[merged], crs=data.crs), shift,
                         simplify_deg=0.0 if grid else PRECISION_DEG, rounding="pointwise" if grid else "valid_output")
    style = {"color": GAP_COLOUR, "weight": 2, "fill": data.grid is None, "fillColor": GAP_COLOUR, "fillOpacity": 0.3}
    if len(outline) and shapely.get_num_coordinates(outline.geometry.values).sum() > compact.OUTLINE_VERTICES_ABOVE:
        compact.RingLayer(outline.geometry.values[0], style, name).add_to(group)
    elif len(outline):
        folium.GeoJson(outline, name=name, style_function=lambda _f: style).add_to(group)
    return group


def map_variants(data: MapData) -> list[str]:
    """The walking profiles of ``[output] map_profiles`` whose times the analysis holds (every category's
    ``time_<cat>@<profile>`` and ``covered_<cat>@<profile>``): the map's profile switch."""
    cols = set(data.demand.columns)
    return [v for v in data.config.output.map_profiles
            if all({f"time_{c}@{v}", f"covered_{c}@{v}"} <= cols for c in data.config.categories)
            and f"covered_combined@{v}" in cols]


def _switch_script(slots: list[tuple[str, object, dict[str, object]]]) -> str:
    """The script of the legend's walker switch: a radio button shows every travel-time and gap layer for one
    walking profile (the images of the travel-time layers and the contents of the gap groups are swapped; the
    layer control's choice of layers stays)."""
    items = []
    for kind, own, alts in slots:
        alt = "{" + ", ".join(f"{json.dumps(v)}: {a.get_name()}" for v, a in alts.items()) + "}"
        items.append(f"{{kind: {json.dumps(kind)}, layer: {own.get_name()}, alt: {alt}}}")
    return ("(function () {\n  var slots = [" + ",\n    ".join(items) + "];\n"
            "  slots.forEach(function (s) { s.own = s.kind === 'image' ? s.layer._url : s.layer.getLayers(); });\n"
            "  function show(v) {\n"
            "    slots.forEach(function (s) {\n"
            "      var a = v ? s.alt[v] : null;\n"
            "      if (s.kind === 'image') { s.layer.setUrl(a ? a._url : s.own); return; }\n"
            "      s.layer.clearLayers();\n"
            "      (a ? a.getLayers() : s.own).forEach(function (l) { s.layer.addLayer(l); });\n"
            "    });\n"
            "  }\n"
            "  document.querySelectorAll('input[name=\"access15-walker\"]').forEach(function (i) {\n"
            "    i.addEventListener('change', function () { if (i.checked) { show(i.value); } });\n"
            "  });\n"
            "})();")


def build_map(result: MapData | AnalysisResult, lang: str | None = None, basemap: str | None = None, attribution: str | None = None,
              basemap_crs: str | None = None) -> folium.Map:
    """A folium map of a finished analysis (``MapData`` or ``AnalysisResult``).

    Layers (each in the layer control): streets (no basemap only), per category the travel-time bands,
    the gap cells coloured by uncovered weight with their outline, and the facilities; the combined-circle
    gaps; with boundaries, the unit outlines and the coverage choropleth. ``lang``, ``basemap``,
    ``attribution`` and ``basemap_crs`` default to the config's ``[output]`` values.
    """
    data = as_map_data(result)
    cfg = data.config
    lang = lang or cfg.output.lang
    bm = resolve_basemap(basemap if basemap is not None else cfg.output.basemap,
                         attribution if attribution is not None else cfg.output.basemap_attribution,
                         basemap_crs if basemap_crs is not None else cfg.output.basemap_crs)
    shift: Shift = _gcj02_shift if bm.gcj02 else _identity
    streets = np.asarray(data.streets)
    box = shapely.total_bounds(streets)
    lo, hi = np.floor(box[:2]), np.ceil(box[2:])  # whole metres: identical for a run and its GeoPackage
    (w, s), (e, n) = np.round(shift(transform_xy(np.array([lo, hi]), data.crs, WGS84)), 7)
    fmap = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=None, prefer_canvas=True)
    fmap.add_child(macro("access15_scale", "L.control.scale({imperial: false, maxWidth: 160})"
                                 ".addTo({{ this._parent.get_name() }});", "script"))
    fmap.add_child(macro("access15_compact", compact.SCRIPT, "script"))  # the decoder of metro-size layers, 1.5 KB
    if bm.url:
        folium.TileLayer(bm.url, attr=bm.attribution, name=bm.name, subdomains=bm.subdomains, max_zoom=19).add_to(fmap)
    # without animation: an animated zoom to the bounds ends in a second full redraw of every canvas layer
    # (60,000 facility dots take about a second to draw at 5M edges)
    fmap.add_child(macro("access15_bounds", f"{{{{ this._parent.get_name() }}}}.fitBounds({json.dumps([[s, w], [n, e]])}, "
                                            "{animate: false});", "script"))

    if bm.url is None:  # streets rasterised so the map has context without a basemap
        res = max(data.grid.cell / 4 if data.grid is not None else 10.0, 5.0,
                  max(hi[0] - lo[0], hi[1] - lo[1]) / MAX_STREET_PX)
        width, height = int(np.ceil((hi[0] - lo[0]) / res)) + 1, int(np.ceil((hi[1] - lo[1]) / res)) + 1
        st = rasterio.transform.from_origin(lo[0], hi[1], res, res)
        raster = burn_lines(streets, lo[0], hi[1], res, (height, width))
        raster[raster == 0] = np.nan
        merc, bounds = _to_mercator(raster, st, data.crs, shift)
        url = png_url(np.where(merc == 1, 0, -1), [STREET_RASTER_COLOUR], STREET_RASTER_ALPHA)
        folium.raster_layers.ImageOverlay(url, bounds=bounds, name=t(lang, "streets"), pixelated=False).add_to(fmap)

    edges = band_edges(cfg.max_minutes)
    palette = band_palette(edges)
    weights = data.demand["weight"].to_numpy(dtype=float)
    breaks = weight_breaks(weights) if data.weighted else [float(weights.max()) if len(weights) else 1.0]
    ramp = GAP_RAMP[-len(breaks):] if data.weighted else [GAP_COLOUR]
    any_required = any(c.required for c in cfg.categories.values())
    shown = COMBINED if any_required else next(iter(cfg.categories))  # the gap layer on at first
    variants = map_variants(data)
    slots: list[tuple[str, object, dict[str, object]]] = []  # (kind, the layer shown, {profile: its alternative})

    def time_image(cat: str, suffix: str) -> tuple[str, list]:
        arr, tr = _grid_raster(data, data.demand[f"time_{cat}{suffix}"].to_numpy())
        merc, bounds = _to_mercator(arr, tr, data.crs, shift)
        return png_url(band_classes(merc, edges), palette, BAND_ALPHA), bounds

    for cat, ccfg in cfg.categories.items():
        label = ccfg.label(lang)
        if data.grid is not None:
            name = t(lang, "travel_time", label=label)
            rgba, bounds = time_image(cat, "")
            own = folium.raster_layers.ImageOverlay(rgba, bounds=bounds, show=False, name=name).add_to(fmap)
            alts = {}
            for v in variants:
                rgba, bounds = time_image(cat, f"@{v}")
                alts[v] = folium.raster_layers.ImageOverlay(rgba, bounds=bounds, show=False, control=False,
                                                            name=f"{name} @{v}").add_to(fmap)
            slots.append(("image", own, alts))
    for cat in [*cfg.categories, COMBINED]:
        if cat == COMBINED:
            if not any_required:
                continue
            name = t(lang, "gap_combined")
        else:
            ccfg = cfg.categories[cat]
            name = t(lang, "gap", minutes=ccfg.minutes, label=ccfg.label(lang))
        own = _gap_group(data, f"covered_{cat}", name, shift, weights, breaks, ramp, show=cat == shown).add_to(fmap)
        alts = {v: _gap_group(data, f"covered_{cat}@{v}", f"{name} @{v}", shift, weights, breaks, ramp, show=False,
                              control=False).add_to(fmap) for v in variants}
        slots.append(("group", own, alts))
    if variants:
        fmap.add_child(macro("access15_walkers", _switch_script(slots), "script"))

    if data.boundaries is not None and len(data.boundaries):
        levels = unit_levels(data)
        share_label = (t(lang, "combined") if COMBINED in set(data.unit_coverage.get("category", []))
                       else next(iter(cfg.categories.values())).label(lang))
        for k, level in enumerate(levels):
            suffix = f" — {level}" if len(levels) > 1 else ""
            units = of_level(data.boundaries, level)
            bnd = _geo_layer(units[["unit", "geometry"]], shift, simplify_deg=2 * PRECISION_DEG)
            if len(of_level(data.unit_coverage, level)):
                table = _unit_table(data, lang, level)
                bnd = bnd.merge(table, on="unit", how="left")
                fields = [c for c in table.columns if c != "_share"]
                bnd_json = bnd.drop(columns=["_share"]).assign(_fill=[share_colour(v) for v in bnd["_share"]])
                folium.GeoJson(bnd_json, name=t(lang, "choropleth", label=share_label) + suffix, show=False,
                               style_function=lambda f: {"color": "#333", "weight": 1,
                                                         "fillColor": f["properties"]["_fill"], "fillOpacity": 0.65},
                               tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[t(lang, "unit")] + fields[1:],
                                                             sticky=True)).add_to(fmap)
            folium.GeoJson(bnd[["unit", "geometry"]], name=t(lang, "boundaries") + suffix,
                           style_function=lambda _f, w=max(2.5 - 1.0 * k, 1.0): {"color": "#222", "weight": w,
                                                                                  "fill": False},
                           tooltip=folium.GeoJsonTooltip(fields=["unit"], labels=False)).add_to(fmap)

    fac_all = data.facilities
    popup_fields = [c for c in ("name", "capacity", "address", "facility_id", "osm_id", "source", "snap_m")
                    if c in fac_all.columns]
    marker_items = []
    dots = len(fac_all) > compact.DOTS_ABOVE  # metro size: canvas dots from compact columns (maps/compact.py)
    for i, (cat, ccfg) in enumerate(cfg.categories.items()):
        colour, shape = category_style(i)
        sub = fac_all[fac_all["category"] == cat][[*popup_fields, "geometry"]].copy()
        marker_items.append((_svg_marker("circle" if dots else shape, colour, 14), f"{ccfg.label(lang)} ({len(sub)})"))
        if not len(sub):
            continue
        if "snap_m" in sub:
            sub["snap_m"] = sub["snap_m"].astype(float).round(1)
        for col in popup_fields:
            if col != "snap_m":
                sub[col] = sub[col].astype(object).where(sub[col].notna(), "").astype(str)
        sub = _geo_layer(sub, shift)
        if dots:
            compact.DotLayer(sub, popup_fields, [t(lang, f) for f in popup_fields], colour,
                             t(lang, "facilities", label=ccfg.label(lang)), tooltip="name").add_to(fmap)
            continue
        folium.GeoJson(
            sub, name=t(lang, "facilities", label=ccfg.label(lang)),
            marker=folium.Marker(icon=folium.DivIcon(html=_svg_marker(shape, colour), icon_size=(16, 16),
                                                     icon_anchor=(8, 8), class_name="access15-marker")),
            popup=folium.GeoJsonPopup(fields=popup_fields, aliases=[t(lang, f) for f in popup_fields]),
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False) if "name" in popup_fields else None,
        ).add_to(fmap)

    _add_title_and_legend(fmap, data, lang, bm, breaks, ramp, marker_items)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    return inline_assets(fmap)


def walker_labels(data: MapData, lang: str) -> str:
    """Who each circle is measured for, from the coverage table's ``profile`` column: one label when every
    category shares it ("walk 4 km/h, slope"), else "Clinic: elderly 3 km/h, slope · School: ..."; "" when the
    table has no profiles."""
    cov = data.coverage
    if "profile" not in cov.columns:
        return ""
    by_cat = cov.set_index("category")["profile"].astype(str)
    labels = {k: by_cat.get(k, "") for k in data.config.categories}
    if len(set(labels.values())) == 1:
        return next(iter(labels.values()))
    return " · ".join(f"{c.label(lang)}: {labels[k]}" for k, c in data.config.categories.items())


def _walker_rows(data: MapData, lang: str) -> list[str]:
    """The legend's walker section: with ``[output] map_profiles``, a radio button per profile (the walker
    switch, see :func:`_switch_script`) after the run's own walkers; else one line naming who each circle is
    measured for, when a category names a profile or the run walks slope or waits at crossings."""
    esc = html.escape
    cfg = data.config
    own = walker_labels(data, lang)
    variants = map_variants(data)
    if not variants:
        named = any(c.profile for c in cfg.categories.values()) or cfg.network.elevation or cfg.network.crossing_waits
        return [f"<div style='color:#333'>{esc(t(lang, 'walker_line', profiles=own))}</div>"] if named and own else []
    profiles = load_walk_profiles()
    radio = ("<label style='display:block;cursor:pointer'><input type='radio' name='access15-walker' value='{v}'{c} "
             "style='vertical-align:middle;margin:0 5px 0 0'>{text}</label>")
    rows = [f"<div style='font-weight:bold;margin-top:2px'>{esc(t(lang, 'walkers_title'))}</div>",
            radio.format(v="", c=" checked", text=esc(t(lang, "walker_configured") + (f" ({own})" if own else "")))]
    rows += [radio.format(v=esc(v), c="", text=esc(t(lang, "walker_profile", name=word(lang, "walk_profiles", v),
                                                      kmh=profiles[v].kmh)))
             for v in variants]
    return ["<div id='access15-walkers' style='margin-bottom:6px'>" + "".join(rows) + "</div>"]


def _add_title_and_legend(fmap: folium.Map, data: MapData, lang: str, bm: Basemap, breaks: list[float],
                          ramp: list[str], marker_items: list[tuple[str, str]]) -> None:
    cfg = data.config
    esc = html.escape
    cats = " · ".join(f"{c.label(lang)} ({t(lang, 'circle', minutes=c.minutes)})" for c in cfg.categories.values())
    title = (f"<div id='access15-title' style='position:fixed;top:10px;left:56px;z-index:9999;"
             "background:rgba(255,255,255,.94);padding:7px 12px;border:1px solid #888;border-radius:4px;"
             "font:13px/1.45 sans-serif;max-width:calc(100% - 420px);box-shadow:0 1px 4px rgba(0,0,0,.3)'>"
             f"<div style='font-size:16px;font-weight:bold'>{esc(cfg.name)}</div>"
             f"<div style='color:#333'>{esc(cats)}</div>"
             + "".join(f"<div class='access15-headline'><b>{esc(h)}</b></div>" for h in headlines(data, lang))
             + "</div>")
    rows = _walker_rows(data, lang)
    rows.append(f"<div style='font-weight:bold;margin-top:2px'>{esc(t(lang, 'gaps_title'))}</div>")
    if len(ramp) > 1:
        lows = [0.0, *breaks[:-1]]
        rows.append(f"<div style='color:#333'>{esc(t(lang, weight_key(data)))}</div>")
        rows += [f"<div>{_swatch(_css(c, GAP_ALPHA))}{lo:,.3g}–{hi:,.3g}</div>" for c, lo, hi in zip(ramp, lows, breaks)]
    else:
        rows.append(f"<div>{_swatch(_css(ramp[0], GAP_ALPHA))}{esc(t(lang, 'gap_cells'))}</div>")
    rows.append(f"<div style='font-weight:bold;margin-top:6px'>{esc(t(lang, 'bands_title'))}</div>")
    rows += [f"<div>{_swatch(colour)}{esc(label)}</div>" for colour, label in band_legend(cfg.max_minutes, lang)]
    if data.boundaries is not None and len(data.unit_coverage):
        rows.append(f"<div style='font-weight:bold;margin-top:6px'>{esc(t(lang, 'choropleth_title'))}</div>")
        rows += [f"<div>{_swatch(c)}{esc(label)}</div>" for c, label in share_legend()]
    rows.append(f"<div style='font-weight:bold;margin-top:6px'>{esc(t(lang, 'facilities_title'))}</div>")
    rows += [f"<div><span style='display:inline-block;width:20px;vertical-align:middle'>{svg}</span>{esc(label)}</div>"
             for svg, label in marker_items]
    foot = "".join(f"<div style='color:#444;font-size:11px;margin-top:3px'>{esc(s)}</div>"
                   for s in footer_lines(data, lang, bm))
    legend = ("<div id='access15-legend' style='position:fixed;bottom:26px;left:10px;z-index:9999;"
              "background:rgba(255,255,255,.94);padding:8px 11px;border:1px solid #888;border-radius:4px;"
              "font:12.5px/1.5 sans-serif;max-width:330px;max-height:calc(100% - 150px);overflow:auto;"
              "box-shadow:0 1px 4px rgba(0,0,0,.3)'>" + "".join(rows) + foot + "</div>")
    fmap.add_child(macro("access15_title", title))
    fmap.add_child(macro("access15_legend", legend))


def render_map(result: MapData | AnalysisResult, lang: str | None = None, basemap: str | None = None, attribution: str | None = None,
               basemap_crs: str | None = None) -> str:
    """The HTML page of :func:`build_map`, checked to load nothing from another host (tiles aside)."""
    page = build_map(result, lang, basemap, attribution, basemap_crs).get_root().render()
    return assert_offline(page)


def write_map(result: MapData | AnalysisResult, path: str | Path, lang: str | None = None, basemap: str | None = None,
              attribution: str | None = None, basemap_crs: str | None = None) -> Path:
    """Render :func:`build_map` to a self-contained HTML file at ``path`` (UTF-8)."""
    path = Path(path)
    page = render_map(result, lang, basemap, attribution, basemap_crs)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)  # never a half-written map
    finally:
        tmp.unlink(missing_ok=True)
    return path
