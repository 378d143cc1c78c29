"""How the people a circle is for walk: per-edge, per-direction walking costs from slope, steps and profiles.

A walking profile (``data/walk_profiles.toml``, :class:`~access15.presets.WalkProfile`) sets a flat speed and
how slope, steps and tagged ways change it. This module turns a profile, the network's per-edge OSM tags and
(optionally) the edges' elevation profiles (:mod:`access15.elevation`) into :class:`~access15.routing.EdgeRates`:
for every edge and each direction, the cost in metres of flat walking per metre of edge (1 on the flat).

Slope (Tobler 1993, as used by r5r): on a segment of slope ``s`` (rise / run, in the walking direction) the
speed is ``kmh * exp(-b |s + c|) / exp(-b c)`` (Tobler's b = 3.5, c = 0.05), normalised so it is exactly the
profile's flat speed at s = 0; ``max_speedup`` caps the downhill gain. An edge's rate in a direction is its
time at that speed over every sampled segment, as flat metres, divided by its length:
``sum(len_k / ratio(s_k)) / sum(len_k)`` -- exactly 1 when every segment is flat, so a flat DEM reproduces the
flat results to the last bit. Steps (named profiles with ``step_up_s``): ``highway=steps`` take a time per step
instead (``step_count`` where tagged, else length / ``step_tread_m``; up or down from the ``incline`` tag, else the
DEM, else the mean of both). Prohibitions (``no_steps`` unless ``steps_with``, ``no_wheelchair``, ``max_slope``)
make an edge unusable (rate ``inf``). The full model and the source of every number: docs/walking.md.

Complexity: O(S) for S sampled segments (a handful of ``bincount``) plus O(E) over edges; no Python loop over
edges. The elevation profile is sampled once per network and DEM and kept on the network object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .elevation import EdgeProfile, sample_edges
from .network import WalkNetwork
from .presets import WalkProfile, check_walk_profile, load_walk_profiles
from .routing import EdgeRates

#: The slope model when a category names no profile: Tobler's function at the [speed] speed, nothing else.
DEFAULT_MODEL = WalkProfile(name="default", label="", tobler_b=3.5, tobler_c=0.05)


def speed_ratio(slope: np.ndarray, p: WalkProfile) -> np.ndarray:
    """Walking speed on ``slope`` (rise / run) over the flat speed: ``exp(-b|s + c|) / exp(-b c)``, capped at
    ``max_speedup``; exactly 1.0 at s = 0 (computed as ``exp(-b (|s + c| - |c|))``)."""
    r = np.exp(-p.tobler_b * (np.abs(slope + p.tobler_c) - abs(p.tobler_c)))
    return r if p.max_speedup is None else np.minimum(r, p.max_speedup)


def _number(values: np.ndarray | None, n: int) -> np.ndarray:
    """Numeric OSM tag values (e.g. step_count "24"; "12%" -> 12) as floats, NaN where absent or not a number."""
    if values is None:
        return np.full(n, np.nan)
    s = pd.Series(values, dtype=object).astype("string").str.strip().str.rstrip("%°")
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _is(values: np.ndarray | None, word: str, n: int) -> np.ndarray:
    """Boolean per edge: the tag equals ``word``."""
    return np.zeros(n, dtype=bool) if values is None else pd.Series(values, dtype=object).eq(word).to_numpy()


def crossing_waits(net: WalkNetwork, profile: WalkProfile) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of waiting per edge and direction at crossings of major roads: (walking u -> v, v -> u).

    A walker waits when it enters, along an edge that is not a major road (highway class not in
    ``profile.major_roads``), a node that lies on a major road and is a crossing (``net.node_crossing``):
    ``wait_signals_s`` at a signalised one, ``wait_uncontrolled_s`` at another. Walking along the major road
    through the node, leaving it, and road-line networks (no node tags) wait nothing. O(E)."""
    E = net.n_edges
    if net.node_crossing is None or net.edge_highway is None:
        return np.zeros(E), np.zeros(E)
    major = pd.Series(net.edge_highway, dtype=object).isin(profile.major_roads).to_numpy()
    on_major = np.bincount(np.concatenate([net.edge_u[major], net.edge_v[major]]), minlength=net.n_nodes) > 0
    kind = pd.Series(net.node_crossing, dtype=object)
    wait = np.where(kind.eq("traffic_signals").to_numpy(), profile.wait_signals_s,
                    np.where(kind.eq("uncontrolled").to_numpy(), profile.wait_uncontrolled_s, 0.0)) * on_major
    return np.where(major, 0.0, wait[net.edge_v]), np.where(major, 0.0, wait[net.edge_u])


def edge_rates(net: WalkNetwork, profile: WalkProfile, elev: EdgeProfile | None = None,
               waits: bool = False) -> EdgeRates:
    """Per-direction walking cost of every edge per metre (flat metres of ``profile`` walking; ``inf`` =
    unusable), from the slope of the sampled segments, steps, the profile's prohibitions and, with ``waits``,
    the waits at crossings of major roads (:func:`crossing_waits`, as flat metres at the profile's speed spread
    over the edge). O(S + E)."""
    E = net.n_edges
    L = net.edge_length
    fwd, bwd = np.ones(E), np.ones(E)
    rise = np.zeros(E)
    if elev is not None and len(elev.seg_edge):
        seg_e, seg_l = elev.seg_edge, elev.seg_len
        slope = np.divide(elev.seg_rise, seg_l, out=np.zeros(len(seg_l)), where=seg_l > 0)
        total = np.bincount(seg_e, weights=seg_l, minlength=E)
        has = total > 0
        for out, s in ((fwd, slope), (bwd, -slope)):
            t = np.bincount(seg_e, weights=seg_l / speed_ratio(s, profile), minlength=E)
            out[has] = t[has] / total[has]
        if profile.max_slope is not None:
            steep = np.bincount(seg_e, weights=(np.abs(slope) > profile.max_slope).astype(np.float64), minlength=E) > 0
            fwd[steep] = bwd[steep] = np.inf
        rise = elev.edge_rise(E)
    hw = net.edge_highway
    steps = _is(hw, "steps", E)
    if steps.any() and profile.step_up_s is not None:
        count = _number(net.edge_step_count, E)
        n = np.where(np.isfinite(count) & (count > 0), count, L / profile.step_tread_m)
        incline = pd.Series(net.edge_incline if net.edge_incline is not None else np.full(E, None), dtype=object)
        num = _number(net.edge_incline, E)
        up = incline.eq("up").to_numpy() | (num > 0)
        down = incline.eq("down").to_numpy() | (num < 0)
        unknown = ~(up | down)
        up |= unknown & (rise > 0)
        down |= unknown & (rise < 0)
        per_m = profile.m_per_min / 60.0  # flat metres per second of the profile
        t_up, t_down = n * profile.step_up_s * per_m, n * profile.step_down_s * per_m
        t_mean = (t_up + t_down) / 2
        cost_f = np.where(up, t_up, np.where(down, t_down, t_mean))
        cost_b = np.where(up, t_down, np.where(down, t_up, t_mean))
        ok = steps & (L > 0)
        fwd[ok] = cost_f[ok] / L[ok]
        bwd[ok] = cost_b[ok] / L[ok]
    if profile.no_steps and steps.any():
        allowed = np.zeros(E, dtype=bool)
        for tag in profile.steps_with:
            allowed |= _is(getattr(net, "edge_" + tag.replace(":", "_"), None), "yes", E)
        blocked = steps & ~allowed
        fwd[blocked] = bwd[blocked] = np.inf
    if profile.no_wheelchair:
        blocked = _is(net.edge_wheelchair, "no", E)
        fwd[blocked] = bwd[blocked] = np.inf
    if profile.no_kerbs and net.edge_kerb is not None:
        blocked = pd.Series(net.edge_kerb, dtype=object).isin(profile.no_kerbs).to_numpy()
        fwd[blocked] = bwd[blocked] = np.inf
    if waits:
        per_m = profile.m_per_min / 60.0  # flat metres per second of the profile
        for out, w in zip((fwd, bwd), crossing_waits(net, profile)):
            ok = (w > 0) & (L > 0)
            out[ok] += w[ok] * per_m / L[ok]
    return EdgeRates(fwd, bwd)


@dataclass
class Walker:
    """How one category's residents are routed.

    ``profile``: the walking profile (``None``: the [speed] speed, symmetric lengths, today's engine);
    ``m_per_min``: flat speed, metres per minute; ``rates``: per-direction edge costs, or None for the
    undirected fast path; ``rest_share``: rest allowance; ``label``: what the coverage table states.
    """

    profile: str | None
    m_per_min: float
    rates: EdgeRates | None
    rest_share: float
    label: str

    def minutes(self, cost_m: np.ndarray) -> np.ndarray:
        """Minutes for costs in flat metres (the rest allowance added)."""
        t = np.asarray(cost_m) / self.m_per_min
        return t * (1.0 + self.rest_share) if self.rest_share else t

    def limit_m(self, minutes: float) -> float:
        """The flat-metre cost of ``minutes`` (the search limit)."""
        m = minutes * self.m_per_min
        return m / (1.0 + self.rest_share) if self.rest_share else m


def edge_profile(net: WalkNetwork, path: str | Path, spacing_m: float) -> EdgeProfile:
    """The edges' elevation profile from the DEM at ``path`` (see :func:`access15.elevation.sample_edges`),
    sampled once per network, DEM and spacing and kept on the network object."""
    memo = net.__dict__.setdefault("_edge_profiles", {})
    key = (str(Path(path).resolve()), float(spacing_m))
    if key not in memo:
        memo[key] = sample_edges(net, path, spacing_m)
    return memo[key]


def _setting(cfg: Config, net: WalkNetwork) -> tuple[EdgeProfile | None, bool, str]:
    """(the edges' elevation profile or None, crossing waits on, the label suffix such as ", slope")."""
    elev = None
    if cfg.network.elevation:
        elev = edge_profile(net, cfg.resolve(cfg.network.elevation), cfg.network.elevation_spacing_m)
    waits = cfg.network.crossing_waits
    return elev, waits, (", slope" if elev is not None else "") + (", crossing waits" if waits else "")


def _named_walker(cfg: Config, net: WalkNetwork, name: str, where: str, rates: dict) -> Walker:
    """The walker of the named profile under ``cfg``'s elevation and waits (rates kept in ``rates``)."""
    elev, waits, suffix = _setting(cfg, net)
    p = check_walk_profile(name, cfg.source or "config", where)
    if name not in rates:
        rates[name] = edge_rates(net, p, elev, waits)
    return Walker(name, p.m_per_min, rates[name], p.rest_share, f"{name} {p.kmh:g} km/h{suffix}")


def walkers(cfg: Config, net: WalkNetwork) -> dict[str, Walker]:
    """The :class:`Walker` of every category of ``cfg``: the default (no ``profile``) walks at the [speed]
    speed, on the undirected lengths without ``[network] elevation`` (exactly as before issue 15) and with
    Tobler's slope model with it; a named profile always routes directed. Rates are computed once per profile."""
    elev, waits, suffix = _setting(cfg, net)
    default_label = (f"{cfg.kmh:g} km/h" if cfg.speed_kmh is not None else f"{cfg.speed_profile} {cfg.kmh:g} km/h")
    rates: dict[str | None, EdgeRates | None] = {}
    out: dict[str, Walker] = {}
    for cat, kcfg in cfg.categories.items():
        name = kcfg.profile
        if name is None:
            if None not in rates:
                model = DEFAULT_MODEL
                if waits:  # the [speed] walker waits as the adult walker of walk_profiles.toml does
                    walk = load_walk_profiles()["walk"]
                    model = replace(DEFAULT_MODEL, kmh=cfg.kmh, wait_signals_s=walk.wait_signals_s,
                                    wait_uncontrolled_s=walk.wait_uncontrolled_s, major_roads=walk.major_roads)
                rates[None] = None if elev is None and not waits else edge_rates(net, model, elev, waits)
            out[cat] = Walker(None, cfg.speed_m_per_min, rates[None], 0.0, default_label + suffix)
            continue
        out[cat] = _named_walker(cfg, net, name, f"[categories.{cat}] profile", rates)
    return out


def map_walkers(cfg: Config, net: WalkNetwork) -> dict[str, Walker]:
    """The walkers of ``[output] map_profiles`` by profile name (each routes every category for the map's
    profile switch), under the run's elevation and crossing waits."""
    rates: dict[str, EdgeRates] = {}
    return {name: _named_walker(cfg, net, name, "[output] map_profiles", rates) for name in cfg.output.map_profiles}
