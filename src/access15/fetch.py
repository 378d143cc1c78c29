"""Fetch the street network and OSM facilities from the internet through OSMnx, once, into the cache folder.

A config without a local extract names the area instead: ``[network] place = "海曙区, 宁波市, 中国"`` (geocoded by
Nominatim), ``polygon = "area.geojson"`` (a boundary file, any CRS) or ``bbox = [min_lon, min_lat, max_lon,
max_lat]`` without ``path``. :func:`fetch` asks Overpass for the ways access15's walk filter keeps (the
``[walk]`` rules of the tag mapping, translated to Overpass QL) and, when a ``[[facilities]]`` entry has
``path = "osm"``, for the features of the category -> tag mapping. It saves, in
``<cache_dir>/download/<name>-<key>/``:

* ``network.graphml`` -- the OSMnx graph (read back by :func:`access15.graphs.network_from_graphml`);
* ``facilities-<key>.geojson`` -- one point per facility and category (WGS84), as ``path = "osm"`` gives;
* ``area.geojson`` -- the queried area (WGS84);
* ``fetch.json`` -- the query, the Overpass and Nominatim endpoints, the download time (UTC) and the OSMnx version.

The key hashes the query and the tag rules, so a changed query downloads again and an unchanged one is reused
offline. :func:`prepare` (called by :func:`access15.analyze`) swaps such a config for one that reads those files
and returns the ``fetch.json`` record for ``run.json``. Endpoints are configurable (``overpass_url``,
``nominatim_url``) for mirrors. A server that is unreachable, busy (HTTP 429/504) or answers garbage gives one
:class:`~access15.errors.InputError` line that says which extract to download instead and how to point
``[network] path`` at it. OSMnx's own retry-forever on 429/504 is cut short: a fetch is a handful of requests.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import Config, FacilitySource
from .errors import InputError
from .io.osm import TagRules, load_tag_rules
from .io.tables import BOUNDARY_FIX, read_layer
from .provenance import sha256_file

#: Default endpoints (OSMnx's).
OVERPASS_URL = "https://overpass-api.de/api"
NOMINATIM_URL = "https://nominatim.openstreetmap.org/"
#: Bump when the saved files change meaning.
FETCH_FORMAT = 1

Progress = Callable[[str], None]


def is_online(cfg: Config) -> bool:
    """True when the config names an area to download instead of a local network file."""
    n = cfg.network
    return bool(getattr(n, "place", None) or getattr(n, "polygon", None) or (n.bbox and not n.path))


def _query(cfg: Config) -> dict:
    n = cfg.network
    if n.place:
        return {"place": n.place}
    if n.polygon:
        path = cfg.resolve(n.polygon)
        if not path.is_file():
            raise InputError(path, "boundary file not found", "check [network] polygon in the config")
        return {"polygon": str(path), "polygon_sha256": sha256_file(path)}
    return {"bbox": list(n.bbox)}


def walk_filters(rules: TagRules) -> list[str]:
    """access15's walkable-way rule as two Overpass QL way filters whose union is exactly
    :meth:`TagRules.is_walkable`: foot explicitly allowed, or foot not forbidden and access not forbidden."""
    def alt(vals: frozenset[str]) -> str:
        return "^(" + "|".join(re.escape(v) for v in sorted(vals)) + ")$"

    base = '["highway"]["area"!~"^yes$"]'
    if rules.exclude_highway:
        base += f'["highway"!~"{alt(rules.exclude_highway)}"]'
    filters = [base + f'["foot"~"{alt(rules.foot_allowed)}"]'] if rules.foot_allowed else []
    rest = base
    if rules.foot_forbidden:
        rest += f'["foot"!~"{alt(rules.foot_forbidden)}"]'
    if rules.motorroad_forbidden:
        rest += '["motorroad"!="yes"]'
    if rules.access_forbidden:
        rest += f'["access"!~"{alt(rules.access_forbidden)}"]'
    return filters + [rest]


def feature_tags(rules: TagRules, categories: list[str]) -> dict[str, bool | list[str]]:
    """The OSMnx ``tags`` query covering every rule of ``categories`` (the first key of each rule; the full
    rule is applied to the answer)."""
    tags: dict[str, set | bool] = {}
    for cat in categories:
        for rule in rules.categories.get(cat, []):
            key, vals = next(iter(rule.items()))
            if "*" in vals or tags.get(key) is True:
                tags[key] = True
            else:
                tags.setdefault(key, set()).update(vals)
    return {k: (True if v is True else sorted(v)) for k, v in tags.items()}


def _osm_categories(cfg: Config) -> tuple[list[str], TagRules] | None:
    """Categories wanted from ``path = "osm"`` sources and their tag rules, or None without such a source."""
    srcs = [s for s in cfg.facilities if s.path.lower() == "osm"]
    if not srcs:
        return None
    rules = load_tag_rules(cfg.resolve(srcs[0].tags) if srcs[0].tags else None)
    cats: list[str] = []
    for s in srcs:
        for c in s.categories or ([s.category] if s.category else list(cfg.categories)):
            if c in rules.categories and c in cfg.categories and c not in cats:
                cats.append(c)
    return cats, rules


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([FETCH_FORMAT, *parts], sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class FetchPaths:
    """Where the downloaded files of a config live (they may not exist yet)."""

    folder: Path
    network: Path
    facilities: Path | None
    area: Path
    record: Path

    def complete(self) -> bool:
        return all(p is None or p.is_file() for p in (self.network, self.facilities, self.area, self.record))


def fetch_paths(cfg: Config) -> FetchPaths:
    """The cache files for the config's query (``<cache_dir>/download/<name>-<key>/``)."""
    q = _query(cfg)
    net_rules = load_tag_rules(cfg.resolve(cfg.network.tags) if cfg.network.tags else None)
    label = q.get("place") or (Path(q["polygon"]).stem if "polygon" in q else "bbox")
    slug = re.sub(r"[^\w]+", "_", str(label), flags=re.UNICODE).strip("_")[:40] or "area"
    folder = cfg.resolve(cfg.network.cache_dir) / "download" / f"{slug}-{_key(q, walk_filters(net_rules))}"
    osm = _osm_categories(cfg)
    fac = None
    if osm is not None:
        cats, rules = osm
        fac = folder / f"facilities-{_key(cats, rules.categories)}.geojson"
    return FetchPaths(folder, folder / "network.graphml", fac, folder / "area.geojson", folder / "fetch.json")


class _ServerRefused(Exception):
    """An HTTP 429/504 (or other error status) from Overpass/Nominatim, raised before OSMnx retries forever."""


def _refuse_busy(response, *args, **kwargs):
    if response.status_code in (429, 503, 504):
        raise _ServerRefused(f"{response.url.split('?')[0]} answered HTTP {response.status_code} {response.reason}")
    return response


@contextmanager
def _osmnx_settings(cfg: Config) -> Iterator[object]:
    """OSMnx configured for one fetch (endpoints, timeout, no OSMnx cache, no retry loop); restored after."""
    try:
        import osmnx as ox  # optional dependency (the online extra)
    except ImportError:
        raise InputError(cfg.source or "config", "downloading a network needs OSMnx",
                         "pip install 'access15[online]', or download an extract and set [network] path") from None
    s = ox.settings
    names = ("overpass_url", "nominatim_url", "requests_timeout", "use_cache", "requests_kwargs",
             "overpass_rate_limit", "log_console", "doh_url_template")
    saved = {k: getattr(s, k) for k in names}
    try:
        s.overpass_url = (cfg.network.overpass_url or OVERPASS_URL).rstrip("/")
        s.nominatim_url = cfg.network.nominatim_url or NOMINATIM_URL
        s.requests_timeout = cfg.network.timeout_s
        s.use_cache = False
        s.requests_kwargs = {**saved["requests_kwargs"], "hooks": {"response": [_refuse_busy]}}
        s.overpass_rate_limit = False  # a fetch is 2-3 requests; a busy server answers 429 and we stop
        s.log_console = False
        s.doh_url_template = None
        yield ox
    finally:
        for k, v in saved.items():
            setattr(s, k, v)


def _reason(exc: Exception, timeout_s: float) -> str:
    """A short, one-line cause of a failed request."""
    import requests  # installed with OSMnx (the online extra)

    if isinstance(exc, _ServerRefused):
        return str(exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        host = re.search(r"host='([^']+)'", str(exc))
        return f"ConnectionError: cannot connect to {host.group(1) if host else 'the server'}"
    first = re.sub(r"\s+", " ", (str(exc).strip().splitlines() or [""])[0])[:120]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _failure(cfg: Config, q: dict, exc: Exception, step: str) -> InputError:
    what = (f"place = \"{q['place']}\"" if "place" in q else
            f"polygon = \"{cfg.network.polygon}\"" if "polygon" in q else f"bbox = {q['bbox']}")
    where = (f"could not find the place with Nominatim at {cfg.network.nominatim_url or NOMINATIM_URL}"
             if step == "area" else f"could not download the {step} from Overpass at "
             f"{cfg.network.overpass_url or OVERPASS_URL}")
    return InputError(f"[network] {what}", f"{where} ({_reason(exc, cfg.network.timeout_s)})",
                      "download an OSM extract of the area instead (a .osm.pbf from https://download.geofabrik.de "
                      "or https://extract.bbbike.org), put it next to the config and set [network] path = "
                      f"\"area.osm.pbf\" (and delete {what.split(' =')[0]}); or set overpass_url / nominatim_url in "
                      "[network] to a reachable mirror")


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _area(cfg: Config, q: dict, ox) -> shapely.Geometry:
    """The query area in WGS84 (Nominatim for a place)."""
    if "place" in q:
        gdf = ox.geocode_to_gdf(q["place"])
        return shapely.union_all(gdf.to_crs(4326).geometry.values)
    if "polygon" in q:
        gdf = read_layer(Path(q["polygon"]), None, "as a boundary", BOUNDARY_FIX)
        if gdf.crs is None:
            raise InputError(q["polygon"], "boundary file has no CRS", "save it with a CRS (e.g. EPSG:4326)")
        return shapely.union_all(gdf.to_crs(4326).geometry.values)
    return shapely.box(*q["bbox"])


def facilities_from_features(features: gpd.GeoDataFrame, rules: TagRules, categories: list[str]) -> gpd.GeoDataFrame:
    """OSMnx features classified by the category -> tag mapping, as read_osm_facilities gives them: one point
    per feature and category (polygons: a point inside; lines: the middle), EPSG:4326, with ``category``,
    ``name``, ``facility_id`` (n/w/r + OSM id) and ``capacity`` (numeric ``capacity`` tag, else NaN)."""
    cols = ["category", "name", "facility_id", "capacity"]
    if features is None or len(features) == 0:
        return gpd.GeoDataFrame(columns=cols, geometry=[], crs=4326)
    feats = features.to_crs(4326)
    tag_cols = [c for c in feats.columns if c != feats.geometry.name]
    records = feats[tag_cols].to_dict("records")  # one Python pass: the rules are per-feature logic
    wanted = set(categories)
    cats = [rules.match({k: v for k, v in r.items() if isinstance(v, str)}, wanted) for r in records]
    n = np.fromiter((len(c) for c in cats), dtype=np.int64, count=len(cats))
    rows = np.repeat(np.arange(len(feats)), n)
    idx = feats.index
    etype = np.asarray(idx.get_level_values(0) if idx.nlevels > 1 else ["node"] * len(idx), dtype=str)
    eid = np.asarray(idx.get_level_values(-1)).astype(str)
    geom = feats.geometry.values[rows]
    pts = shapely.point_on_surface(geom)
    lines = np.isin(shapely.get_type_id(geom), [1, 5])
    pts[lines] = shapely.line_interpolate_point(geom[lines], 0.5, normalized=True)
    name = feats["name"].to_numpy()[rows] if "name" in feats.columns else np.full(len(rows), "")
    cap = pd.to_numeric(feats["capacity"], errors="coerce").to_numpy()[rows] if "capacity" in feats.columns \
        else np.full(len(rows), np.nan)
    return gpd.GeoDataFrame({
        "category": [c for cs in cats for c in cs],
        "name": pd.Series(name, dtype=object).fillna("").astype(str).to_numpy(),
        "facility_id": np.char.add(np.char.ljust(etype, 1).astype("<U1")[rows], eid[rows]),
        "capacity": cap,
    }, geometry=pts, crs=4326)


def fetch(cfg: Config, *, progress: Progress | None = None, force: bool = False) -> dict:
    """Download the config's network (and OSM facilities) into the cache folder, unless already there.

    Parameters
    ----------
    cfg : a config with ``[network] place``, ``polygon`` or ``bbox`` (without ``path``).
    progress : called with a short message before each step.
    force : download again even when the files exist.

    Returns
    -------
    The ``fetch.json`` record: query, endpoints, ``downloaded_utc``, OSMnx version, files, counts, and
    ``reused = True`` when the cached files were used.
    """
    say = progress or (lambda msg: None)
    q = _query(cfg)
    paths = fetch_paths(cfg)
    if paths.complete() and not force:
        rec = json.loads(paths.record.read_text(encoding="utf-8"))
        say(f"using the download of {rec.get('downloaded_utc', '?')} in {paths.folder}")
        return {**rec, "reused": True}
    rules = load_tag_rules(cfg.resolve(cfg.network.tags) if cfg.network.tags else None)
    step = "area"
    with _osmnx_settings(cfg) as ox:
        try:
            say("finding the area" + (f" '{q['place']}' (Nominatim)" if "place" in q else ""))
            area = _area(cfg, q, ox)
            step = "street network"
            say("downloading the walkable streets (Overpass)")
            graph = ox.graph_from_polygon(area, network_type="walk", custom_filter=walk_filters(rules),
                                          simplify=True, retain_all=True, truncate_by_edge=True)
            feats = None
            osm = _osm_categories(cfg)
            if osm is not None and osm[0]:
                step = "facilities"
                say("downloading facilities: " + ", ".join(osm[0]) + " (Overpass)")
                try:
                    feats = ox.features_from_polygon(area, feature_tags(osm[1], osm[0]))
                except ox._errors.InsufficientResponseError as exc:
                    if "No matching features" not in str(exc):
                        raise
                    feats = None  # an area without any such feature: no facilities, reported later
        except InputError:
            raise
        except Exception as exc:  # requests, OSMnx and JSON errors: all mean "the download did not work"
            raise _failure(cfg, q, exc, step) from None
        version = ox.__version__
    say(f"saving to {paths.folder}")
    _atomic(paths.network, lambda p: ox.save_graphml(graph, p))
    _atomic(paths.area, lambda p: gpd.GeoDataFrame(geometry=[area], crs=4326).to_file(p, driver="GeoJSON"))
    n_fac = None
    if paths.facilities is not None:
        fac = facilities_from_features(feats, osm[1], osm[0])
        n_fac = fac["category"].value_counts().to_dict()
        _atomic(paths.facilities, lambda p: fac.to_file(p, driver="GeoJSON"))
    rec = {"query": q, "overpass_url": cfg.network.overpass_url or OVERPASS_URL,
           "nominatim_url": (cfg.network.nominatim_url or NOMINATIM_URL) if "place" in q else None,
           "downloaded_utc": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
           "osmnx_version": version, "walk_filters": walk_filters(rules),
           "network": paths.network.name, "facilities": None if paths.facilities is None else paths.facilities.name,
           "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "facilities_per_category": n_fac}
    _atomic(paths.record, lambda p: p.write_text(json.dumps(rec, indent=2, ensure_ascii=False), encoding="utf-8"))
    return {**rec, "reused": False}


def prepare(cfg: Config, progress: Progress | None = None) -> tuple[Config, dict | None]:
    """For a config that names an area: fetch (or reuse) its files and return a copy of the config that reads
    them (``[network] path`` = the GraphML, ``path = "osm"`` facilities = the GeoJSON), with the fetch record.
    Any other config is returned unchanged with None."""
    if not is_online(cfg):
        return cfg, None
    rec = fetch(cfg, progress=progress)
    paths = fetch_paths(cfg)
    out = copy.deepcopy(cfg)
    out.network.path = str(paths.network)
    out.network.bbox = None
    out.facilities = [FacilitySource(path=str(paths.facilities), category_column="category", name_column="name",
                                     id_column="facility_id", capacity_column="capacity",
                                     categories=s.categories, category=None)
                      if s.path.lower() == "osm" else s for s in cfg.facilities]
    for s, orig in zip(out.facilities, cfg.facilities):
        if orig.path.lower() == "osm" and orig.category:
            s.categories = [orig.category]
    return out, {k: v for k, v in rec.items() if k != "walk_filters"}
