"""On-disk cache of built walking networks (and of snapped points), so a second run skips parsing the OSM
file and snapping.

A cached network is one ``.npz`` file (plain NumPy arrays: nodes, edges, lengths, edge polylines as flat
coordinates plus offsets, the CRS as WKT) named by a key: the SHA-256 of the input file's bytes and of the
settings that shape the network (tag rules, line tolerance, layer, bounding box, CRS, cache format). Any
change to the file or a setting gives a new key, so a stale entry is never used; entries are written to a
temporary name and renamed, so a crash never leaves a half-written entry.

Snapped points are stored beside it (:func:`snap_cached`), keyed by the network's key, the points'
coordinates and the snap limit.

Complexity: hashing is O(file size) streamed in 1 MiB blocks; loading is O(V) for V stored vertices
(one ``shapely.linestrings`` call), typically 10-50x faster than parsing the PBF.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pyproj
import shapely

from .network import WalkNetwork
from .provenance import sha256_file

#: Bump when the stored layout or the network builder changes meaning, to invalidate old entries.
CACHE_FORMAT = 1


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pyproj.CRS):
        return value.to_wkt()
    if isinstance(value, Path):
        return str(value)
    return value


def cache_key(path: str | Path, settings: dict) -> str:
    """The key of a network built from ``path`` with ``settings`` (any JSON-able values, dataclasses, CRS)."""
    payload = json.dumps({"file": sha256_file(path), "format": CACHE_FORMAT, "settings": _jsonable(settings)},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def save_network(net: WalkNetwork, target: str | Path) -> Path:
    """Write ``net`` to ``target`` (.npz) atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    coords, idx = shapely.get_coordinates(net.edge_geometry, return_index=True)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(idx, minlength=net.n_edges))]).astype(np.int64)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, node_xy=net.node_xy, node_id=net.node_id, edge_u=net.edge_u, edge_v=net.edge_v,
                     edge_length=net.edge_length, coords=coords, offsets=offsets,
                     crs=np.array(net.crs.to_wkt()), source=np.array(net.source),
                     info=np.array(json.dumps(_jsonable(net.info))))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_cached(target: str | Path) -> WalkNetwork | None:
    """The network stored at ``target``, or None when it is missing or unreadable (then it is rebuilt)."""
    target = Path(target)
    if not target.is_file():
        return None
    try:
        with np.load(target, allow_pickle=False) as z:
            offsets = z["offsets"]
            counts = np.diff(offsets)
            geoms = shapely.linestrings(z["coords"], indices=np.repeat(np.arange(len(counts)), counts))
            net = WalkNetwork(crs=pyproj.CRS.from_wkt(str(z["crs"])), node_xy=z["node_xy"], node_id=z["node_id"],
                              edge_u=z["edge_u"], edge_v=z["edge_v"], edge_length=z["edge_length"],
                              edge_geometry=geoms, source=str(z["source"]), info=json.loads(str(z["info"])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pyproj.exceptions.CRSError,
            shapely.errors.GEOSException):
        return None
    net.info["cache"] = "hit"
    return net


class NetworkCache:
    """A folder of cached networks. ``get_or_build(path, settings, build)`` returns the cached network for
    this file and these settings, or calls ``build()`` and stores its result."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def entry(self, path: str | Path, settings: dict) -> Path:
        """Where the network for ``path`` and ``settings`` is (or would be) stored."""
        return self.folder / f"{Path(path).name}.{cache_key(path, settings)[:24]}.npz"

    def get_or_build(self, path: str | Path, settings: dict, build) -> WalkNetwork:
        target = self.entry(path, settings)
        net = load_cached(target)
        if net is None:
            net = build()
            save_network(net, target)
            net.info["cache"] = "miss"
        net.info["cache_key"] = target.stem
        return net


def snap_cached(net: WalkNetwork, xy: np.ndarray, max_snap_m: float, folder: str | Path | None):
    """:func:`access15.snap.snap_points`, stored in ``folder`` for a network that came from the cache.

    The key is the network's cache key, the points' coordinates (bytes) and ``max_snap_m``; without a cache key
    (a network not built through the cache) or a folder, the points are simply snapped.
    """
    from .snap import Snapped, snap_points

    xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    key = net.info.get("cache_key")
    if folder is None or key is None:
        return snap_points(net, xy, max_snap_m)
    h = hashlib.sha256(f"{key}|{max_snap_m!r}|{CACHE_FORMAT}|".encode() + xy.tobytes()).hexdigest()[:24]
    target = Path(folder) / f"snap.{h}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return Snapped(z["edge"], z["offset_m"], z["dist_m"], z["xy"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # damaged: snap again and overwrite
    snapped = snap_points(net, xy, max_snap_m)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, edge=snapped.edge, offset_m=snapped.offset_m, dist_m=snapped.dist_m, xy=snapped.xy)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return snapped


def _configured(cfg, rules):
    from .network import load_network
    from .osm import load_tag_rules

    net_cfg = cfg.network
    path = cfg.resolve(net_cfg.path)
    rules = rules if rules is not None else load_tag_rules(cfg.resolve(net_cfg.tags) if net_cfg.tags else None)
    bbox = tuple(net_cfg.bbox) if net_cfg.bbox else None

    def build() -> WalkNetwork:
        return load_network(path, rules, net_cfg.line_tolerance_m, net_cfg.layer, bbox)

    settings = {"rules": rules, "line_tolerance_m": net_cfg.line_tolerance_m, "layer": net_cfg.layer,
                "bbox": bbox}
    return path, settings, build


def load_configured_network(cfg, rules=None) -> WalkNetwork:
    """The network of a :class:`~access15.config.Config`: loaded with its ``[network]`` settings (``bbox``
    clip included), through the cache in ``cache_dir`` when ``cache = true``."""
    path, settings, build = _configured(cfg, rules)
    if not cfg.network.cache or not path.is_file():
        return build()  # (a missing file raises its InputError here)
    return NetworkCache(cfg.resolve(cfg.network.cache_dir)).get_or_build(path, settings, build)


def ensure_cached(cfg, rules=None) -> tuple[Path, WalkNetwork]:
    """Build (or find) the config's network in its cache folder, whatever ``cache`` says; return the entry's
    path and the network. Workers of a batch load the entry instead of parsing the file again."""
    path, settings, build = _configured(cfg, rules)
    if not path.is_file():
        build()  # raises the InputError for the missing file
    cache = NetworkCache(cfg.resolve(cfg.network.cache_dir))
    return cache.entry(path, settings), cache.get_or_build(path, settings, build)
