"""What the HTML and the print maps share: class breaks of the legends, the boundary levels drawn, and the
sources line.

Both renderers draw the same classes (coverage share by unit, uncovered weight per cell) so a briefing's
HTML map and its printed pages agree; only the colours differ (colour on screen, greys in print).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..text import t
from .mapdata import MapData

#: Upper limits of the coverage-share classes of a unit (0-1); five classes.
SHARE_BREAKS = [0.2, 0.4, 0.6, 0.8]
#: Number of classes of uncovered weight per cell.
WEIGHT_CLASSES = 5



def weight_key(data: MapData) -> str:
    """The label key of the gap ramp: residents when the demand is population, else generic demand."""
    label = data.demand_label.lower()
    return "gap_residents" if ("resident" in label or "population" in label) else "gap_weight"



def weight_breaks(weights: np.ndarray, n: int = WEIGHT_CLASSES) -> list[float]:
    """Upper class limits for uncovered weight per cell: quantiles of the positive weights, rounded to
    two significant digits, strictly increasing, the last at the maximum."""
    w = weights[np.isfinite(weights) & (weights > 0)]
    if not len(w):
        return [1.0]
    top = float(w.max())
    nice = {float(f"{q:.2g}") for q in np.quantile(w, np.linspace(0, 1, n + 1)[1:-1])}
    return sorted(b for b in nice if 0 < b < top) + [top]



def sources_line(data: MapData, lang: str) -> str:
    """"Data: <sources> · OSM data of <date> · analysed <date>"."""
    src = "; ".join(data.sources)
    if data.data_date:
        src += " · " + t(lang, "data_date", date=data.data_date)
    if data.created:
        src += " · " + t(lang, "analysed", date=data.created)
    return t(lang, "sources", sources=src)



def unit_levels(data: MapData) -> list[str | None]:
    """The boundary levels present (``[None]`` when the units have no level column)."""
    if data.boundaries is None or "level" not in data.boundaries.columns:
        return [None]
    return list(dict.fromkeys(data.boundaries["level"].tolist()))



def of_level(df: pd.DataFrame, level: str | None) -> pd.DataFrame:
    """The rows of ``df`` at boundary ``level`` (all rows when ``level`` is None or ``df`` has no level)."""
    return df if level is None or "level" not in df.columns else df[df["level"] == level]
