"""Administrative units in the analysis: which unit each demand point belongs to, per level, and per-unit tables.

Every unit has a ``unit`` name, a ``level`` (e.g. "district", "street", or "admin_level 8") and an optional
``class`` ("urban", "rural", "remote", ...) (see :mod:`access15.io.boundaries` for reading them). Each demand
point is assigned to at most one unit per level; points in two units of a level (overlapping boundaries:
residents counted twice) or in none (gaps: residents not counted) are reported per level.

Complexity: one STRtree bulk ``within`` query per analysis, O(n log U) for n points and U units.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import CategoryConfig
from .coverage import unit_coverage_table
from .errors import AccessWarning


@dataclass
class UnitAssignment:
    """Which unit each demand point belongs to, per level.

    ``unit``: DataFrame (n points x levels) of unit names (None outside every unit of the level);
    ``cls``: each point's unit class (None when its units carry none); ``check``: per level, the residents
    in overlapping units (counted twice) and in gaps (counted in no unit).
    """

    unit: pd.DataFrame
    cls: np.ndarray
    check: pd.DataFrame



def assign_units(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, weight: np.ndarray,
                 warn: bool = True, what: str = "residents") -> UnitAssignment:
    """Assign demand points (same CRS as ``units``) to units per level and check overlaps and gaps.

    ``what`` names the weights in warnings ("residents", or "grid cells" without population).

    A point in several units of one level goes to the first in file order, and its residents are reported
    as counted twice; a point in no unit of a level is a gap at that level.
    """
    n = len(points)
    w = np.asarray(weight, dtype=np.float64)
    pi, ui = shapely.STRtree(units.geometry.values).query(points.geometry.values, predicate="within")
    levels = list(dict.fromkeys(units["level"].tolist()))
    lvl_of = units["level"].to_numpy()
    names = units["unit"].to_numpy()
    cls_of = units["class"].to_numpy(dtype=object)
    out = pd.DataFrame(index=points.index)
    cls = np.full(n, None, dtype=object)
    rows = []
    for lvl in levels:  # a handful of levels, each vectorised over points
        m = lvl_of[ui] == lvl
        p, u = pi[m], ui[m]
        order = np.lexsort((u, p))
        p, u = p[order], u[order]
        count = np.bincount(p, minlength=n)
        first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, bool)
        col = np.full(n, None, dtype=object)
        col[p[first]] = names[u[first]]
        out[lvl] = col
        has = pd.notna(cls_of[u[first]])
        cls[p[first][has]] = cls_of[u[first][has]]
        lw = units.loc[units["level"] == lvl]
        rows.append({"level": lvl, "units": int(len(lw)), "residents": float(w[count > 0].sum()),
                     "residents_in_overlaps": float(w[count > 1].sum()),
                     "overlap_points": int((count > 1).sum()),
                     "residents_in_gaps": float(w[count == 0].sum()),
                     "gap_points": int((count == 0).sum())})
    check = pd.DataFrame(rows)
    for r in (check.itertuples() if warn else ()):
        if r.overlap_points:
            warnings.warn(f"boundaries at level '{r.level}' overlap: {r.residents_in_overlaps:,.0f} {what} "
                          f"({r.overlap_points} points) lie in two or more units and would be counted twice; each "
                          "is counted in the first unit only", AccessWarning, stacklevel=2)
        if r.gap_points:
            warnings.warn(f"boundaries at level '{r.level}' leave gaps: {r.residents_in_gaps:,.0f} {what} "
                          f"({r.gap_points} points) lie in no unit of this level", AccessWarning, stacklevel=2)
    return UnitAssignment(out, cls, check)



def class_thresholds(categories: dict[str, CategoryConfig], cls: np.ndarray) -> dict[str, np.ndarray]:
    """Per category with per-class circles, each point's circle in minutes (its class's, else the default)."""
    s = pd.Series(cls, dtype=object)
    present = set(s.dropna())
    out = {}
    for name, cat in categories.items():
        unknown = sorted((set(cat.minutes_by_class) | set(cat.profile_by_class)) - present)
        if unknown:
            warnings.warn(f"[categories.{name}] names unit classes {', '.join(unknown)} that no demand point has "
                          f"(classes present: {', '.join(sorted(present)) or 'none; set class_column in [boundaries]'})",
                          AccessWarning, stacklevel=2)
        if cat.minutes_by_class:
            out[name] = s.map(cat.minutes_by_class).astype(float).fillna(cat.minutes).to_numpy()
    return out



def level_column(level: str) -> str:
    """The demand column holding each point's unit at ``level`` (e.g. ``unit_street``)."""
    return "unit_" + re.sub(r"\W+", "_", str(level)).strip("_")



def facility_counts(fac_units: pd.DataFrame, categories: pd.Series, level: str) -> dict[str, dict[str, int]]:
    """{unit: {category: number of facilities}} at ``level`` (``fac_units``: facility x level unit names)."""
    df = pd.DataFrame({"unit": fac_units[level].to_numpy(), "category": categories.to_numpy()}).dropna()
    sizes = df.groupby(["unit", "category"]).size()
    out: dict[str, dict[str, int]] = {}
    for (u, c), k in sizes.items():  # one entry per (unit, category) pair, not per facility
        out.setdefault(u, {})[c] = int(k)
    return out



def unit_tables(times: pd.DataFrame, weight: np.ndarray, assign: UnitAssignment, categories: dict[str, CategoryConfig],
                category_weights: dict[str, np.ndarray], thresholds: dict[str, np.ndarray],
                fac_units: pd.DataFrame | None = None, fac_category: pd.Series | None = None) -> pd.DataFrame:
    """The per-unit coverage table of every level (column ``level``), each level sorted worst first;
    ``facilities`` counts the facilities inside each unit (when ``fac_units`` is given)."""
    frames = []
    for lvl in assign.unit.columns:
        counts = facility_counts(fac_units, fac_category, lvl) if fac_units is not None else None
        t = unit_coverage_table(times, weight, assign.unit[lvl].to_numpy(), categories, counts,
                                category_weights=category_weights, thresholds=thresholds)
        if len(t):
            t.insert(0, "level", lvl)
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
