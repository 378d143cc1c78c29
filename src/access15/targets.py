"""Plan targets as data: read ``[targets]`` (and the shipped preset) and mark each figure met / not met.

A config's ``[targets]`` table holds named targets (see :class:`access15.config.TargetConfig`) and may
include a shipped preset with ``preset = "china_plans"`` (``src/access15/data/targets_china_plans.toml``: the
figures of the Ningbo, Jinhua, Zhoushan-Dinghai and Xianning plans, each with its city and year). Preset
targets whose category the analysis does not have are skipped; a target written in the config must name a
configured category.

Measures (met when the figure >= the target value):

* ``per_1000`` / ``per_10000`` / ``per_resident``: capacity (or facilities where no capacity is known) per
  1,000 / 10,000 / one resident of the target's population (``"total"``, ``"category"`` = the category's own
  population column, or a column name), overall and per unit of ``level`` (every level if unset);
* ``coverage``: share of (the category's) residents inside its circle, overall and per unit;
* ``min_per_unit``: every unit of ``level`` has at least ``value`` facilities of the category;
* ``unit_share``: the share of units of ``level`` with at least one facility.

When missing capacities could change the answer the status is "unknown" and says how many are missing.

Complexity: O(targets x units), all from tables the analysis already has.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .capacity import OVERALL
from .errors import InputError

MEASURES = ("per_1000", "per_10000", "per_resident", "coverage", "min_per_unit", "unit_share")
SCALE = {"per_1000": 1000.0, "per_10000": 10000.0, "per_resident": 1.0}
PRESETS = ("china_plans",)


def load_preset(name: str) -> dict[str, Any]:
    """The targets table of a shipped preset."""
    if name not in PRESETS:
        raise InputError("[targets]", f"unknown preset '{name}'", "use one of " + ", ".join(PRESETS))
    text = resources.files("access15").joinpath(f"data/targets_{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["targets"]


def targets_from_dict(data: Any, cfg, source: Path | str) -> dict:
    """Build the config's targets (preset first, then the config's own, which may override by name)."""
    from .config import TargetConfig, _build

    if not isinstance(data, dict):
        raise InputError(source, "[targets] must be a table", "see docs/population.md")
    data = dict(data)
    preset = data.pop("preset", None)
    out: dict[str, TargetConfig] = {}
    entries: list[tuple[str, Any, bool]] = []
    if preset is not None:
        entries += [(k, v, True) for k, v in load_preset(str(preset)).items()]
    entries += [(k, v, False) for k, v in data.items()]
    for name, table, from_preset in entries:
        t = _build(TargetConfig, table, f"targets.{name}", source, name=name)
        if t.measure not in MEASURES:
            raise InputError(source, f"[targets.{name}] measure = '{t.measure}'", "use one of " + ", ".join(MEASURES))
        if t.category not in cfg.categories:
            if from_preset:
                continue
            raise InputError(source, f"[targets.{name}] category '{t.category}' is not analysed",
                             "add [categories." + (t.category or "NAME") + "] or fix the name")
        if t.measure in ("min_per_unit", "unit_share") and not t.level:
            raise InputError(source, f"[targets.{name}] measure '{t.measure}' needs level",
                             "name the boundary level, e.g. level = \"street\"")
        out[name] = t
    return out


def _population_column(t, categories) -> str:
    pop = t.population or "category"
    if pop == "total":
        return "total"
    if pop == "category":
        return categories[t.category].population or "total"
    return pop


def _row(t, level: str, unit: str, figure: float, met, status: str, estimated: bool) -> dict:
    return {"target": t.name, "category": t.category, "measure": t.measure, "level": level, "unit": unit,
            "target_value": t.value, "figure": figure, "met": met, "status": status, "unit_of_measure": t.unit,
            "city": t.city, "year": t.year, "source": t.source, "population_estimated": estimated}


def evaluate_targets(targets: dict, categories: dict, supply: pd.DataFrame, coverage: pd.DataFrame,
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
