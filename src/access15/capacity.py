"""Per-capita standards: facility capacity against the residents it serves, overall and per unit.

A facility's ``capacity`` is its places, beds or square metres (one number per facility, in the unit the
category's targets use). A missing capacity is never read as zero: facilities without one are listed by id,
supply sums say how many were left out, and a target that their absence could decide is reported as
unknown. A category with no capacity at all is measured in facilities (``basis = "facilities"``).

Figures per (scope, unit, category): residents of the category's population column, facilities (and how many
lack a capacity), summed capacity, capacity per 1,000 and per resident, and the population-weighted mean
2SFCA / E2SFCA accessibility (per 1,000 residents) from :mod:`access15.catchment`.

Complexity: O(F + n) group sums per level (pandas), plus the catchment computation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import AccessWarning

OVERALL = "(all)"


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
                 unit_columns: dict[str, str], categories: dict, fca_cols: dict[str, tuple[str, str]]) -> pd.DataFrame:
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
