"""Render the maps of a finished analysis from its GeoPackage, without recomputing (``access15 map``).

Complexity: that of the renderers (O(cells + street vertices)); nothing is routed again and no input
file other than the GeoPackage is read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .config import check_basemap
from .errors import InputError
from .store import find_gpkg, load_result


def render_maps(source: str | Path, out: str | Path | None = None, lang: str | None = None,
                basemap: str | None = None, attribution: str | None = None, basemap_crs: str | None = None,
                static: bool = False, html: bool = True) -> dict[str, Path]:
    """Write the HTML map (and with ``static`` the PNG/PDF maps) of the analysis stored at ``source``.

    Parameters
    ----------
    source : ``access15.gpkg`` written by ``access15 run``, or the output folder holding it.
    out : output folder (default: the GeoPackage's folder).
    lang, basemap, attribution, basemap_crs : override the stored ``[output]`` settings.
    static : also write ``gap_<category>.png`` per category and the combined circle, and ``gap_maps.pdf``.

    Returns
    -------
    ``{"html": path, <category>: png path, ..., "pdf": path}``.
    """
    gpkg = find_gpkg(source)
    data = load_result(gpkg)
    settings = data.config.output
    if lang is not None and lang not in ("en", "zh"):
        raise InputError("--lang", f"unknown language '{lang}'", "use en or zh")
    chosen = dataclasses.replace(
        settings, lang=lang or settings.lang, basemap=settings.basemap if basemap is None else basemap,
        basemap_attribution=settings.basemap_attribution if attribution is None else attribution,
        basemap_crs=settings.basemap_crs if basemap_crs is None else basemap_crs)
    check_basemap(chosen, "--basemap")
    data.config = dataclasses.replace(data.config, output=chosen)
    out_dir = Path(out) if out is not None else gpkg.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if html:
        from .html_map import write_map

        name = "map.html" if chosen.lang == settings.lang else f"map_{chosen.lang}.html"
        written["html"] = write_map(data, out_dir / name)
    if static:
        from .static_map import write_static_maps

        written.update(write_static_maps(data, out_dir))
    return written


__all__ = ["render_maps"]
