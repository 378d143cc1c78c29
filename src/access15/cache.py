"""On-disk caches: built walking networks, snapped points, and whole analyses.

**One network format.** :func:`save_network` writes every field of a :class:`~access15.network.WalkNetwork`
into one ``.npz`` file (numeric arrays as they are, edge polylines as flat coordinates, object arrays such as
the per-edge road class as integer codes plus their values, the CRS as WKT, the rest as JSON);
:func:`load_network_file` reads it back field for field. The fields are enumerated from the dataclass, so a
field added later is stored too, or the save fails loudly (:class:`Uncacheable`). The network cache, the
analysis cache and the workers of ``access15 batch`` all use this one format.

**The network cache** (``[network] cache = true``) names an entry by a key: the SHA-256 of the input file's
bytes and of the settings that shape the network (tag rules, line tolerance, layer, bounding box, format).
Any change gives a new key, so a stale entry is never used. Snapped points are stored beside it
(:func:`snap_cached`), keyed by the network's key, the points' coordinates and the snap limit.

**The analysis cache** (:class:`AnalysisCache`, used by siting) names an entry folder by a SHA-256 key over the
cache format, the access15 version and source code, the config and the bytes of every input file it names.
Inside: the network (the one format above), every table and GeoDataFrame of the
:class:`~access15.result.AnalysisResult` as (Geo)Parquet, the remaining fields as JSON; other modules may add
their own arrays (:meth:`AnalysisCache.save_extra`). The newest :data:`KEEP_ENTRIES` entries are kept.

Every entry is written under a temporary name and renamed into place, so a crash never leaves a half-written
entry. Complexity: hashing O(input bytes), streamed; loading a network O(V) for V stored vertices (one
``shapely.linestrings`` call), typically 10-50x faster than parsing the PBF.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely

from ._version import __version__
from .config import Config
from .demand import Grid
from .graphs import is_graphml, network_from_graphml
from .io.osm import TagRules, load_tag_rules
from .network import WalkNetwork, load_network
from .provenance import sha256_file
from .result import AnalysisResult
from .schema import plain
from .snap import Snapped, snap_points

#: Bump when the stored network layout or the network builder changes meaning, to invalidate old entries.
NETWORK_FORMAT = 5  # 3: second attachments in snaps; 4: per-edge walking tags (wheelchair, ramp, step_count, incline); 5: kerbs per edge, crossings per node
#: Bump when the analysis entry layout changes.
ANALYSIS_FORMAT = 2
KEEP_ENTRIES = 4
CACHE_DIRNAME = ".access15-analysis"
_LOAD_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pyproj.exceptions.CRSError,
                shapely.errors.GEOSException)


class Uncacheable(Exception):
    """A value of a type the cache cannot store (the analysis then simply is not cached)."""


def _atomic(target: Path, write: Callable[[Any], None], suffix: str) -> Path:
    """Call ``write(file)`` on a temporary file beside ``target``, then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --- the one network format -----------------------------------------------------------------------------

def save_network(net: WalkNetwork, target: str | Path) -> Path:
    """Write every field of ``net`` to ``target`` (.npz) atomically.

    Raises
    ------
    Uncacheable : a field holds a value this format cannot store (its name is in the message).
    """
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"format": NETWORK_FORMAT, "json": {}, "objects": {}}
    for f in dataclasses.fields(net):
        value = getattr(net, f.name)
        if f.name == "edge_geometry":
            arrays["edge_geometry.coords"], arrays["edge_geometry.line"] = shapely.get_coordinates(
                value, return_index=True)
        elif isinstance(value, pyproj.CRS):
            meta["crs"] = {"field": f.name, "wkt": value.to_wkt()}
        elif isinstance(value, np.ndarray) and value.dtype != object:
            arrays[f.name] = value
        elif isinstance(value, np.ndarray):  # e.g. the road class of each edge: codes + values, None as -1
            codes, values = pd.factorize(value, use_na_sentinel=True)
            if not all(isinstance(v, str) for v in values):
                raise Uncacheable(f"network field '{f.name}' holds values that are not text")
            arrays[f"{f.name}.codes"] = codes.astype(np.int32)
            meta["objects"][f.name] = [str(v) for v in values]
        else:
            try:
                json.dumps(value)
            except TypeError:
                raise Uncacheable(f"network field '{f.name}' of type {type(value).__name__}") from None
            meta["json"][f.name] = value
    arrays["meta"] = np.array(json.dumps(meta))
    return _atomic(Path(target), lambda fh: np.savez(fh, **arrays), ".npz")


def load_network_file(target: str | Path) -> WalkNetwork:
    """The network :func:`save_network` wrote to ``target`` (every field as it was)."""
    with np.load(target, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    meta = json.loads(str(a.pop("meta")))
    if meta.get("format") != NETWORK_FORMAT:
        raise ValueError(f"network format {meta.get('format')!r}, expected {NETWORK_FORMAT}")
    values: dict[str, Any] = {k: v for k, v in a.items() if "." not in k}
    values["edge_geometry"] = shapely.linestrings(a["edge_geometry.coords"], indices=a["edge_geometry.line"])
    values[meta["crs"]["field"]] = pyproj.CRS.from_wkt(meta["crs"]["wkt"])
    for name, vals in meta["objects"].items():
        codes = a[f"{name}.codes"]
        out = np.full(len(codes), None, dtype=object)
        out[codes >= 0] = np.asarray(vals, dtype=object)[codes[codes >= 0]]
        values[name] = out
    values.update(meta["json"])
    return WalkNetwork(**values)


def load_cached(target: str | Path) -> WalkNetwork | None:
    """The network stored at ``target``, or None when it is missing or unreadable (then it is rebuilt)."""
    target = Path(target)
    if not target.is_file():
        return None
    try:
        net = load_network_file(target)
    except _LOAD_ERRORS + (TypeError,):
        return None
    net.info["cache"] = "hit"
    return net


# --- the network cache --------------------------------------------------------------------------------

def _json_default(value: Any) -> Any:
    if isinstance(value, pyproj.CRS):
        return value.to_wkt()
    raise TypeError(type(value).__name__)


def cache_key(path: str | Path, settings: dict) -> str:
    """The key of a network built from ``path`` with ``settings`` (any JSON-able values, dataclasses, CRS)."""
    payload = json.dumps({"file": sha256_file(path), "format": NETWORK_FORMAT, "settings": plain(settings)},
                         sort_keys=True, default=_json_default)
    return hashlib.sha256(payload.encode()).hexdigest()


class NetworkCache:
    """A folder of cached networks. ``get_or_build(path, settings, build)`` returns the cached network for
    this file and these settings, or calls ``build()`` and stores its result."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def entry(self, path: str | Path, settings: dict) -> Path:
        """Where the network for ``path`` and ``settings`` is (or would be) stored."""
        return self.folder / f"{Path(path).name}.{cache_key(path, settings)[:24]}.npz"

    def get_or_build(self, path: str | Path, settings: dict, build: Callable[[], WalkNetwork]) -> WalkNetwork:
        """The cached network, or ``build()``'s, stored for next time."""
        target = self.entry(path, settings)
        net = load_cached(target)
        if net is None:
            net = build()
            save_network(net, target)
            net.info["cache"] = "miss"
        net.info["cache_key"] = target.stem
        return net


def snap_cached(net: WalkNetwork, xy: np.ndarray, max_snap_m: float, folder: str | Path | None) -> Snapped:
    """:func:`access15.snap.snap_points`, stored in ``folder`` for a network that came from the cache.

    The key is the network's cache key, the points' coordinates (bytes) and ``max_snap_m``; without a cache key
    (a network not built through the cache) or a folder, the points are simply snapped.
    """
    xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    key = net.info.get("cache_key")
    if folder is None or key is None:
        return snap_points(net, xy, max_snap_m)
    h = hashlib.sha256(f"{key}|{max_snap_m!r}|{NETWORK_FORMAT}|".encode() + xy.tobytes()).hexdigest()[:24]
    target = Path(folder) / f"snap.{h}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return Snapped.from_arrays({k: z[k] for k in z.files})
        except _LOAD_ERRORS:
            pass  # damaged: snap again and overwrite
    snapped = snap_points(net, xy, max_snap_m)
    _atomic(target, lambda fh: np.savez(fh, **snapped.arrays()), ".npz")
    return snapped


def _configured(cfg: Config, rules: TagRules | None) -> tuple[Path, dict, Callable[[], WalkNetwork]]:
    net_cfg = cfg.network
    path = cfg.resolve(net_cfg.path)
    rules = rules if rules is not None else load_tag_rules(cfg.resolve(net_cfg.tags) if net_cfg.tags else None)
    bbox = tuple(net_cfg.bbox) if net_cfg.bbox else None

    def build() -> WalkNetwork:
        if is_graphml(path):  # an OSMnx graph saved as GraphML
            return network_from_graphml(path)
        return load_network(path, rules, net_cfg.line_tolerance_m, net_cfg.layer, bbox)

    settings = {"rules": rules, "line_tolerance_m": net_cfg.line_tolerance_m, "layer": net_cfg.layer,
                "bbox": bbox}
    return path, settings, build


def load_configured_network(cfg: Config, rules: TagRules | None = None) -> WalkNetwork:
    """The network of a :class:`~access15.config.Config`: loaded with its ``[network]`` settings (``bbox``
    clip included), through the cache in ``cache_dir`` when ``cache = true``."""
    path, settings, build = _configured(cfg, rules)
    if not cfg.network.cache or not path.is_file():
        return build()  # (a missing file raises its InputError here)
    return NetworkCache(cfg.resolve(cfg.network.cache_dir)).get_or_build(path, settings, build)


def ensure_cached(cfg: Config, rules: TagRules | None = None) -> tuple[Path, WalkNetwork]:
    """Build (or find) the config's network in its cache folder, whatever ``cache`` says; return the entry's
    path and the network. Workers of a batch load the entry instead of parsing the file again."""
    path, settings, build = _configured(cfg, rules)
    if not path.is_file():
        build()  # raises the InputError for the missing file
    cache = NetworkCache(cfg.resolve(cfg.network.cache_dir))
    return cache.entry(path, settings), cache.get_or_build(path, settings, build)


# --- the analysis cache -------------------------------------------------------------------------------

def _config_strings(value: Any) -> list[str]:
    """Every string inside a config value (dataclasses, dicts, lists), depth first."""
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in _config_strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _config_strings(k) + _config_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _config_strings(v)]
    return [value] if isinstance(value, str) else []


def input_files(cfg: Config) -> list[Path]:
    """The existing files a config refers to (any string setting that resolves to a file)."""
    found = []
    for s in _config_strings(cfg):
        if not s or len(s) > 4096 or "\n" in s:
            continue
        try:
            p = cfg.resolve(s)
            if p.is_file():
                found.append(p.resolve())
        except (OSError, ValueError):
            continue
    return sorted(set(found))


def _code_digest() -> str:
    """SHA-256 over access15's own source files and data, so new code never reads an old entry."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(list(pkg.rglob("*.py")) + list(pkg.rglob("*.toml"))):
        h.update(p.relative_to(pkg).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def analysis_key(cfg: Config) -> str:
    """The SHA-256 key of an analysis: format, version, code, settings and every input file's bytes."""
    h = hashlib.sha256()
    h.update(f"access15-cache {ANALYSIS_FORMAT} {__version__}\n".encode())
    h.update(_code_digest().encode())
    settings = plain(cfg)
    settings.pop("source", None)
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for p in input_files(cfg):
        h.update(f"\n{p}\n{sha256_file(p)}".encode())
    return h.hexdigest()


def default_cache_dir(cfg: Config) -> Path:
    """``<output dir>/.access15-analysis``: beside the outputs the analysis writes."""
    return cfg.resolve(cfg.output.dir) / CACHE_DIRNAME


def _save_value(name: str, value: Any, folder: Path) -> dict:
    if value is None:
        return {"kind": "none"}
    if isinstance(value, WalkNetwork):
        save_network(value, folder / f"{name}.npz")
        return {"kind": "network"}
    if isinstance(value, pd.DataFrame):
        try:
            value.to_parquet(folder / f"{name}.parquet")
        except (ValueError, TypeError, ImportError, pa.ArrowException) as exc:  # e.g. a column of mixed types
            raise Uncacheable(f"field '{name}': {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        return {"kind": "geoparquet" if isinstance(value, gpd.GeoDataFrame) else "parquet"}
    if isinstance(value, Grid):
        return {"kind": "grid", "value": dataclasses.asdict(value)}
    try:
        json.dumps(value)
    except TypeError:
        raise Uncacheable(f"field '{name}' of type {type(value).__name__}") from None
    return {"kind": "json", "value": value}


def _load_value(name: str, meta: dict, folder: Path) -> Any:
    kind = meta["kind"]
    if kind == "none":
        return None
    if kind == "network":
        return load_network_file(folder / f"{name}.npz")
    if kind == "geoparquet":
        return gpd.read_parquet(folder / f"{name}.parquet")
    if kind == "parquet":
        return pd.read_parquet(folder / f"{name}.parquet")
    if kind == "grid":
        return Grid(**meta["value"])
    return meta["value"]


class AnalysisCache:
    """The cache entry of one config. ``root`` defaults to :func:`default_cache_dir`."""

    def __init__(self, cfg: Config, root: str | Path | None = None) -> None:
        self.cfg = cfg
        self.root = Path(root) if root is not None else default_cache_dir(cfg)
        self.key = analysis_key(cfg)
        self.dir = self.root / self.key
        self.skipped = ""  # why the last save stored nothing

    @property
    def exists(self) -> bool:
        """Whether a complete entry for this config is on disk."""
        return (self.dir / "result.json").is_file()

    def load(self) -> AnalysisResult | None:
        """The cached result (config = the one given), or None when there is no usable entry."""
        if not self.exists:
            return None
        t0 = time.perf_counter()
        try:
            meta = json.loads((self.dir / "result.json").read_text(encoding="utf-8"))
            values = {name: _load_value(name, m, self.dir) for name, m in meta["fields"].items()}
        except _LOAD_ERRORS + (TypeError,):
            return None  # an unreadable entry is rebuilt, never trusted
        values["config"] = self.cfg
        names = {f.name for f in dataclasses.fields(AnalysisResult)}
        if not {f.name for f in dataclasses.fields(AnalysisResult)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING} <= set(values):
            return None  # written by a different AnalysisResult layout
        result = AnalysisResult(**{k: v for k, v in values.items() if k in names})
        result.timings = {"load cache": time.perf_counter() - t0}
        os.utime(self.dir)  # most recently used
        return result

    def save(self, result: AnalysisResult) -> bool:
        """Write ``result`` as this config's entry (atomically). False when a field cannot be cached."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            fields = {}
            for f in dataclasses.fields(result):
                if f.name == "config":
                    continue
                fields[f.name] = _save_value(f.name, getattr(result, f.name), tmp)
            (tmp / "result.json").write_text(json.dumps({"key": self.key, "fields": fields}), encoding="utf-8")
            if self.dir.exists():
                shutil.rmtree(self.dir, ignore_errors=True)
            os.replace(tmp, self.dir)
        except Uncacheable as exc:
            self.skipped = str(exc)
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._prune()
        return True

    def _prune(self) -> None:
        entries = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_ENTRIES:]:
            shutil.rmtree(old, ignore_errors=True)

    def load_extra(self, name: str) -> dict[str, Any] | None:
        """Arrays and GeoDataFrames another module stored with :meth:`save_extra`, or None."""
        path = self.dir / f"extra_{name}.json"
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            out: dict[str, Any] = {}
            for key, kind in meta.items():
                f = self.dir / f"extra_{name}_{key}"
                out[key] = gpd.read_parquet(f.with_suffix(".parquet")) if kind == "gdf" else np.load(f.with_suffix(".npy"))
            return out
        except (OSError, ValueError):
            return None

    def save_extra(self, name: str, items: dict[str, Any]) -> None:
        """Store numpy arrays and GeoDataFrames under ``name`` in this entry (the entry must exist)."""
        if not self.exists:
            return
        meta = {}
        for key, value in items.items():
            f = self.dir / f"extra_{name}_{key}"
            if isinstance(value, gpd.GeoDataFrame):
                tmp = f.with_suffix(".parquet.tmp")
                value.to_parquet(tmp)
                os.replace(tmp, f.with_suffix(".parquet"))
                meta[key] = "gdf"
            else:
                with open(f.with_suffix(".npy.tmp"), "wb") as fh:
                    np.save(fh, np.asarray(value))
                os.replace(f.with_suffix(".npy.tmp"), f.with_suffix(".npy"))
                meta[key] = "npy"
        tmp = self.dir / f"extra_{name}.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, self.dir / f"extra_{name}.json")
