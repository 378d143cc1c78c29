"""A disk cache of whole analyses, so a siting check does not parse and re-route the city again.

An entry is a folder named by a SHA-256 key over: the cache format, the access15 version and source
code, the config (every setting) and the bytes of every input file the config names (network extract,
facility files, boundaries, population, tag mappings). Any change to any of them gives a new key, so a
stale entry is never read. Inside an entry: the network as NumPy arrays (``network.npz``, edge
geometries as flat coordinates), every table and GeoDataFrame of the :class:`AnalysisResult` as
(Geo)Parquet, and the remaining fields as JSON. Other modules may add their own arrays to an entry
(:meth:`AnalysisCache.save_extra`). Entries are written to a temporary folder and renamed into place, so
a crash never leaves a half-written entry; the newest :data:`KEEP_ENTRIES` entries are kept.

Cost: hashing reads every input once (about 1 GB/s); loading is a few Parquet/NPZ reads, no parsing
or routing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely

from . import __version__
from .config import Config, load_config
from .demand import Grid
from .network import WalkNetwork
from .pipeline import AnalysisResult
from .provenance import sha256_file

CACHE_FORMAT = 1
KEEP_ENTRIES = 4
CACHE_DIRNAME = ".access15-analysis"


class Uncacheable(Exception):
    """A result field of a type the cache cannot store (the analysis then simply is not cached)."""


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


def _config_repr(cfg: Config) -> str:
    data = dataclasses.asdict(cfg)
    data.pop("source", None)
    return json.dumps(data, sort_keys=True, default=str)


def cache_key(cfg: Config) -> str:
    """The SHA-256 key of an analysis: format, version, code, settings and every input file's bytes."""
    h = hashlib.sha256()
    h.update(f"access15-cache {CACHE_FORMAT} {__version__}\n".encode())
    h.update(_code_digest().encode())
    h.update(_config_repr(cfg).encode())
    for p in input_files(cfg):
        h.update(f"\n{p}\n{sha256_file(p)}".encode())
    return h.hexdigest()


def default_cache_dir(cfg: Config) -> Path:
    """``<output dir>/.access15-analysis``: beside the outputs the analysis writes."""
    return cfg.resolve(cfg.output.dir) / CACHE_DIRNAME


# --- (de)serialising the fields of an AnalysisResult -------------------------------------------------

def _save_network(net: WalkNetwork, folder: Path) -> dict:
    """Every field of the network: numeric arrays in ``network.npz`` (edge polylines as flat coordinates),
    object arrays (e.g. per-edge road classes) in ``network_obj.parquet``, the rest (CRS as WKT) in JSON."""
    arrays: dict[str, np.ndarray] = {}
    objects: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"kind": "network", "json": {}}
    for f in dataclasses.fields(net):
        value = getattr(net, f.name)
        if f.name == "edge_geometry":
            arrays["coords"], arrays["line"] = shapely.get_coordinates(value, return_index=True)
        elif isinstance(value, pyproj.CRS):
            meta["crs"] = value.to_wkt()
        elif isinstance(value, np.ndarray) and value.dtype != object:
            arrays[f.name] = value
        elif isinstance(value, np.ndarray):
            objects[f.name] = value
        else:
            try:
                json.dumps(value)
            except TypeError:
                raise Uncacheable(f"network field '{f.name}' of type {type(value).__name__}") from None
            meta["json"][f.name] = value
    np.savez(folder / "network.npz", **arrays)
    if objects:
        pd.DataFrame(objects).to_parquet(folder / "network_obj.parquet")
    meta["objects"] = sorted(objects)
    return meta


def _load_network(meta: dict, folder: Path) -> WalkNetwork:
    with np.load(folder / "network.npz") as z:
        a = {k: z[k] for k in z.files}
    values: dict[str, Any] = {k: v for k, v in a.items() if k not in ("coords", "line")}
    values["edge_geometry"] = shapely.linestrings(a["coords"], indices=a["line"])
    values["crs"] = pyproj.CRS.from_wkt(meta["crs"])
    if meta["objects"]:
        obj = pd.read_parquet(folder / "network_obj.parquet")
        values.update({k: obj[k].to_numpy(dtype=object) for k in meta["objects"]})
    values.update(meta["json"])
    names = {f.name for f in dataclasses.fields(WalkNetwork)}
    return WalkNetwork(**{k: v for k, v in values.items() if k in names})


def _save_value(name: str, value: Any, folder: Path) -> dict:
    if value is None:
        return {"kind": "none"}
    if isinstance(value, WalkNetwork):
        return _save_network(value, folder)
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
        return _load_network(meta, folder)
    if kind == "geoparquet":
        return gpd.read_parquet(folder / f"{name}.parquet")
    if kind == "parquet":
        return pd.read_parquet(folder / f"{name}.parquet")
    if kind == "grid":
        return Grid(**meta["value"])
    return meta["value"]


class AnalysisCache:
    """The cache entry of one config. ``root`` defaults to :func:`default_cache_dir`."""

    def __init__(self, cfg: Config, root: str | Path | None = None):
        self.cfg = cfg
        self.root = Path(root) if root is not None else default_cache_dir(cfg)
        self.key = cache_key(cfg)
        self.dir = self.root / self.key
        self.skipped = ""  # why the last save stored nothing

    @property
    def exists(self) -> bool:
        return (self.dir / "result.json").is_file()

    def load(self) -> AnalysisResult | None:
        """The cached result (config = the one given), or None when there is no usable entry."""
        if not self.exists:
            return None
        t0 = time.perf_counter()
        try:
            meta = json.loads((self.dir / "result.json").read_text(encoding="utf-8"))
            values = {name: _load_value(name, m, self.dir) for name, m in meta["fields"].items()}
        except (OSError, ValueError, KeyError):
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


def cached_analyze(config: Config | str | Path, cache_dir: str | Path | None = None, *, refresh: bool = False,
                   progress=None) -> tuple[AnalysisResult, AnalysisCache]:
    """:func:`access15.analyze` through the disk cache.

    Returns the result and its cache entry. On a hit nothing is parsed or routed and
    ``result.timings == {"load cache": seconds}``; on a miss (or ``refresh``) the analysis runs and is
    stored. ``cache_dir`` defaults to ``<output dir>/.access15-analysis``.
    """
    from .pipeline import analyze

    cfg = config if isinstance(config, Config) else load_config(config)
    cache = AnalysisCache(cfg, cache_dir)
    result = None if refresh else cache.load()
    if result is None:
        result = analyze(cfg, progress=progress)
        if not cache.save(result):
            result.warnings.append(f"the analysis was not cached ({cache.skipped}); the next run rebuilds it")
    return result, cache
