"""Compact layers for metro-size HTML maps: facilities as canvas dots and gap outlines as delta-coded rings.

folium writes a layer as GeoJSON: about 300 bytes per facility point (feature, bbox, id, every popup field)
and 22 bytes per outline vertex, and Leaflet makes a DOM element per marker. A 5-million-edge run has 60,000
facilities and outlines of a million vertices: tens of megabytes and seconds of layout before the first paint.
Above :data:`DOTS_ABOVE` facilities and :data:`OUTLINE_VERTICES_ABOVE` outline vertices, these layers are
written instead as

- coordinates rounded to 1e-5 degree (about 1 m, the precision of every other layer) and stored as integer
  differences from the previous point: ``[lat0, lon0, dlat1, dlon1, ...]`` (2-8 characters per number);
- popup fields as columns, a column with few distinct values as a dictionary (``{"k": values, "c": codes}``);
- facilities drawn as circle markers on a canvas of their own (the category colour, a black rim), a popup
  built on click and a name tooltip on hover from the columns; outlines as one SVG polygon each in the gap
  colour (kept off the dots' canvas, so redrawing 60,000 dots does not repaint a million-vertex outline).

The decoding is :data:`SCRIPT` (a few lines of JavaScript inlined once per page). Smaller maps keep folium's
GeoJSON layers with shaped SVG markers; both show the same points, fields and rings (tests/test_maps.py).
"""

from __future__ import annotations

import json

import branca
import folium
import numpy as np
import pandas as pd
import shapely

#: More facilities than this in one map: every facility layer is drawn as canvas dots from compact columns.
DOTS_ABOVE = 3_000
#: More vertices than this in one gap outline: it is written as delta-coded rings.
OUTLINE_VERTICES_ABOVE = 20_000
#: Coordinates are stored in units of this many degrees (1e-5 degree is about 1.1 m of latitude).
UNIT_DEG = 1e-5

#: Decoding and drawing (inlined once per page; function declarations, so the layers may come first; the
#: renderers are made on first use).
SCRIPT = """
function access15Decode(d) {
  var out = new Array(d.length / 2), a = 0, b = 0;
  for (var i = 0; i < d.length; i += 2) { a += d[i]; b += d[i + 1]; out[i / 2] = [a * 1e-5, b * 1e-5]; }
  return out;
}
function access15Value(col, i) { return col.k ? col.k[col.c[i]] : col[i]; }
function access15Renderer(kind) {
  var made = access15Renderer.made || (access15Renderer.made = {});
  return made[kind] || (made[kind] = kind === 'svg' ? L.svg() : L.canvas());
}
function access15Dots(data, style) {
  var group = L.featureGroup(), pts = access15Decode(data.xy);
  style = Object.assign({renderer: access15Renderer('dots')}, style);
  for (var i = 0; i < pts.length; i++) { group.addLayer(L.circleMarker(pts[i], Object.assign({i: i}, style))); }
  group.on('click', function (e) {
    var t = document.createElement('table'), i = e.layer.options.i;
    data.fields.forEach(function (f, j) {
      var v = access15Value(data.columns[j], i);
      if (v === '' || v === null) { return; }
      var r = t.insertRow(), h = document.createElement('th');
      h.textContent = data.aliases[j]; r.appendChild(h); r.insertCell().textContent = v;
    });
    e.layer.bindPopup(t, {className: 'foliumpopup'}).openPopup();
  });
  if (data.tooltip >= 0) {
    group.on('mouseover', function (e) {
      if (!e.layer.getTooltip()) { e.layer.bindTooltip(String(access15Value(data.columns[data.tooltip], e.layer.options.i))); }
      e.layer.openTooltip();
    });
  }
  return group;
}
function access15Rings(polygons, style) {
  return L.polygon(polygons.map(function (p) { return p.map(access15Decode); }),
                   Object.assign({renderer: access15Renderer('svg')}, style));
}
"""


def delta_code(latlon: np.ndarray) -> list[int]:
    """(N, 2) latitude/longitude degrees -> ``[lat0, lon0, dlat1, dlon1, ...]`` in units of :data:`UNIT_DEG`.
    O(N)."""
    q = np.round(np.asarray(latlon, dtype=float).reshape(-1, 2) / UNIT_DEG).astype(np.int64)
    return np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel().tolist()


def rings(geom: shapely.Geometry) -> list[list[list[int]]]:
    """A (multi)polygon in EPSG:4326 as ``[[ring, ...], ...]`` per polygon, each ring delta-coded like
    :func:`delta_code` from its own first vertex (closing vertex kept, as in GeoJSON). O(vertices)."""
    polygons = shapely.get_parts(geom)
    if not len(polygons):
        return []
    _, coords, (ring_off, poly_off) = shapely.to_ragged_array(polygons)
    q = np.round(coords[:, ::-1] / UNIT_DEG).astype(np.int64)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int64))
    d[ring_off[:-1]] = q[ring_off[:-1]]
    flat = d.ravel()
    coded = [flat[2 * a:2 * b].tolist() for a, b in zip(ring_off[:-1], ring_off[1:])]
    return [coded[a:b] for a, b in zip(poly_off[:-1], poly_off[1:])]


def _column(values: pd.Series) -> list | dict:
    """A popup column as a list, or as ``{"k": distinct values, "c": codes}`` when that is shorter."""
    if values.dtype.kind == "f":
        values = values.astype(object).where(values.notna(), "")
    codes, keys = pd.factorize(values, sort=False)
    if len(keys) * 4 < len(values):
        return {"k": keys.tolist(), "c": codes.tolist()}
    return values.tolist()


class DotLayer(folium.map.Layer):
    """Points drawn as circle markers on the map's canvas, with a popup of ``fields`` (labelled ``aliases``)
    on click and a tooltip of the ``tooltip`` field on hover; ``points`` in EPSG:4326 (as drawn)."""

    _template = branca.element.Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = access15Dots({{ this.payload }}, {{ this.style }});"
        "{% endmacro %}")

    def __init__(self, points: pd.DataFrame, fields: list[str], aliases: list[str], colour: str,
                 name: str, tooltip: str | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DotLayer"
        xy = shapely.get_coordinates(points.geometry.values)
        self.payload = json.dumps({
            "xy": delta_code(xy[:, ::-1]), "fields": fields, "aliases": aliases,
            "columns": [_column(points[f]) for f in fields],
            "tooltip": fields.index(tooltip) if tooltip in fields else -1,
        }, ensure_ascii=False, separators=(",", ":"))
        self.style = json.dumps({"radius": 5, "color": "#111", "weight": 1, "fillColor": colour, "fillOpacity": 0.95})


class RingLayer(folium.map.Layer):
    """A (multi)polygon's rings as one SVG polygon, delta-coded; ``geom`` in EPSG:4326 (as drawn)."""

    _template = branca.element.Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = access15Rings({{ this.payload }}, {{ this.style }});"
        "{% endmacro %}")

    def __init__(self, geom: shapely.Geometry, style: dict, name: str) -> None:
        super().__init__(name=name, overlay=True, control=False, show=True)
        self._name = "RingLayer"
        self.payload = json.dumps(rings(geom), separators=(",", ":"))
        self.style = json.dumps(style)
