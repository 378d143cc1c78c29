"""Per-capita standards: capacity against the residents it serves, catchment ratios, and plan targets.

**Capacity.** A facility's ``capacity`` is its places, beds or square metres (one number per facility, in the
unit the category's targets use). A missing capacity is never read as zero: facilities without one are listed
by id, supply sums say how many were left out, and a target that their absence could decide is reported as
unknown. A category with no capacity at all is measured in facilities (``basis = "facilities"``).

**Supply ratios** per (scope, unit, category): residents of the category's population column, facilities (and
how many lack a capacity), summed capacity, capacity per 1,000 and per resident, and the population-weighted
mean 2SFCA / E2SFCA accessibility (per 1,000 residents) from :mod:`access15.catchment`. Catchment ratios need
residents, so they are computed only when a population is given; the circle of each category is its default
``minutes`` at the analysis speed.

**Targets** (``[targets]``, see :class:`access15.config.TargetConfig`; the shipped preset ``china_plans`` holds
the figures of the Ningbo, Jinhua, Zhoushan-Dinghai and Xianning plans) are marked met / not met (met when
the figure >= the target value):

* ``per_1000`` / ``per_10000`` / ``per_resident``: capacity (or facilities where no capacity is known) per
  1,000 / 10,000 / one resident of the target's population (``"total"``, ``"category"`` = the category's own
  population column, or a column name), overall and per unit of ``level`` (every level if unset);
* ``coverage``: share of (the category's) residents inside its circle, overall and per unit;
* ``min_per_unit``: every unit of ``level`` has at least ``value`` facilities of the category;
* ``unit_share``: the share of units of ``level`` with at least one facility.

When missing capacities could change the answer the status is "unknown" and says how many are missing.

Complexity: O(F + n) group sums per level (pandas), plus the catchment computation; targets O(targets x units).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from .catchment import fca, travel_matrix
from .config import CategoryConfig, Config, TargetConfig
from .errors import AccessWarning
from .network import WalkNetwork
from .snap import Snapped
from .units import level_column

OVERALL = "(all)"
SCALE = {"per_1000": 1000.0, "per_10000": 10000.0, "per_resident": 1.0}


# --- capacity and supply ratios --------------------------------------------------------------------------

def missing_capacity(fac: pd.DataFrame, categories: list[str], needed: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """Facilities whose capacity is missing, in categories where some facilities have one or that a
    per-capita target needs (``needed``); each such category is warned with the ids.
    Columns: ``facility_id``, ``category``, ``name``, ``source``."""
    cap = pd.to_numeric(fac["capacity"], errors="coerce")
    has = set(fac.loc[cap.notna(), "category"].unique())
    miss = fac[cap.isna() & fac["category"].isin([c for c in categories if c in has or c in needed])]
    for cat, grp in miss.groupby("category"):
        total = int((fac["category"] == cat).sum())
        ids = ", ".join(grp["facility_id"].astype(str).head(8)) + (", ..." if len(grp) > 8 else "")
        warnings.warn(f"{cat}: {len(grp)} of {total} facilities have no capacity ({ids}); they are left out of "
                      "capacity sums, not counted as zero", AccessWarning, stacklevel=2)
    return miss[["facility_id", "category", "name", "source"]].reset_index(drop=True)


def _sums(keys: pd.DataFrame, values: dict[str, np.ndarray]) -> pd.DataFrame:
    df = keys.copy()
    for k, v in values.items():
        df[k] = v
    return df.groupby(list(keys.columns), dropna=True, observed=True).sum(numeric_only=True)


def supply_table(fac: pd.DataFrame, fac_units: pd.DataFrame | None, demand: pd.DataFrame,
                 unit_columns: dict[str, str], categories: dict[str, CategoryConfig], fca_cols: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Supply ratios overall and per unit.

    Parameters
    ----------
    fac : facilities with ``category`` and ``capacity`` (NaN = unknown).
    fac_units : facility x level unit names (or None without boundaries).
    demand : demand points with ``weight``, age-group columns, unit columns and FCA columns.
    unit_columns : {level: demand column of that level's unit}.
    categories : {name: CategoryConfig}; ``population`` picks each category's population column.
    fca_cols : {category: (2SFCA column, E2SFCA column)} on ``demand`` (supply per resident).
    """
    rows = []
    scopes = [("overall", None, None)] + [(lvl, fac_units[lvl] if fac_units is not None else None, col)
                                          for lvl, col in unit_columns.items()]
    cap_all = pd.to_numeric(fac["capacity"], errors="coerce").to_numpy(dtype=np.float64)
    for cat, cfg in categories.items():
        popcol = cfg.population or "weight"
        pop = demand[popcol].to_numpy(dtype=np.float64)
        m = (fac["category"] == cat).to_numpy()
        cap = cap_all[m]
        basis = "capacity" if np.isfinite(cap).any() else "facilities"
        for scope, fu, dcol in scopes:
            if scope == "overall":
                dkeys = pd.DataFrame({"unit": np.full(len(demand), OVERALL, dtype=object)})
                fkeys = pd.DataFrame({"unit": np.full(int(m.sum()), OVERALL, dtype=object)})
            else:
                dkeys = pd.DataFrame({"unit": demand[dcol].to_numpy(dtype=object)})
                fkeys = pd.DataFrame({"unit": fu.to_numpy(dtype=object)[m]})
            vals = {"residents": pop}
            for kind, col in zip(("sfca2", "e2sfca"), fca_cols.get(cat, ())):
                a = demand[col].to_numpy(dtype=np.float64)
                vals[f"{kind}_x"] = np.where(np.isfinite(a), a * pop, 0.0)
                vals[f"{kind}_w"] = np.where(np.isfinite(a), pop, 0.0)
            d = _sums(dkeys, vals)
            f = _sums(fkeys, {"facilities": np.ones(len(fkeys)), "with_capacity": np.isfinite(cap).astype(float),
                              "capacity": np.nan_to_num(cap)})
            t = d.join(f, how="left").fillna({"facilities": 0, "with_capacity": 0, "capacity": 0})
            t["missing_capacity"] = t["facilities"] - t["with_capacity"]
            if basis == "facilities":
                t["capacity"] = np.nan
            res = t["residents"].to_numpy()
            amount = t["capacity"].to_numpy() if basis == "capacity" else t["facilities"].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                t["per_1000"] = np.where(res > 0, amount / res * 1000.0, np.nan)
                t["per_resident"] = np.where(res > 0, amount / res, np.nan)
                for kind in ("sfca2", "e2sfca"):
                    if f"{kind}_x" in t:
                        t[f"{kind}_per_1000"] = t[f"{kind}_x"] / t[f"{kind}_w"] * 1000.0
            t = t.drop(columns=[c for c in t.columns if c.endswith(("_x", "_w"))])
            t = t.reset_index()
            t.insert(0, "level", scope)
            t.insert(2, "category", cat)
            t.insert(3, "population", cfg.population or "total")
            t.insert(4, "basis", basis)
            rows.append(t)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    for c in ("facilities", "with_capacity", "missing_capacity"):
        if c in out:
            out[c] = out[c].astype(int)
    return out


# --- plan targets ------------------------------------------------------------------------------------

def _population_column(t: TargetConfig, categories: dict[str, CategoryConfig]) -> str:
    pop = t.population or "category"
    if pop == "total":
        return "total"
    if pop == "category":
        return categories[t.category].population or "total"
    return pop


def _row(t: TargetConfig, level: str, unit: str, figure: float, met: bool | None, status: str,
         estimated: bool) -> dict:
    return {"target": t.name, "category": t.category, "measure": t.measure, "level": level, "unit": unit,
            "target_value": t.value, "figure": figure, "met": met, "status": status, "unit_of_measure": t.unit,
            "city": t.city, "year": t.year, "source": t.source, "population_estimated": estimated}


def evaluate_targets(targets: dict[str, TargetConfig], categories: dict[str, CategoryConfig], supply: pd.DataFrame, coverage: pd.DataFrame,
                     unit_coverage: pd.DataFrame, facility_units: dict[str, pd.DataFrame],
                     demand: pd.DataFrame, unit_columns: dict[str, str], estimated: bool = False,
                     weighted: bool = True) -> pd.DataFrame:
    """One row per target and scope with the figure, ``met`` (True / False / None) and a status text.

    ``facility_units``: {level: DataFrame(unit, category)} of facilities per unit; ``unit_columns``:
    {level: demand column}; ``weighted``: False when there is no population (per-capita figures n/a).
    """
    rows: list[dict] = []
    for t in targets.values():
        levels = [t.level] if t.level else list(unit_columns)
        if t.measure in SCALE:
            popcol = _population_column(t, categories)
            if not weighted:
                rows.append(_row(t, "overall", OVERALL, np.nan, None, "n/a: no population given", estimated))
                continue
            col = "weight" if popcol == "total" else popcol
            if col not in demand.columns:
                rows.append(_row(t, "overall", OVERALL, np.nan, None,
                                 f"n/a: no population column '{popcol}' (add it to [population] columns)", estimated))
                continue
            cat_pop = categories[t.category].population or "total"
            sub = supply[(supply["category"] == t.category) & supply["level"].isin(["overall", *levels])]
            residents = sub["residents"].to_numpy(dtype=np.float64)
            if popcol != cat_pop:  # the target counts other residents than the category's own column
                alt = {("overall", OVERALL): float(demand[col].sum())}
                for lvl in levels:
                    for unit, v in demand.groupby(unit_columns[lvl])[col].sum().items():
                        alt[(lvl, unit)] = float(v)
                residents = np.array([alt.get(k, 0.0) for k in zip(sub["level"], sub["unit"])])
            amount = sub["capacity"].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                fig = np.where(residents > 0, amount / residents * SCALE[t.measure], np.nan)
            for (lvl, unit, basis, missing), f in zip(sub[["level", "unit", "basis", "missing_capacity"]]
                                                      .itertuples(index=False), fig):  # one row per unit
                if basis != "capacity":
                    rows.append(_row(t, lvl, unit, np.nan, None, "unknown: no facility has a capacity", estimated))
                elif not np.isfinite(f):
                    rows.append(_row(t, lvl, unit, np.nan, None, "n/a: no residents", estimated))
                elif f >= t.value:
                    rows.append(_row(t, lvl, unit, float(f), True, "met", estimated))
                elif missing > 0:
                    rows.append(_row(t, lvl, unit, float(f), None,
                                     f"unknown: capacity missing for {int(missing)} facilities", estimated))
                else:
                    rows.append(_row(t, lvl, unit, float(f), False, "not met", estimated))
        elif t.measure == "coverage":
            c = coverage[coverage["category"] == t.category]
            scopes = [("overall", OVERALL, float(c["share_covered"].iloc[0]))] if len(c) else []
            if len(unit_coverage):
                u = unit_coverage[(unit_coverage["category"] == t.category) & unit_coverage["level"].isin(levels)]
                scopes += list(zip(u["level"], u["unit"], u["share_covered"].astype(float)))
            for lvl, unit, share in scopes:
                met = bool(share >= t.value - 1e-12) if np.isfinite(share) else None
                rows.append(_row(t, lvl, unit, share, met, "met" if met else ("not met" if met is False else "n/a"),
                                 estimated))
        else:
            if t.level not in facility_units:
                rows.append(_row(t, t.level, "", np.nan, None, f"n/a: no boundaries at level '{t.level}'", estimated))
                continue
            fu = facility_units[t.level]
            names = fu.attrs["units"]
            counts = fu[fu["category"] == t.category].groupby("unit").size().reindex(names, fill_value=0)
            if t.measure == "min_per_unit":
                for unit, k in counts.items():
                    met = bool(k >= t.value)
                    rows.append(_row(t, t.level, unit, float(k), met, "met" if met else "not met", estimated))
                short = int((counts < t.value).sum())
                rows.append(_row(t, t.level, "", float(len(names) - short), short == 0,
                                 "met" if short == 0 else f"not met: {short} of {len(names)} units short", estimated))
            else:
                share = float((counts >= 1).mean()) if len(names) else np.nan
                met = bool(share >= t.value - 1e-12) if np.isfinite(share) else None
                rows.append(_row(t, t.level, "", share, met, "met" if met else "not met", estimated))
    out = pd.DataFrame(rows)
    if len(out):
        out["met"] = out["met"].astype("boolean")
    return out


# --- one analysis ------------------------------------------------------------------------------------

@dataclass
class Standards:
    """``capacity``: facilities missing a capacity; ``supply``: supply ratios overall and per unit;
    ``targets``: each target's figure and met / not met."""

    capacity: pd.DataFrame
    supply: pd.DataFrame
    targets: pd.DataFrame


def compute_standards(cfg: Config, net: WalkNetwork, fac: gpd.GeoDataFrame, fsnap: Snapped, dsnap: Snapped,
                      demand: gpd.GeoDataFrame, coverage: pd.DataFrame, unit_coverage: pd.DataFrame, *,
                      fac_units: pd.DataFrame | None = None, bounds: gpd.GeoDataFrame | None = None,
                      capacity: pd.DataFrame | None = None, estimated: bool = False,
                      walk: dict | None = None) -> Standards:
    """The per-capita figures of one analysis.

    Parameters
    ----------
    cfg : the analysis config (categories, speed, targets; per-capita figures need ``[population]``).
    net, fsnap, dsnap : the walking network (metric CRS) and the snapped facilities and demand points.
    fac, demand : facilities (``category``, ``capacity``) and demand points (``weight``, age groups, unit columns).
    coverage, unit_coverage : the coverage tables (for ``coverage`` targets).
    fac_units, bounds : each facility's unit per level, and the units (None without boundaries).
    capacity : the facilities missing a capacity, when already judged (:func:`missing_capacity`).
    estimated : the population is the dasymetric estimate (flagged in every table).
    walk : how each category's residents walk (:func:`access15.walking.walkers`: slope, direction, profile);
        2SFCA then uses the same directed, profiled times as the coverage. Default: the [speed] speed, flat.

    Adds ``sfca2_<cat>`` / ``e2sfca_<cat>`` (supply per resident) to ``demand`` when a population is given.
    """
    weighted = cfg.population is not None
    unit_columns = {lvl: level_column(lvl) for lvl in fac_units.columns} if fac_units is not None else {}
    cats = list(cfg.categories)
    if capacity is None:
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
            wk = walk.get(cat) if walk else None
            if wk is None:
                m = travel_matrix(net, fsnap.take(sel), dsnap, k.minutes * speed)
                minutes = m.dist_m / speed
            else:
                m = travel_matrix(net, fsnap.take(sel), dsnap, wk.limit_m(k.minutes), rates=wk.rates)
                minutes = wk.minutes(m.dist_m)
            pop = demand[k.population or "weight"].to_numpy(dtype=np.float64)
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
