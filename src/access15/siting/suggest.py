"""Where new facilities should go: the maximal covering location problem (MCLP) over candidate sites, and
the set-covering question (how many new sites reach a target share, if any number can).

Each candidate's reach comes from :func:`access15.siting.check.evaluate` (the same bounded search as a site
check), so the demand a suggested set brings inside the circle equals that of a full re-run with the sites
added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
from scipy import sparse

from ..coverage import COMBINED
from ..errors import InputError
from ..result import AnalysisResult
from ..text import number, share
from . import mclp
from .check import SiteCheck, evaluate, others_covered
from .context import SiteContext, category_weights, check_category, demand_noun, site_context
from .sites import OK, as_sites, check_spacing, gap_candidates

#: Relative tolerance (of the total demand) when comparing covered demand of two solutions or a target.
OBJECTIVE_RTOL = 1e-9

#: Instances up to this many coverage-matrix nonzeros are solved exactly by ``method="auto"``.
AUTO_EXACT_NNZ = 2_000_000


@dataclass
class Suggestion:
    """New sites for one category's circle, and the set-covering answer.

    ``sites``: the chosen sites, ranked (GeoDataFrame, EPSG:4326): ``rank``, ``site``, ``lon``, ``lat``,
    ``newly_covered`` (added by this site after the higher-ranked ones), ``cumulative_new``,
    ``share_after`` (0-1, with this and the higher-ranked sites), ``points``, ``combined_newly_covered``,
    ``combined_share_after``, ``cost``.
    ``objective``: demand newly covered by the whole set; ``greedy_objective``/``exact_objective`` when
    computed (``gap`` = 1 - greedy/exact); ``optimal``: the exact solver proved optimality.
    ``cover``: the location-set-covering view for ``target`` (dict: ``target``, ``reachable``,
    ``max_share``, ``sites_needed``, ``sites`` (names), ``method``, ``optimal``, ``message``).
    ``check``: the per-candidate :class:`SiteCheck` of every candidate (each alone).
    """

    category: str
    minutes: float
    noun: str
    method: str
    k: int | None
    budget: float | None
    sites: gpd.GeoDataFrame
    objective: float
    covered_before: float
    total: float
    greedy_objective: float | None
    exact_objective: float | None
    optimal: bool
    cover: dict
    check: SiteCheck
    newly_covered: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Relative gap of the greedy solution to the exact optimum (0 = greedy is optimal)."""
        if self.greedy_objective is None or not self.exact_objective:
            return None
        return 1.0 - self.greedy_objective / self.exact_objective

    @property
    def share_before(self) -> float:
        """Coverage share (0-1) of the category's circle with the existing facilities."""
        return self.covered_before / self.total if self.total else float("nan")

    @property
    def share_after(self) -> float:
        """Coverage share (0-1) with the suggested sites added."""
        return (self.covered_before + self.objective) / self.total if self.total else float("nan")

    def summary(self) -> str:
        """One sentence: what the suggested sites add, and the set-covering answer."""
        n = len(self.sites)
        s = (f"{n} new site{'s' if n != 1 else ''} add {number(self.objective)} {self.noun} to the "
             f"{self.minutes:g}-minute {self.category} circle ({share(self.share_before)} -> {share(self.share_after)})")
        if self.gap is not None:
            s += f"; greedy reaches {1 - self.gap:.2%} of the proven optimum" if self.optimal else \
                 f"; greedy reaches {1 - self.gap:.2%} of the best integer solution found"
        return s + ". " + self.cover["message"]


def suggest_sites(result: AnalysisResult | SiteContext, category: str, k: int | None = 5, candidates: Any = None,
                  method: str = "greedy", budget: float | None = None, target_share: float | None = None,
                  spacing_m: float | None = None, time_limit_s: float = 60.0) -> Suggestion:
    """Choose new sites that bring the most uncovered demand inside ``category``'s circle (MCLP).

    Parameters
    ----------
    result : the analysis (or its :class:`SiteContext`).
    category : the category to site.
    k : at most this many new sites (None: limited by ``budget`` only).
    candidates : candidate sites (as for :func:`check_sites`; a ``cost`` column is used with ``budget``);
        default: :func:`gap_candidates`.
    method : ``"greedy"`` (lazy greedy), ``"exact"`` (integer program, HiGHS; greedy is solved too and its
        gap reported) or ``"auto"`` (exact up to :data:`AUTO_EXACT_NNZ` coverage pairs).
    budget : total cost allowed (each candidate's ``cost``, 1 when there is no cost column).
    target_share : share (0-1) of all demand for the set-covering view; default: the plan's coverage target
        for the category in ``[targets]`` (see :func:`plan_target`), else 1.0 (everyone).
    spacing_m : thinning of generated candidates (metres).
    time_limit_s : time limit of each integer program (seconds).
    """
    res = result.result if isinstance(result, SiteContext) else result
    check_category(res, category)
    if method not in ("greedy", "exact", "auto"):
        raise InputError("--method", f"unknown method '{method}'", "use greedy, exact or auto")
    if k is not None and k < 1:
        raise InputError("--k", "k must be at least 1", "ask for one or more sites")
    if k is None and budget is None:
        raise InputError("--k", "neither k nor a budget limits the number of sites", "give --k or --budget")
    plan = plan_target(res, category) if target_share is None else None
    target = float(target_share) if target_share is not None else (plan[1] if plan else 1.0)
    if not 0 < target <= 1:
        raise InputError("--target", f"target share {target} is not within (0, 1]", "e.g. 0.9 for 90%")
    if budget is not None and not budget >= 0:
        raise InputError("--budget", f"budget {budget} is not a non-negative number", "give the total cost allowed")
    check_spacing(spacing_m)
    ctx = site_context(result)
    sites = as_sites(candidates) if candidates is not None else gap_candidates(res, category, spacing_m)
    cost = sites["cost"].to_numpy(dtype=np.float64) if "cost" in sites.columns else None
    if cost is not None and not (cost >= 0).all():
        i = int(np.flatnonzero(~(cost >= 0))[0])
        raise InputError("candidates", f"cost {cost[i]} is not a non-negative number", "give every site a cost",
                         row=i + 1, field="cost")
    notes = []
    if not len(sites):
        notes.append("no candidate sites: the category's circle has no gaps on the network" if candidates is None
                     else "no candidate sites were given")
    check = evaluate(ctx, category, sites, None)
    bad = int((check.table["status"] != OK).sum())
    if bad:
        notes.append(f"{bad} of {len(sites)} candidates cannot be used (outside the area, on water or off the "
                     "network); see the candidate table")

    dem = res.demand
    w = category_weights(res, category)
    before = dem[f"covered_{category}"].to_numpy(dtype=bool)
    total, cov0 = float(w.sum()), float(w[before].sum())
    r = check.reach.select(~before[check.reach.dem])
    cols, col_of = np.unique(r.dem, return_inverse=True)
    A = sparse.csr_matrix((np.ones(len(r), dtype=bool), (r.cand, col_of)), shape=(len(sites), len(cols)))
    wc = w[cols]
    greedy = mclp.greedy_mclp(A, wc, k, cost, budget)
    use_exact = method == "exact" or (method == "auto" and A.nnz <= AUTO_EXACT_NNZ)
    exact = mclp.exact_mclp(A, wc, k, cost, budget, time_limit_s) if use_exact else None
    tol = OBJECTIVE_RTOL * max(total, 1.0)  # objectives are sums of float weights: compare with a tolerance
    best = greedy
    if exact is not None:
        if exact.objective >= greedy.objective - tol:
            best = exact
        elif not exact.optimal:  # a proven optimum never falls short of greedy beyond rounding
            notes.append(f"the integer program stopped early ({exact.status}) with a worse solution than greedy; "
                         "the greedy solution is used")
    ranked = mclp.rank(A, wc, best.chosen)
    useless = ~(ranked.gains > 0)
    if useless.any() and not useless.all():  # an integer program may pick sites that add nobody
        notes.append(f"{int(useless.sum())} further sites chosen by the integer program would add no one; "
                     "they are left out")
        keep = ~useless
        ranked = mclp.Solution(ranked.chosen[keep], ranked.gains[keep], ranked.method, ranked.optimal, ranked.status)
    chosen = ranked.chosen

    # per-rank gains for the combined circle, and the demand points newly covered by the whole set
    covered_new = np.zeros(len(dem), dtype=bool)
    step_of = np.full(len(cols), -1)
    for step, i in enumerate(chosen):  # k iterations (the chosen sites), each vectorised
        c = A.indices[A.indptr[i]:A.indptr[i + 1]]
        fresh = c[step_of[c] < 0]
        step_of[fresh] = step
    reached = step_of >= 0
    covered_new[cols[reached]] = True
    ccfg = res.config.categories[category]
    w0 = np.nan_to_num(dem["weight"].to_numpy(dtype=np.float64))
    comb = dem[f"covered_{COMBINED}"].to_numpy(dtype=bool)
    others = others_covered(res, category)
    cgain = np.bincount(step_of[reached], w0[cols[reached]] * others[cols[reached]], minlength=len(chosen))
    ctotal = float(w0.sum())
    out = sites.iloc[chosen].copy().reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(chosen) + 1))
    out["newly_covered"] = ranked.gains
    out["cumulative_new"] = np.cumsum(ranked.gains)
    out["share_after"] = (cov0 + out["cumulative_new"]) / total
    out["points"] = 100 * ranked.gains / total
    out["combined_newly_covered"] = cgain
    out["combined_share_after"] = (float(w0[comb].sum()) + np.cumsum(cgain)) / ctotal
    out["cost"] = cost[chosen] if cost is not None else 1.0
    out["alone_newly_covered"] = check.table["newly_covered"].to_numpy()[chosen]

    cover = _set_cover(A, wc, total, cov0, target, sites, use_exact, time_limit_s, demand_noun(res))
    cover["target_name"] = plan[0] if plan else ""
    if plan:
        cover["message"] = f"[{plan[0]}] " + cover["message"]
    return Suggestion(category, ccfg.minutes, demand_noun(res), best.method, k, budget, out, ranked.objective,
                      cov0, total, greedy.objective, exact.objective if exact is not None else None,
                      bool(exact is not None and exact.optimal and best is exact), cover, check, covered_new, notes)


def plan_target(result: AnalysisResult, category: str) -> tuple[str, float] | None:
    """The plan's coverage target for ``category`` from the config's ``[targets]`` (``measure = "coverage"``,
    whole area), as (name, share), or None; the highest share when several are configured."""
    found = [(t.value, name) for name, t in (getattr(result.config, "targets", None) or {}).items()
             if getattr(t, "measure", "") == "coverage" and getattr(t, "category", "") == category
             and not getattr(t, "level", None) and 0 < float(t.value) <= 1]
    if not found:
        return None
    value, name = max(found)
    return name, float(value)


def _set_cover(A: sparse.csr_matrix, wc: np.ndarray, total: float, cov0: float, target: float, sites: gpd.GeoDataFrame,
               exact: bool, time_limit_s: float, noun: str) -> dict:
    """The location-set-covering view: the fewest candidates that lift coverage to ``target``."""
    needed = target * total - cov0
    tol = OBJECTIVE_RTOL * max(total, 1.0)
    reachable_w = float(wc[np.unique(A.indices)].sum()) if A.nnz else 0.0
    max_share = (cov0 + reachable_w) / total if total else float("nan")
    out = {"target": target, "needed": max(needed, 0.0), "max_share": max_share, "reachable": True,
           "sites_needed": 0, "sites": [], "method": "", "optimal": True}
    if needed <= tol:
        out["message"] = (f"The target of {share(target)} is already met ({share(cov0 / total)} covered): "
                          "no new site needed.")
        return out
    if reachable_w < needed - tol:
        out.update(reachable=False, sites_needed=None, optimal=True,
                   message=(f"A {share(target)} share is unreachable with these {len(sites)} candidates: all of "
                            f"them together reach {share(max_share)}."))
        return out
    sol = mclp.greedy_mclp(A, wc, stop_at=needed - tol)
    method, optimal = "greedy (an upper bound)", False
    if exact:
        ex = mclp.exact_cover(A, wc, needed - tol, time_limit_s)
        if len(ex.chosen) and ex.objective >= needed - tol and len(ex.chosen) <= len(sol.chosen):
            sol, method, optimal = ex, "exact", ex.optimal
    names = sites["site"].astype(str).to_numpy()[sol.chosen].tolist()
    out.update(sites_needed=len(sol.chosen), sites=names, method=method, optimal=optimal,
               message=(f"Reaching {share(target)} takes {'' if optimal else 'at most '}"
                        f"{len(sol.chosen)} new site{'s' if len(sol.chosen) != 1 else ''} of these candidates"
                        f"{' (proven minimum)' if optimal else ' (' + method + ')'}."))
    return out
