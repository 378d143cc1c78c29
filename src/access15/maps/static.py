"""Print-ready gap maps (PNG and a multi-page PDF) with matplotlib.

One map per category plus the combined circle: the gap cells shaded by uncovered weight in a grey ramp
and hatched, the unit choropleth of the category's coverage share (light blues that print as light greys,
each unit labelled with its share so the figure reads in black-and-white), streets, facilities as black
symbols of distinct shape, a scale bar (matplotlib-scalebar, in the analysis' metric CRS), a north arrow,
a legend, a title with the coverage headline and an attribution line. Renders a
:class:`~access15.mapdata.MapData` (or a live AnalysisResult), like the HTML map.
Complexity: O(cells + street segments) per map.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib_scalebar.scalebar import ScaleBar  # noqa: E402

from ..coverage import COMBINED  # noqa: E402
from ..errors import AccessWarning  # noqa: E402
from ..result import AnalysisResult  # noqa: E402
from ..text import demand_text, profile_name, t  # noqa: E402
from .mapdata import MapData, as_map_data  # noqa: E402
from .style import SHARE_BREAKS, of_level, sources_line, unit_levels, weight_breaks, weight_key  # noqa: E402

#: Uncovered weight per cell, light to dark grey (prints as is).
GREY_RAMP = ["#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252"]
#: Unit coverage share, low to high: light blues that print as distinguishable light greys.
SHARE_RAMP = ["#9ecae1", "#c6dbef", "#deebf7", "#eff5fb", "#ffffff"]
#: Facility symbols per category (matplotlib markers), in config order.
MARKERS = ["o", "s", "^", "D", "p", "*", "h", "P"]
#: Fonts tried in order; the CJK fallbacks draw Chinese labels where installed.
FONTS = ["DejaVu Sans", "Droid Sans Fallback", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC"]
A4_LANDSCAPE = (11.69, 8.27)
#: The most units labelled with their share on a print map.
MAX_PRINT_UNITS = 40


def cjk_font() -> str | None:
    """The first installed font of :data:`FONTS` that draws Chinese, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in FONTS[1:] if f in names), None)


def print_level(data: MapData) -> str | None:
    """The boundary level drawn on print maps: the one with most units while still labelable (<= 40),
    else the one with fewest; None when the units have no level."""
    levels = unit_levels(data)
    if levels == [None]:
        return None
    counts = data.boundaries["level"].value_counts()
    fit = [lv for lv in levels if counts[lv] <= MAX_PRINT_UNITS]
    return max(fit, key=lambda lv: counts[lv]) if fit else min(levels, key=lambda lv: counts[lv])


def _cell_image(data: MapData, values: np.ndarray) -> tuple[np.ndarray, list[float]]:
    g = data.grid
    arr = g.raster(data.demand["ix"].to_numpy(), data.demand["iy"].to_numpy(), values, dtype=np.float64)
    return arr, [g.x0, g.x0 + g.nx * g.cell, g.y0, g.y0 + g.ny * g.cell]


def _north_arrow(ax, label: str) -> None:
    """An arrow pointing up (grid north of the metric CRS, within a degree of true north in a UTM zone)."""
    ax.annotate("", xy=(0.955, 0.93), xytext=(0.955, 0.84), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 4, "headwidth": 13, "headlength": 12})
    ax.text(0.955, 0.955, label, transform=ax.transAxes, ha="center", va="bottom", fontsize=13, fontweight="bold")


def static_figure(result: MapData | AnalysisResult, category: str = COMBINED, lang: str | None = None) -> plt.Figure:
    """The print map of ``category`` (a category key or ``"combined"``) as a matplotlib Figure (A4
    landscape, axes in the analysis' metric CRS)."""
    data = as_map_data(result)
    cfg = data.config
    lang = lang or cfg.output.lang
    if lang == "zh" and cjk_font() is None:
        warnings.warn("no Chinese font is installed, so Chinese labels in the PNG/PDF maps show as boxes: install "
                      "one (Debian: apt-get install fonts-droid-fallback or fonts-noto-cjk)", AccessWarning,
                      stacklevel=2)
    families = [FONTS[0]] + ([cjk_font()] if cjk_font() else [])
    with _quiet_fonts(), plt.rc_context({"font.family": families}):  # glyphs missing in one come from the next
        return _draw(data, category, lang)


@contextmanager
def _quiet_fonts():
    """Silence matplotlib's font log ("no bold face in the CJK font, using regular" is expected)."""
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _draw(data: MapData, category: str, lang: str) -> plt.Figure:
    cfg = data.config
    fig, ax = plt.subplots(figsize=A4_LANDSCAPE)
    fig.subplots_adjust(left=0.02, right=0.74, top=0.87, bottom=0.08)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    handles: list = []

    # unit choropleth of this category's share, labelled with the share
    bnd = None
    if data.boundaries is not None and len(data.boundaries):
        level = print_level(data)
        bnd = of_level(data.boundaries, level).to_crs(data.crs)
        uc = of_level(data.unit_coverage, level)
        share = (uc[uc["category"] == category].set_index("unit")["share_covered"] if len(uc) else None)
        if share is not None and len(share):
            vals = bnd["unit"].map(share).to_numpy(dtype=float)
            cls = np.searchsorted(SHARE_BREAKS, np.nan_to_num(vals, nan=0.0), side="right")
            fills = [SHARE_RAMP[c] if np.isfinite(v) else "none" for c, v in zip(cls, vals)]
            bnd.plot(ax=ax, color=fills, edgecolor="none", zorder=1)
            lims = [0.0, *SHARE_BREAKS, 1.0]
            handles += [Patch(facecolor=c, edgecolor="#444", label=f"{t(lang, 'choropleth_title')} {a:.0%}–{b:.0%}")
                        for c, a, b in zip(SHARE_RAMP, lims[:-1], lims[1:])]
            bnd = bnd.assign(_label=[f"{u}\n{v:.0%}" if np.isfinite(v) else str(u) for u, v in zip(bnd["unit"], vals)])

    # streets
    ax.add_collection(LineCollection(_street_segments(data.streets), colors="#9a9a9a", linewidths=0.35, zorder=2))
    handles.append(Line2D([], [], color="#9a9a9a", lw=1, label=t(lang, "streets_legend")))

    # gap cells: grey ramp by uncovered weight, hatched outline
    covered = data.demand[f"covered_{category}"].to_numpy(dtype=bool)
    weights = data.demand["weight"].to_numpy(dtype=float)
    if category == COMBINED:
        gap_label = t(lang, "static_gap_combined")
    else:
        gap_label = t(lang, "static_gap", minutes=cfg.categories[category].minutes)
    if data.grid is not None:
        unc = np.where(~covered & (weights > 0), weights, np.nan)
        arr, extent = _cell_image(data, unc)
        if data.weighted:
            breaks = weight_breaks(weights)
            ramp = GREY_RAMP[-len(breaks):]
            cls = np.searchsorted(breaks, arr, side="left").clip(0, len(breaks) - 1).astype(float)
            cls[np.isnan(arr)] = np.nan
            ax.imshow(cls, extent=extent, cmap=ListedColormap(ramp), vmin=-0.5, vmax=len(ramp) - 0.5,
                      interpolation="nearest", zorder=3, alpha=0.9)
            what = t(lang, weight_key(data))
            handles.append(Patch(facecolor="none", edgecolor="none", label=what[0].upper() + what[1:]))
            handles += [Patch(facecolor=c, edgecolor="#444", label=f"  {lo:,.3g}–{hi:,.3g}")
                        for c, lo, hi in zip(ramp, [0.0, *breaks[:-1]], breaks)]
        else:
            img = np.where(np.isnan(arr), np.nan, 0.0)
            ax.imshow(img, extent=extent, cmap=ListedColormap([GREY_RAMP[1]]), interpolation="nearest", zorder=3)
        gaps = data.gaps(category)
        merged = data.grid.outline(gaps["ix"].to_numpy(), gaps["iy"].to_numpy())
        if not merged.is_empty:
            gpd.GeoSeries([merged], crs=data.crs).plot(ax=ax, facecolor="none", edgecolor="black", hatch="////",
                                                       linewidth=0.8, zorder=4)
        handles.append(Patch(facecolor=GREY_RAMP[1], edgecolor="black", hatch="////", label=gap_label))
    else:
        gaps = data.gaps(category)
        xy = shapely.get_coordinates(gaps.geometry.values)
        ax.scatter(xy[:, 0], xy[:, 1], s=6, marker="x", color="black", linewidths=0.6, zorder=4)
        handles.append(Line2D([], [], marker="x", color="black", lw=0, label=gap_label))

    if bnd is not None:
        bnd.boundary.plot(ax=ax, color="black", linewidth=1.4, zorder=5)
        if "_label" in bnd:
            pts = bnd.geometry.representative_point()
            for (x, y), lab in zip(shapely.get_coordinates(pts.values), bnd["_label"]):
                ax.text(x, y, lab, ha="center", va="center", fontsize=9, zorder=7,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "black", "lw": 0.5, "alpha": 0.85})

    # facilities
    fac = data.facilities.to_crs(data.crs)
    cats = [k for k, c in cfg.categories.items() if c.required] if category == COMBINED else [category]
    for i, (k, c) in enumerate(cfg.categories.items()):
        if k not in cats:
            continue
        sub = fac[fac["category"] == k]
        xy = shapely.get_coordinates(sub.geometry.values)
        m = MARKERS[i % len(MARKERS)]
        ax.scatter(xy[:, 0], xy[:, 1], s=26, marker=m, facecolor="white", edgecolor="black", linewidths=1.0, zorder=6)
        handles.append(Line2D([], [], marker=m, color="black", markerfacecolor="white", lw=0,
                              label=t(lang, "facilities", label=c.label(lang)) + f" ({len(sub)})"))

    xy = shapely.get_coordinates(data.streets)
    if len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.02 * max(hi - lo)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.add_artist(ScaleBar(1.0, "m", location="lower right", box_alpha=0.85, font_properties={"size": 10}))
    _north_arrow(ax, t(lang, "north"))

    cov = data.coverage.set_index("category")["share_covered"]
    if category == COMBINED:
        label = t(lang, "combined")
        head = t(lang, "headline_combined", share=float(cov.get(COMBINED, np.nan)))
    else:
        c = cfg.categories[category]
        label = c.label(lang)
        head = t(lang, "headline", label=label, share=float(cov.get(category, np.nan)), minutes=c.minutes)
    head += " · " + t(lang, "speed", profile=profile_name(lang, cfg.speed_profile), kmh=cfg.kmh)
    fig.text(0.02, 0.955, t(lang, "static_title", name=cfg.name, label=label), fontsize=16, fontweight="bold",
             va="center")
    fig.text(0.02, 0.905, head, fontsize=12.5, va="center")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.015, 1.0), frameon=True, fontsize=9.5,
              borderaxespad=0, title=None)
    scenario = (data.provenance or {}).get("scenario")  # a what-if (access15 serve): said on every page
    fig.text(0.02, 0.045, demand_text(data.demand_label, lang) + (f" · {scenario}" if scenario else ""),
             fontsize=8.5, color="#222")
    fig.text(0.02, 0.02, f"{sources_line(data, lang)} · © OpenStreetMap contributors (ODbL) · access15 {data.version}",
             fontsize=8.5, color="#222")
    ax.set_xlabel("")
    ax.set_ylabel("")
    return fig


def _street_segments(streets: np.ndarray) -> list[np.ndarray]:
    """The street lines as arrays of vertices for a LineCollection (one shapely call, no per-vertex loop)."""
    coords, idx = shapely.get_coordinates(np.asarray(streets), return_index=True)
    if not len(coords):
        return []
    cuts = np.flatnonzero(np.diff(idx)) + 1
    return np.split(coords, cuts)


def static_names(data: MapData) -> list[str]:
    """The maps drawn, in order: each category, then the combined circle (when any category is required)."""
    names = list(data.config.categories)
    if any(c.required for c in data.config.categories.values()):
        names.append(COMBINED)
    return names


def write_static_maps(result: MapData | AnalysisResult, out_dir: str | Path, lang: str | None = None, dpi: int = 150,
                      formats: tuple[str, ...] = ("png", "pdf")) -> dict[str, Path]:
    """Write ``gap_<category>.png`` per category and the combined circle, and ``gap_maps.pdf`` with one
    page per map (A4 landscape, vector). Each file is written under a temporary name and moved into place
    when complete. Returns ``{name: path}`` (PDF under ``"pdf"``)."""
    data = as_map_data(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    pdf_tmp = None
    pdf = None
    try:
        if "pdf" in formats:
            fd, pdf_tmp = tempfile.mkstemp(suffix=".pdf", dir=out, prefix=".access15-")
            os.close(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(pdf_tmp, 0o666 & ~umask)  # mkstemp makes it private; the PDF is an ordinary output
            pdf = PdfPages(pdf_tmp, metadata={"Title": data.config.name, "Creator": f"access15 {data.version}"})
        for name in static_names(data):
            fig = static_figure(data, name, lang)
            tmp = out / f".access15-gap_{name}.png"
            try:
                with warnings.catch_warnings(), _quiet_fonts():
                    warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # warned once above
                    if "png" in formats:
                        fig.savefig(tmp, dpi=dpi, format="png")
                        os.replace(tmp, out / f"gap_{name}.png")
                        written[name] = out / f"gap_{name}.png"
                    if pdf is not None:
                        pdf.savefig(fig)
            finally:
                plt.close(fig)
                tmp.unlink(missing_ok=True)
        if pdf is not None:
            pdf.close()
            pdf = None
            os.replace(pdf_tmp, out / "gap_maps.pdf")
            written["pdf"] = out / "gap_maps.pdf"
            pdf_tmp = None
    finally:
        if pdf is not None:
            pdf.close()
        if pdf_tmp and Path(pdf_tmp).exists():
            Path(pdf_tmp).unlink()
    return written
