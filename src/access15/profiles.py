"""Travel profiles by road class: edge weights in minutes for rural (cycling / driving) circles.

A profile (``data/speeds.toml``) gives a speed in km/h per OSM highway class. Every edge's travel time is
its length divided by its class's speed (vectorised over edges via the ``edge_highway`` kept by
:class:`access15.network.WalkNetwork`); the search then runs on minutes instead of metres with the same
engine as walking (:func:`access15.routing.nearest_facility`), on a copy of the network whose edge
"lengths" are minutes and whose snapped offsets are rescaled edge by edge. Access legs between a point and
the street are walked at the analysis walking speed.

Complexity: O(E) to weight the edges, then one Dijkstra as for walking.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pandas as pd

from .config import CategoryConfig
from .network import WalkNetwork
from .presets import load_profiles
from .routing import NearestResult, nearest_facility
from .snap import Snapped


def edge_minutes(net: WalkNetwork, profile: dict) -> np.ndarray:
    """Minutes to traverse each edge under ``profile`` (speeds in km/h by highway class)."""
    speeds = profile.get("highway", {})
    default = float(profile["default"])
    if net.edge_highway is None:
        kmh = np.full(net.n_edges, default)
    else:
        kmh = pd.Series(net.edge_highway, dtype=object).map(speeds).astype(float).fillna(default).to_numpy()
    return net.edge_length / (kmh * 1000.0 / 60.0)


def profile_network(net: WalkNetwork, profile: dict,
                    walk_m_per_min: float) -> tuple[WalkNetwork, Callable[[Snapped], Snapped]]:
    """The network with edge "lengths" in minutes under ``profile``, and the function that rescales
    snapped points to it (offsets along edges in minutes; access legs walked at ``walk_m_per_min``)."""
    minutes = edge_minutes(net, profile)
    tnet = dataclasses.replace(net, edge_length=minutes, info=dict(net.info))
    for key in ("graph", "component", "tree"):
        tnet.__dict__.pop(key, None)  # cached properties of the metre network must not carry over
    tnet.__dict__["tree"] = net.tree  # same geometry: the spatial index can be shared

    def rescale(s: Snapped) -> Snapped:
        e = np.maximum(s.edge, 0)
        per_m = np.divide(minutes[e], net.edge_length[e], out=np.zeros(len(e)), where=net.edge_length[e] > 0)
        out = Snapped(s.edge, s.offset_m * per_m, s.dist_m / walk_m_per_min, s.xy)
        if s.alt_edge is not None:
            a = np.maximum(s.alt_edge, 0)
            alt_per_m = np.divide(minutes[a], net.edge_length[a], out=np.zeros(len(a)), where=net.edge_length[a] > 0)
            out = dataclasses.replace(out, alt_edge=s.alt_edge, alt_offset_m=s.alt_offset_m * alt_per_m,
                                      alt_dist_m=s.alt_dist_m / walk_m_per_min, alt_xy=s.alt_xy)
        return out

    return tnet, rescale


def profile_nearest(net: WalkNetwork, fac: Snapped, dem: Snapped, profile: dict, walk_m_per_min: float,
                    limit_min: float) -> NearestResult:
    """Minutes from each demand point to its nearest facility under ``profile`` (``dist_m`` holds minutes)."""
    tnet, rescale = profile_network(net, profile, walk_m_per_min)
    return nearest_facility(tnet, rescale(fac), rescale(dem), limit_m=limit_min)


def class_profile_times(net: WalkNetwork, fac: Snapped, dem: Snapped, category: CategoryConfig, cls: np.ndarray,
                        walk_m_per_min: float, limit_min: float, times: pd.DataFrame, res: NearestResult) -> None:
    """Replace, for the demand points of each class with a profile, the category's walking minutes in
    ``times`` (and the nearest facility in ``res``) by the profile's minutes. One search per profile."""
    profiles = load_profiles()
    for cls_name, pname in category.profile_by_class.items():
        pts = np.flatnonzero(pd.Series(cls, dtype=object).eq(cls_name).to_numpy())
        if len(pts) == 0:
            continue
        r = profile_nearest(net, fac, dem.take(pts), profiles[pname], walk_m_per_min, limit_min)
        col = times.columns.get_loc(category.name)
        times.iloc[pts, col] = r.dist_m
        res.dist_m[pts] = r.dist_m * walk_m_per_min  # metres-equivalent, kept consistent with times
        res.facility[pts] = r.facility
