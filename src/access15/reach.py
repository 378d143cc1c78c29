"""Bounded searches from many candidate sites at once: a sparse candidate x demand distance matrix.

The search is the floating catchments' (:func:`access15.catchment.travel_matrix`): every candidate is a
virtual source linked to both ends of its snapped edge with its access leg plus the exact distance along
the edge, as in :mod:`access15.routing`; candidates are searched in compact chunks, each on the part of
the network within reach, with ``limit`` = the circle's radius. Demand points are reached through their
two edge ends (or directly along the edge when a candidate sits on the same edge) with the same
floating-point operations as :func:`access15.routing.nearest_facility`, so a distance here equals the
one a full re-routing with the candidate added would give.

Complexity: that of :func:`~access15.catchment.travel_matrix`, O(K x nodes in a chunk's box) for K
candidates, plus O(m log m) to sort the m (candidate, demand) pairs found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .catchment import DemandIndex, travel_matrix
from .network import WalkNetwork
from .snap import Snapped


@dataclass
class Reach:
    """The (candidate, demand point) pairs within a search limit, as sparse triplets.

    ``cand``, ``dem``: indices into the candidate and demand arrays given; ``dist_m``: walking distance
    in metres (both access legs included), one entry per pair, sorted by candidate then demand point.
    ``shape`` = (candidates, demand points).
    """

    cand: np.ndarray
    dem: np.ndarray
    dist_m: np.ndarray
    shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.cand)

    def select(self, mask: np.ndarray) -> "Reach":
        """The pairs where ``mask`` (one boolean per pair) is true."""
        return Reach(self.cand[mask], self.dem[mask], self.dist_m[mask], self.shape)

    def matrix(self) -> sparse.csr_matrix:
        """Boolean CSR matrix (candidates x demand points) of the pairs."""
        return sparse.csr_matrix((np.ones(len(self.cand), dtype=bool), (self.cand, self.dem)), shape=self.shape)


def candidate_reach(net: WalkNetwork, cand: Snapped, dem: Snapped, limit_m: float, chunk: int = 64,
                    index: DemandIndex | None = None) -> Reach:
    """Walking distances (metres) from each candidate to every demand point within ``limit_m``.

    Parameters
    ----------
    net : the walking network (metric CRS).
    cand : snapped candidate sites; candidates off the network reach nothing.
    dem : snapped demand points; points off the network are never reached.
    limit_m : search radius in metres (e.g. the circle's minutes x metres per minute).
    chunk : candidates per Dijkstra call.
    index : ``catchment.index_demand(net, dem)`` computed once, to reuse across calls with the same points.

    Returns
    -------
    Reach with one entry per (candidate, demand point) pair at most ``limit_m`` apart.
    """
    m = travel_matrix(net, cand, dem, limit_m, chunk=chunk, index=index)
    return Reach(m.fac, m.dem, m.dist_m, (len(cand), len(dem)))
