"""Per-capita standards of one analysis: capacity gaps, 2SFCA/E2SFCA, supply ratios and plan targets.

Wires :mod:`access15.capacity`, :mod:`access15.catchment` and :mod:`access15.targets` together for
:func:`access15.pipeline.analyze`. Catchment ratios need residents, so they are computed only when a
population is given; the circle of each category is its default ``minutes`` at the analysis speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from .capacity import missing_capacity, supply_table
from .catchment import fca, travel_matrix
from .network import WalkNetwork
from .snap import Snapped
from .targets import evaluate_targets


@dataclass
class Standards:
    """``capacity``: facilities missing a capacity; ``supply``: supply ratios overall and per unit;
    ``targets``: each target's figure and met / not met."""

    capacity: pd.DataFrame
    supply: pd.DataFrame
    targets: pd.DataFrame


def compute_standards(cfg, net: WalkNetwork, fac: gpd.GeoDataFrame, fsnap: Snapped, dsnap: Snapped,
                      demand: gpd.GeoDataFrame, fac_units: pd.DataFrame | None, bounds: gpd.GeoDataFrame | None,
                      unit_columns: dict[str, str], coverage: pd.DataFrame, unit_coverage: pd.DataFrame,
                      weighted: bool, estimated: bool) -> Standards:
    """Compute the per-capita figures; adds ``sfca2_<cat>`` / ``e2sfca_<cat>`` (supply per resident) to
    ``demand`` when ``weighted``."""
    cats = list(cfg.categories)
    from .targets import SCALE

    needed = {t.category for t in cfg.targets.values() if t.measure in SCALE}
    capacity = missing_capacity(fac, cats, needed)
    fca_cols: dict[str, tuple[str, str]] = {}
    supply = pd.DataFrame()
    if weighted:
        speed = cfg.speed_m_per_min
        cap = pd.to_numeric(fac["capacity"], errors="coerce").to_numpy(dtype=np.float64)
        for cat, k in cfg.categories.items():
            sel = np.flatnonzero((fac["category"] == cat).to_numpy())
            s = cap[sel] if np.isfinite(cap[sel]).any() else np.ones(len(sel))  # no capacity: count facilities
            m = travel_matrix(net, fsnap.take(sel), dsnap, k.minutes * speed)
            pop = demand[k.population or "weight"].to_numpy(dtype=np.float64)
            minutes = m.dist_m / speed
            a2 = fca(m, minutes, s, pop, k.minutes)
            a3 = fca(m, minutes, s, pop, k.minutes, enhanced=True)
            a2[~dsnap.ok], a3[~dsnap.ok] = np.nan, np.nan
            demand[f"sfca2_{cat}"], demand[f"e2sfca_{cat}"] = a2, a3
            fca_cols[cat] = (f"sfca2_{cat}", f"e2sfca_{cat}")
        supply = supply_table(fac, fac_units, demand, unit_columns, cfg.categories, fca_cols)
        supply["population_estimated"] = estimated
    fac_by_level: dict[str, pd.DataFrame] = {}
    if fac_units is not None and bounds is not None:
        for lvl in fac_units.columns:
            df = pd.DataFrame({"unit": fac_units[lvl].to_numpy(), "category": fac["category"].to_numpy()}).dropna()
            df.attrs["units"] = list(dict.fromkeys(bounds.loc[bounds["level"] == lvl, "unit"]))
            fac_by_level[lvl] = df
    targets = pd.DataFrame()
    if cfg.targets:
        targets = evaluate_targets(cfg.targets, cfg.categories, supply, coverage, unit_coverage, fac_by_level,
                                   demand, unit_columns, estimated=estimated, weighted=weighted)
    return Standards(capacity, supply, targets)
