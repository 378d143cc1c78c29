"""Two scenarios side by side: the residents each covers that the other does not.

:func:`compare_scenarios` applies scenario A and scenario B (either may be the baseline, ``None``: no change)
to one analysis for a plan year and compares their per-point coverage booleans. Per category (and the
combined circle), and per unit of every boundary level:

* ``covered_a``, ``covered_b``: demand inside the circle in A and in B (the coverage tables' ``covered``);
* ``gained``: demand covered in A and not in B; ``lost``: covered in B and not in A;
* ``net = gained - lost`` (= ``covered_a - covered_b``); ``points``: ``share_a - share_b`` in percentage points.

Gained and lost are both reported because a scenario that closes one clinic and opens another can bring
some residents into the circle and leave others out: the net alone hides that. Demand is counted as the
coverage tables count it (persons with a population, else grid cells or street nodes; a category with its
own population, e.g. residents aged 65+, in that population). Vectorised: one boolean mask per category and
one ``np.bincount`` per unit level, no loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .coverage import COMBINED
from .errors import InputError
from .scenario import Scenario, ScenarioEngine, ScenarioResult, safe_stem, write_atomic
from .units import level_column

#: Columns of the comparison tables (``level``/``unit`` only in the per-unit table).
COLUMNS = ["category", "demand", "covered_a", "covered_b", "gained", "lost", "net", "share_a", "share_b", "points"]
#: ``level`` of the rows for the whole study area in :meth:`Comparison.table`.
OVERALL = "overall"


@dataclass
class Comparison:
    """Scenario A against scenario B in plan ``year`` (None: every edit).

    ``categories``: one row per category and ``combined`` (:data:`COLUMNS`); ``units``: the same per unit,
    with ``level`` and ``unit`` first, each level's units with the largest losses first (empty without
    boundaries). ``a``/``b``: the scenarios' one-line descriptions (``None`` stands for the baseline).
    Demand figures are in the coverage tables' unit (persons with a population).
    """

    a: str
    b: str
    year: int | None
    categories: pd.DataFrame
    units: pd.DataFrame = field(default_factory=pd.DataFrame)

    def table(self) -> pd.DataFrame:
        """Both tables in one (``level = "overall"`` and an empty ``unit`` for the whole study area)."""
        overall = self.categories.assign(level=OVERALL, unit="")[["level", "unit", *COLUMNS]]
        return pd.concat([overall, self.units], ignore_index=True) if len(self.units) else overall

    def write_csv(self, path: str | Path) -> Path:
        """:meth:`table` as CSV at ``path``, written atomically (never a half-written file)."""
        path = Path(path)
        try:
            write_atomic(path, self.table().to_csv(index=False, float_format="%.6g", lineterminator="\n"))
        except OSError as exc:
            raise InputError(path, f"cannot write the comparison ({exc.strerror or exc})",
                             "choose another folder with --out") from None
        return path


def _weights(engine: ScenarioEngine) -> dict[str, np.ndarray]:
    """Demand weight per category (its own population where it has one) and for the combined circle."""
    w = np.asarray(engine.weight, dtype=np.float64)
    out = {c: np.asarray(engine.cat_w.get(c, w), dtype=np.float64) for c in engine.categories}
    out[COMBINED] = w
    return out


def _frame(demand: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray, gained: np.ndarray,
           lost: np.ndarray) -> dict[str, np.ndarray]:
    """The figure columns from summed demand (arrays of equal shape)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share_a = np.where(demand > 0, cov_a / demand, np.nan)
        share_b = np.where(demand > 0, cov_b / demand, np.nan)
    return {"demand": demand, "covered_a": cov_a, "covered_b": cov_b, "gained": gained, "lost": lost,
            "net": gained - lost, "share_a": share_a, "share_b": share_b, "points": 100 * (share_a - share_b)}


def compare_results(engine: ScenarioEngine, ra: ScenarioResult, rb: ScenarioResult, a: str = "", b: str = "",
                    year: int | None = None) -> Comparison:
    """The :class:`Comparison` of two applied scenarios of ``engine`` (see :func:`compare_scenarios`)."""
    weights = _weights(engine)
    cats = [*engine.categories, COMBINED]
    rows = []
    masks = {}
    for cat in cats:
        w = weights[cat]
        ca, cb = ra.covered[cat].to_numpy(dtype=bool), rb.covered[cat].to_numpy(dtype=bool)
        masks[cat] = (ca, cb)
        sums = [float(w.sum()), float(w[ca].sum()), float(w[cb].sum()), float(w[ca & ~cb].sum()),
                float(w[cb & ~ca].sum())]
        rows.append({"category": cat, **{k: float(v) for k, v in _frame(*map(np.float64, sums)).items()}})
    table = pd.DataFrame(rows, columns=COLUMNS)

    frames = []
    dem = engine.result.demand
    for li, lvl in enumerate(engine._levels):
        codes, names = pd.factorize(dem[level_column(lvl)].to_numpy(dtype=object), use_na_sentinel=True)
        inside = codes >= 0
        k, n = codes[inside], len(names)
        per_cat = {}
        for cat in cats:
            w = weights[cat][inside]
            ca, cb = (m[inside] for m in masks[cat])
            per_cat[cat] = _frame(*[np.bincount(k, weights=w * x, minlength=n)
                                    for x in (1.0, ca, cb, ca & ~cb, cb & ~ca)])
        # units with the largest combined loss first (then by name), categories in config order within a unit
        order = np.lexsort((np.asarray(names, dtype=str), per_cat[COMBINED]["net"]))
        for ci, cat in enumerate(cats):
            f = pd.DataFrame({"level": lvl, "unit": np.asarray(names, dtype=object)[order], "category": cat,
                              **{c: v[order] for c, v in per_cat[cat].items()}})
            f["_l"], f["_u"], f["_c"] = li, np.arange(n), ci
            frames.append(f)
    units = pd.DataFrame()
    if frames:
        units = pd.concat(frames, ignore_index=True).sort_values(["_l", "_u", "_c"])
        units = units[["level", "unit", *COLUMNS]].reset_index(drop=True)
    return Comparison(a, b, year, table, units)


def compare_scenarios(engine: ScenarioEngine, a: Scenario | None, b: Scenario | None = None,
                      year: int | None = None) -> Comparison:
    """Scenario ``a`` against scenario ``b`` in plan ``year``; ``None`` is the baseline (today's facilities).

    ``gained``: demand covered in ``a`` and not in ``b``; ``lost``: covered in ``b`` and not in ``a``; so
    ``compare_scenarios(engine, sc)`` is what ``sc`` changes against the baseline. Each scenario's figures are
    exactly a full re-run's (:meth:`ScenarioEngine.apply`).

    Raises
    ------
    InputError : a scenario names an unknown category or facility.
    """
    sa, sb = a or Scenario(name=""), b or Scenario(name="")
    ra, rb = engine.apply(sa, year), engine.apply(sb, year)
    return compare_results(engine, ra, rb, sa.describe(year) if a is not None else "",
                           sb.describe(year) if b is not None else "", year)


def compare_path(out_dir: str | Path, a: Path, b: Path | None, year: int | None) -> Path:
    """Where ``access15 compare`` writes its CSV: ``<out_dir>/compare-<a>-vs-<b or baseline>[-year].csv``
    (file-name stems made safe)."""
    name = f"compare-{safe_stem(a.stem)}-vs-{safe_stem(b.stem) if b is not None else 'baseline'}"
    return Path(out_dir) / f"{name}{'-' + str(year) if year is not None else ''}.csv"


def load_checked(engine: ScenarioEngine, path: str | Path) -> Scenario:
    """A scenario file, checked against the analysis: every category and closed facility exists.

    Raises
    ------
    InputError : naming ``path``: unreadable, not a scenario, or naming an unknown category or facility.
    """
    sc = Scenario.load(path)
    try:
        for p in sc.added:
            engine.check_category(p.category)
        for c in sc.closed:
            engine.check_facility(c.facility_id)
    except InputError as exc:
        raise InputError(path, exc.problem, exc.fix) from None
    return sc


def compare_files(engine: ScenarioEngine, a: str | Path, b: str | Path | None = None,
                  year: int | None = None) -> Comparison:
    """:func:`compare_scenarios` of two scenario files (``b`` None: the baseline); errors name the file."""
    sa = load_checked(engine, a)
    sb = load_checked(engine, b) if b is not None else None
    return compare_scenarios(engine, sa, sb, year)
