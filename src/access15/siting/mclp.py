"""Covering-location solvers on a sparse candidate x demand coverage matrix.

Maximal covering (MCLP): choose at most ``k`` candidates (and/or within a budget of per-candidate costs)
that cover the most demand weight. Location set covering, partial form (LSCP): the fewest candidates that
cover at least a given demand weight. Both as

- lazy greedy (Minoux's accelerated greedy): coverage is submodular, so a candidate's last computed gain
  bounds its current gain and only the heap top is re-evaluated. Each evaluation is a vectorised sum over
  one sparse row. Guarantee (unit costs): at least 1 - 1/e of the optimum. With costs, the gain/cost
  ratio rule is combined with the best single affordable candidate (Khuller, Moss & Naor 1999).
- an exact integer program solved by HiGHS through ``scipy.optimize.milp`` (binary site variables,
  continuous 0-1 coverage variables, which are integral at every optimum).

Matrices are CSR, rows = candidates, columns = demand points still to be covered; ``w`` are the column
weights (persons, or cells for unweighted analyses). No geography here.

Complexity: greedy O(nnz + e log K) for e row evaluations (in practice a few per pick); the integer
program is NP-hard in general, so :func:`exact_mclp` takes a time limit.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp


@dataclass
class Solution:
    """Chosen candidates (row indices, in the order picked or ranked), the weight each adds when added
    in that order, and how the solution was found (``method``; ``optimal`` when proven optimal)."""

    chosen: np.ndarray
    gains: np.ndarray
    method: str
    optimal: bool = False
    status: str = ""

    @property
    def objective(self) -> float:
        """Total demand weight covered by the chosen candidates."""
        return float(self.gains.sum())


def _row_cols(A: sparse.csr_matrix, i: int) -> np.ndarray:
    return A.indices[A.indptr[i]:A.indptr[i + 1]]


def covered_weight(A: sparse.csr_matrix, w: np.ndarray, chosen: np.ndarray) -> float:
    """Demand weight covered by the union of the ``chosen`` rows."""
    cols = np.unique(A[np.asarray(chosen, dtype=np.int64)].indices) if len(chosen) else np.empty(0, np.int64)
    return float(w[cols].sum())


def rank(A: sparse.csr_matrix, w: np.ndarray, chosen: np.ndarray) -> Solution:
    """Order a given set of rows greedily (largest marginal gain first) and report each one's gain."""
    chosen = np.asarray(chosen, dtype=np.int64)
    sub = A[chosen]
    sol = greedy_mclp(sub, w, k=len(chosen), keep_zero=True)
    return Solution(chosen[sol.chosen], sol.gains, "ranked")


def greedy_mclp(A: sparse.csr_matrix, w: np.ndarray, k: int | None = None, cost: np.ndarray | None = None,
                budget: float | None = None, stop_at: float | None = None, keep_zero: bool = False) -> Solution:
    """Lazy greedy maximal covering.

    Parameters
    ----------
    A : CSR (K candidates x M demand points), nonzero where a candidate covers a point.
    w : (M,) demand weights (persons or cells), non-negative.
    k : at most this many candidates (None: no limit).
    cost, budget : per-candidate cost and the total allowed (None: unbudgeted).
    stop_at : stop as soon as the covered weight reaches this (for the set-covering view).
    keep_zero : keep picking candidates that add nothing (to rank a whole given set).
    """
    A = sparse.csr_matrix(A)
    K = A.shape[0]
    w = np.asarray(w, dtype=np.float64)
    k = K if k is None else min(int(k), K)
    unit = cost is None
    cost = np.ones(K) if cost is None else np.asarray(cost, dtype=np.float64)
    left = np.inf if budget is None else float(budget)
    row_w = np.asarray(A.multiply(w[None, :]).sum(axis=1)).ravel() if A.nnz else np.zeros(K)
    key = row_w / np.where(unit, 1.0, np.maximum(cost, 1e-12))
    afford = np.flatnonzero(cost <= left)
    heap = list(zip((-key[afford]).tolist(), afford.tolist()))  # one entry per candidate, built once
    heapq.heapify(heap)
    covered = np.zeros(A.shape[1], dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    total = 0.0
    while heap and len(chosen) < k and (stop_at is None or total < stop_at):
        _, i = heapq.heappop(heap)
        if cost[i] > left:
            continue  # no longer affordable, never again
        cols = _row_cols(A, i)
        gain = float(w[cols[~covered[cols]]].sum())
        score = gain / (1.0 if unit else max(cost[i], 1e-12))
        if heap and score < -heap[0][0]:
            heapq.heappush(heap, (-score, i))  # stale bound: re-insert with the true gain
            continue
        if gain <= 0 and not keep_zero:
            break
        chosen.append(i)
        gains.append(gain)
        covered[cols] = True
        total += gain
        left -= cost[i]
    sol = Solution(np.asarray(chosen, dtype=np.int64), np.asarray(gains), "greedy")
    if not unit and budget is not None:
        # the ratio rule alone can be arbitrarily bad: compare with the best single affordable site
        afford = np.flatnonzero(cost <= budget)
        if len(afford):
            best = int(afford[np.argmax(row_w[afford])])
            if row_w[best] > sol.objective:
                sol = Solution(np.array([best]), np.array([row_w[best]]), "greedy")
    return sol


def aggregate_columns(A: sparse.csr_matrix, w: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Merge demand columns covered by exactly the same candidates into one (weights summed).

    Neighbouring cells usually share their candidate set, so this shrinks an integer program a few
    times without changing any solution's value. Columns are grouped by two random projections of
    their candidate sets and the grouping is then verified exactly (a hash collision, however
    unlikely, only means nothing is merged). O(nnz log M).
    """
    A = sparse.csr_matrix(A, dtype=np.float64)
    K, M = A.shape
    if M == 0 or K == 0:
        return A, np.asarray(w, dtype=np.float64)
    At = A.T.tocsr()
    At.sort_indices()
    h = At @ np.random.default_rng(0).random((K, 2))
    key = np.column_stack([h, At.getnnz(axis=1)])
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    rep = sparse.csr_matrix((np.ones(M), (np.arange(M), first[inv])), shape=(M, M))
    if (rep @ At != At).nnz:
        return A, np.asarray(w, dtype=np.float64)
    return A[:, first].tocsr(), np.bincount(inv, weights=np.asarray(w, dtype=np.float64), minlength=len(first))


def _covering_program(A0: sparse.csr_matrix, w0: np.ndarray, site_cost: np.ndarray, point_value: float,
                      extra, time_limit_s: float) -> Solution:
    """Solve min site_cost.x + point_value * w.y over x (sites, binary) and y (points, 0-1) subject to
    y_j <= sum_i A_ij x_i and the constraints ``extra(K, M, w)`` (on the column-merged instance)."""
    A, w = aggregate_columns(A0, w0)
    K, M = A.shape
    cover = sparse.hstack([-A.T, sparse.identity(M, format="csr")], format="csr")
    cons = [LinearConstraint(cover, -np.inf, 0.0), *extra(K, M, w)]
    res = milp(np.r_[site_cost, point_value * w], constraints=cons, integrality=np.r_[np.ones(K), np.zeros(M)],
               bounds=Bounds(0, 1), options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0})
    if res.x is None:
        return Solution(np.empty(0, np.int64), np.empty(0), "exact", False, res.message)
    ranked = rank(A0.astype(bool), w0, np.flatnonzero(res.x[:K] > 0.5))
    return Solution(ranked.chosen, ranked.gains, "exact", res.status == 0, res.message)


def exact_mclp(A: sparse.csr_matrix, w: np.ndarray, k: int | None = None, cost: np.ndarray | None = None,
               budget: float | None = None, time_limit_s: float = 60.0) -> Solution:
    """The maximal covering location problem as an integer program (HiGHS via scipy.optimize.milp).

    maximise  sum_j w_j y_j
    s.t.      y_j <= sum_i A_ij x_i   (a point counts only when a chosen site covers it)
              sum_i x_i <= k,  sum_i cost_i x_i <= budget
              x_i in {0, 1},  0 <= y_j <= 1

    ``optimal`` is True only when HiGHS proved optimality (relative gap 0) within ``time_limit_s``.
    """
    A = sparse.csr_matrix(A, dtype=np.float64)
    K = A.shape[0]
    w = np.asarray(w, dtype=np.float64)
    if A.nnz == 0:
        return Solution(np.empty(0, np.int64), np.empty(0), "exact", True, "no candidate covers anything")
    if k == 1 and budget is None:
        # one site: the best single row is optimal (and the LP relaxation is at its weakest here)
        ranked = rank(A.astype(bool), w, np.array([int(np.argmax(A @ w))]))
        return Solution(ranked.chosen, ranked.gains, "exact", True, "single best site")

    def limits(K: int, M: int, _w: np.ndarray) -> list[LinearConstraint]:
        cons = []
        if k is not None:
            cons.append(LinearConstraint(np.r_[np.ones(K), np.zeros(M)][None, :], 0, int(k)))
        if budget is not None:
            c = np.ones(K) if cost is None else np.asarray(cost, dtype=np.float64)
            cons.append(LinearConstraint(np.r_[c, np.zeros(M)][None, :], 0, float(budget)))
        return cons

    return _covering_program(A, w, np.zeros(K), -1.0, limits, time_limit_s)


def exact_cover(A: sparse.csr_matrix, w: np.ndarray, needed: float, time_limit_s: float = 60.0) -> Solution:
    """The fewest rows covering at least ``needed`` weight (partial location set covering), exactly.

    minimise  sum_i x_i   s.t.  sum_j w_j y_j >= needed,  y_j <= sum_i A_ij x_i,  x binary, 0 <= y <= 1.
    The caller checks first that all rows together reach ``needed``.
    """
    A = sparse.csr_matrix(A, dtype=np.float64)

    def enough(K: int, M: int, wm: np.ndarray) -> list[LinearConstraint]:
        return [LinearConstraint(np.r_[np.zeros(K), wm][None, :], float(needed), np.inf)]

    return _covering_program(A, np.asarray(w, dtype=np.float64), np.ones(A.shape[0]), 0.0, enough, time_limit_s)
