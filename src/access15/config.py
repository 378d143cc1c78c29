"""Analysis configuration: dataclasses, the TOML loader, and the config as JSON.

A config file describes one analysis: the street network, the facility sources, the categories and their
circles (thresholds in minutes), the walking speed, the demand model, population, plan targets and the
outputs. Relative paths are resolved against the directory of the config file. Unknown keys are refused with
the closest valid key suggested, so a typo never silently falls back to a default.

One typed builder (:func:`access15.schema.build_dataclass`) turns a TOML table or a stored JSON object into a
config dataclass, so a config written into an output (``access15.gpkg``, ``run.json``) reads back as the same
:class:`Config` (:func:`config_to_json` / :func:`config_from_json`). Valid preset and profile names come from
the package's own data files (:mod:`access15.presets`). This module is data and parsing and imports nothing
of the analysis.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError
from .presets import MEASURES, check_profile, check_walk_profile, load_preset
from .schema import _value, build_dataclass, closest_key, plain

#: Walking speeds in km/h. ``walk`` makes a 15-minute walk 1,000 m, the upper end of the 800-1,000 m that
#: GB 50180-2018 relates to the 15-minute life circle; many studies use 4.5-5 km/h (``brisk``).
#: ``elderly`` is 3.0 km/h (0.83 m/s), the walking speed commonly used for older pedestrians.
SPEED_PROFILES: dict[str, float] = {"walk": 4.0, "brisk": 5.0, "elderly": 3.0}

#: Default circles (minutes) and labels for the built-in categories.
DEFAULT_CATEGORIES: dict[str, dict[str, Any]] = {
    "elderly_care": {"minutes": 15.0, "label_en": "Elderly care", "label_zh": "养老服务"},
    "childcare": {"minutes": 15.0, "label_en": "Childcare", "label_zh": "托育"},
    "clinic": {"minutes": 15.0, "label_en": "Primary health care", "label_zh": "医疗卫生"},
    "fitness": {"minutes": 10.0, "label_en": "Fitness", "label_zh": "健身"},
    "culture": {"minutes": 15.0, "label_en": "Culture", "label_zh": "文化"},
    "convenience": {"minutes": 15.0, "label_en": "Convenience services", "label_zh": "便民服务"},
}


@dataclass
class CategoryConfig:
    """One service category and its circle.

    ``minutes`` is the circle threshold in minutes of travel; ``required`` puts the category in the
    combined circle (every required service within reach).
    """

    name: str
    minutes: float = 15.0
    required: bool = True
    label_en: str = ""
    label_zh: str = ""
    #: population column this category is measured against (e.g. "pop_65plus"); default: the total
    population: str | None = None
    #: circle per unit class, e.g. {rural = 30, remote = 90} (minutes); other classes use ``minutes``
    minutes_by_class: dict[str, float] = field(default_factory=dict)
    #: travel profile per unit class, e.g. {rural = "cycle"} (see ``data/speeds.toml``); default: walking
    profile_by_class: dict[str, str] = field(default_factory=dict)
    #: walking profile of the people this circle is for (``data/walk_profiles.toml``: walk, elderly,
    #: wheelchair, pram); default: the [speed] speed, walked like any way (slope-aware with [network] elevation)
    profile: str | None = None

    def minutes_for(self, cls: str | None) -> float:
        """The circle (minutes) for a demand point of unit class ``cls`` (None: no class)."""
        return float(self.minutes_by_class.get(cls, self.minutes)) if cls else self.minutes

    def label(self, lang: str = "en") -> str:
        """The display name in ``lang`` ("en" or "zh"), falling back to the key."""
        return (self.label_zh if lang == "zh" else self.label_en) or self.label_en or self.name


@dataclass
class FacilitySource:
    """Where the facilities of one or more categories come from.

    ``path = "osm"`` extracts them from the network's OSM file with the category -> tag mapping
    (``tags`` names an alternative mapping TOML). Otherwise ``path`` is a GeoJSON/GeoPackage/Shapefile, or
    a CSV with ``lon``/``lat`` columns in ``crs`` (EPSG:4326 unless declared). Each row's category comes from
    ``category_column``, or every row gets ``category``. ``crs`` may also be ``"gcj02"`` (AMap/Tencent) or
    ``"bd09"`` (Baidu), converted to WGS84 at load (see :mod:`access15.coords`); ``swap_lonlat = true``
    swaps longitude and latitude of every row (for files whose columns are the wrong way round).
    """

    path: str
    categories: list[str] | None = None
    category: str | None = None
    category_column: str = "category"
    lon: str = "lon"
    lat: str = "lat"
    crs: str | int | None = None
    layer: str | int | None = None
    name_column: str = "name"
    id_column: str | None = None
    capacity_column: str | None = None
    tags: str | None = None
    swap_lonlat: bool = False
    #: POI exports (:mod:`access15.io.poi`): "amap" | "baidu" | "poi_csv"; ``preset``: a project preset TOML;
    #: ``kindergartens``: whether 幼儿园 count as childcare (None: the preset's setting)
    format: str | None = None
    preset: str | None = None
    kindergartens: bool | None = None


@dataclass
class NetworkConfig:
    """The street network: a local OSM file (.osm.pbf, .osm, .osm.xml, optionally .bz2/.gz) or a road
    centre-line layer (GeoPackage/Shapefile/GeoJSON lines).

    ``max_snap_m`` is the farthest (metres) a point may lie from a walkable edge before it is reported as
    unreachable; ``line_tolerance_m`` joins road-line endpoints closer than this (metres) into one node.
    ``bbox = [min_lon, min_lat, max_lon, max_lat]`` (WGS84) reads only the ways that meet that box.
    ``cache = true`` keeps the built network in ``cache_dir`` (relative to the config file), keyed by the
    file's SHA-256 and these settings, so the next run skips parsing (see :mod:`access15.cache`).
    Without ``path``, ``place`` (a name Nominatim knows), ``polygon`` (a boundary file) or ``bbox`` name an area
    downloaded once through OSMnx into ``cache_dir`` (see :mod:`access15.fetch`).
    """

    path: str = ""
    max_snap_m: float = 500.0
    line_tolerance_m: float = 1.0
    tags: str | None = None
    layer: str | int | None = None
    bbox: list[float] | None = None
    cache: bool = False
    cache_dir: str = ".access15-cache"
    #: a place name Nominatim knows (e.g. "海曙区, 宁波市, 中国"): its area is downloaded through OSMnx
    place: str | None = None
    #: a boundary file (any CRS) whose area is downloaded
    polygon: str | None = None
    #: Overpass / Nominatim endpoints (mirrors); default: OSMnx's
    overpass_url: str | None = None
    nominatim_url: str | None = None
    #: seconds per HTTP request of a download
    timeout_s: float = 180.0
    #: a DEM (any raster GDAL reads, any CRS, metres) for slope-aware walking times; see docs/walking.md
    elevation: str | None = None
    #: the DEM is sampled along every edge at most this many metres apart (bilinear interpolation)
    elevation_spacing_m: float = 10.0
    #: wait at crossings of major roads (seconds per crossing from the walking profile; docs/walking.md)
    crossing_waits: bool = False


@dataclass
class DemandConfig:
    """The places whose access is measured.

    ``kind = "grid"`` uses the centres of square cells of ``cell_m`` metres; ``"nodes"`` uses the network
    nodes. Without boundaries the study area is the part of the network's convex hull within
    ``max_snap_m`` of a walkable street. Without ``[population]`` every point weighs 1: coverage is of
    area/network, not population; with it, points weigh residents (see docs/population.md).
    """

    kind: str = "grid"
    cell_m: float = 100.0


@dataclass
class BoundaryConfig:
    """Administrative units for per-unit tables: a polygon file with a name column.

    ``path = "osm"`` extracts ``boundary=administrative`` relations from the network's OSM file
    (``admin_levels`` picks which, e.g. [8, 10]). ``level_column`` (or one ``level`` for the whole file)
    names each unit's level (district / street / community, or OSM admin_level); ``class_column`` gives
    an optional urban/rural (or custom) class used by per-class circles. ``crs`` may be an EPSG code or
    ``"gcj02"`` / ``"bd09"`` for Chinese map-provider coordinates.
    """

    path: str = ""
    name_column: str = "name"
    crs: str | int | None = None
    layer: str | int | None = None
    level_column: str | None = None
    level: str | None = None
    class_column: str | None = None
    admin_levels: list[int] | None = None


@dataclass
class PopulationConfig:
    """Who lives where (see docs/population.md).

    ``kind``: ``"raster"`` (GeoTIFF, any CRS; band 1 = persons per cell), ``"polygons"`` (census units with a
    population column, spread over the demand points inside by area), ``"points"`` (population points that
    become the demand points), or ``"buildings"`` (a dasymetric *estimate* from OSM residential buildings,
    scaled to ``total``). ``column`` is the total population; ``columns`` lists extra age-group columns
    (e.g. ["pop_65plus", "pop_0_3"]) a category may be measured against. ``crs`` declares the file's CRS
    when it has none (or overrides it). ``id_column`` + ``h3_column``: polygons from H3 cell ids in a CSV.
    """

    path: str = ""
    kind: str = "polygons"
    column: str = "population"
    columns: list[str] = field(default_factory=list)
    crs: str | int | None = None
    layer: str | int | None = None
    h3_column: str | None = None
    lon: str = "lon"
    lat: str = "lat"
    total: float | None = None
    default_levels: float = 2.0
    name: str = ""
    #: "buildings": spread each polygon's people over the residential floor area of the OSM buildings inside it
    dasymetric: str | None = None
    #: OSM building=* values counted as homes (default: access15.io.osm.RESIDENTIAL_BUILDINGS)
    building_values: list[str] | None = None


@dataclass
class TargetConfig:
    """One figure from a plan, checked against the analysis (see docs/population.md).

    ``measure``: ``per_1000`` / ``per_10000`` / ``per_resident`` (capacity of ``category`` per 1,000 /
    10,000 / one resident of ``population``), ``coverage`` (share of residents inside the circle),
    ``min_per_unit`` (every unit of ``level`` has at least ``value`` facilities) or ``unit_share`` (share of
    units of ``level`` with at least one facility). A target is met when the figure is >= ``value``.
    """

    name: str
    category: str = ""
    measure: str = "per_1000"
    value: float = 0.0
    population: str | None = None
    level: str | None = None
    unit: str = ""
    city: str = ""
    year: int | None = None
    source: str = ""


@dataclass
class OutputConfig:
    """Where and how results are written. ``dir`` is relative to the config file.

    ``basemap`` is ``"none"`` (plain background with the extract's streets and the boundaries drawn; works
    offline), ``"osm"`` (OpenStreetMap tiles), ``"amap"`` (AMap/Gaode tiles, GCJ-02) or a tile URL template
    with ``{x}``, ``{y}``, ``{z}`` (then ``basemap_attribution`` is required). ``basemap_crs = "gcj02"``
    declares a custom basemap to be in GCJ-02: every overlay is then shifted to line up with it.
    See docs/maps.md.
    """

    dir: str = "maps/access15"
    lang: str = "en"
    html: bool = True
    basemap: str = "none"
    basemap_attribution: str = ""
    basemap_crs: str = ""
    #: walking profiles (data/walk_profiles.toml) the HTML map can switch its travel-time and gap layers to:
    #: every category is also routed for each of them (docs/walking.md)
    map_profiles: list[str] = field(default_factory=list)
    #: the GeoPackage's demand and gaps layers as grid-cell "polygons", as their centre "points", or "none"
    #: (demand.parquet and the rasters hold the demand); "auto": polygons up to GPKG_SQUARES_UP_TO demand points
    #: (points without a grid), none above (a metro-size run; docs/scale.md)
    gpkg_cells: str = "auto"


@dataclass
class Config:
    """A whole analysis. Build it in code or load it with :func:`load_config`."""

    name: str = "access15 analysis"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    facilities: list[FacilitySource] = field(default_factory=list)
    categories: dict[str, CategoryConfig] = field(default_factory=dict)
    speed_profile: str = "walk"
    speed_kmh: float | None = None
    max_minutes: float = 60.0
    demand: DemandConfig = field(default_factory=DemandConfig)
    boundaries: BoundaryConfig | None = None
    population: PopulationConfig | None = None
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    output: OutputConfig = field(default_factory=OutputConfig)
    base_dir: Path = field(default_factory=Path.cwd)
    source: Path | None = None

    @property
    def speed_m_per_min(self) -> float:
        """Travel speed in metres per minute."""
        return self.kmh * 1000.0 / 60.0

    @property
    def kmh(self) -> float:
        """Travel speed in km/h: ``speed_kmh`` if set, else the named profile's."""
        if self.speed_kmh is not None:
            return float(self.speed_kmh)
        return SPEED_PROFILES[self.speed_profile]

    def resolve(self, path: str | Path) -> Path:
        """A config path made absolute against the config file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()


#: POI export formats of ``[[facilities]] format`` (see :mod:`access15.io.poi`).
POI_FORMATS = ("amap", "baidu", "poi_csv")

TOP_KEYS = ["name", "network", "facilities", "categories", "speed", "routing", "demand", "boundaries",
             "output", "population", "targets"]


def config_from_dict(data: dict[str, Any], base_dir: Path | str = ".", source: Path | str = "config") -> Config:
    """Build a :class:`Config` from a parsed TOML document (see the README for the format)."""
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(source, f"unknown top-level key '{key}'", closest_key(key, TOP_KEYS))
    if "network" not in data:
        raise InputError(source, "no [network] table", "add [network] with path = \"your.osm.pbf\"")
    cfg = Config(name=str(data.get("name", "access15 analysis")), base_dir=Path(base_dir),
                 source=Path(source) if source != "config" else None)
    cfg.network = build_dataclass(NetworkConfig, data["network"], "network", source)
    online = cfg.network.place or cfg.network.polygon  # download through OSMnx (access15.fetch)
    if not cfg.network.path and not online and not cfg.network.bbox:
        raise InputError(source, "[network] has no path", "set path to an .osm.pbf, .osm or road-line file "
                         "(or place = \"district, city\" to download one)")
    if cfg.network.path and online:
        raise InputError(source, "[network] has both path and place/polygon",
                         "keep path for a local file, or remove it to download the place", field="path")
    for key in ("max_snap_m", "line_tolerance_m"):
        if getattr(cfg.network, key) <= 0:
            raise InputError(source, f"[network] {key} = {getattr(cfg.network, key):g} is not positive",
                             f"give metres, e.g. {key} = {500 if key == 'max_snap_m' else 1}", field=key)
    if cfg.network.bbox is not None:
        cfg.network.bbox = check_bbox(cfg.network.bbox, source)

    speed = data.get("speed", {})
    if not isinstance(speed, dict):
        raise InputError(source, "[speed] must be a table", "write [speed] with profile = \"walk\" or kmh = 4.5")
    for key in speed:
        if key not in ("profile", "kmh"):
            raise InputError(source, f"unknown key '{key}' in [speed]", closest_key(key, ["profile", "kmh"]))
    if "profile" in speed and "kmh" in speed:
        raise InputError(source, f"[speed] gives both profile = {speed['profile']!r} and kmh = {speed['kmh']!r}",
                         "keep one: a named profile (walk, brisk, elderly) or your own speed in kmh")
    cfg.speed_profile = _value(speed.get("profile", "walk"), str, "speed", "profile", source, True, "walk")
    if cfg.speed_profile not in SPEED_PROFILES:
        raise InputError(source, f"[speed] unknown profile '{cfg.speed_profile}'",
                         "use one of " + ", ".join(SPEED_PROFILES) + ", or set kmh")
    if "kmh" in speed:
        kmh = _value(speed["kmh"], float, "speed", "kmh", source, True)
        if not 0.5 <= kmh <= 150:
            raise InputError(source, f"[speed] kmh = {kmh!r} is not a speed", "use km/h between 0.5 and 150, e.g. 4.5")
        cfg.speed_kmh = kmh

    routing = data.get("routing", {})
    if not isinstance(routing, dict):
        raise InputError(source, "[routing] must be a table", "write [routing] with max_minutes = 60")
    for key in routing:
        if key != "max_minutes":
            raise InputError(source, f"unknown key '{key}' in [routing]", closest_key(key, ["max_minutes"]))
    if "max_minutes" in routing:
        cfg.max_minutes = _value(routing["max_minutes"], float, "routing", "max_minutes", source, True, 60.0)
        if cfg.max_minutes <= 0:
            raise InputError(source, f"[routing] max_minutes = {cfg.max_minutes:g} is not positive",
                             "give the search limit in minutes, e.g. max_minutes = 60")

    cfg.demand = build_dataclass(DemandConfig, data.get("demand", {}), "demand", source)
    if cfg.demand.kind not in ("grid", "nodes"):
        raise InputError(source, f"[demand] kind = '{cfg.demand.kind}'", "use \"grid\" or \"nodes\"")
    if cfg.demand.cell_m <= 0:
        raise InputError(source, "[demand] cell_m must be positive", "use a cell size in metres, e.g. 100")
    if "boundaries" in data:
        cfg.boundaries = build_dataclass(BoundaryConfig, data["boundaries"], "boundaries", source)
    if "population" in data:
        cfg.population = build_dataclass(PopulationConfig, data["population"], "population", source)
        check_population_config(cfg.population, source)
    cfg.output = build_dataclass(OutputConfig, data.get("output", {}), "output", source)
    if cfg.output.lang not in ("en", "zh"):
        raise InputError(source, f"[output] lang = '{cfg.output.lang}'", "use \"en\" or \"zh\"")
    check_basemap(cfg.output, source)
    if cfg.output.gpkg_cells not in GPKG_CELLS:
        raise InputError(source, f"[output] gpkg_cells = '{cfg.output.gpkg_cells}'",
                         f"use \"auto\" (squares up to {GPKG_SQUARES_UP_TO:,} cells), \"polygons\" (grid cells), "
                         "\"points\" (their centres) or \"none\" (demand.parquet only)", field="gpkg_cells")

    cats = data.get("categories", {})
    if not isinstance(cats, dict) or not cats:
        raise InputError(source, "no [categories.*] tables",
                         "add e.g. [categories.clinic] minutes = 15 (built-in: " + ", ".join(DEFAULT_CATEGORIES) + ")")
    for name, table in cats.items():
        merged = {**DEFAULT_CATEGORIES.get(name, {}), **(table or {})}
        cfg.categories[name] = build_dataclass(CategoryConfig, merged, f"categories.{name}", source, name=name)
        if cfg.categories[name].minutes <= 0:
            raise InputError(source, f"[categories.{name}] minutes must be positive", "e.g. minutes = 15")
    _check_search_limit(cfg, explicit="max_minutes" in routing, source=source)

    facs = data.get("facilities", [])
    if not isinstance(facs, list) or not facs:
        raise InputError(source, "no [[facilities]] entries",
                         "add [[facilities]] with path = \"osm\" or a facility file")
    for i, table in enumerate(facs, start=1):
        fs = build_dataclass(FacilitySource, table, f"facilities #{i}", source)
        if fs.format is not None and fs.format not in POI_FORMATS:
            raise InputError(source, f"[[facilities]] #{i} format = {fs.format!r}",
                             "use \"amap\", \"baidu\" or \"poi_csv\" (or remove format for a plain facility file)")
        for cat in (fs.categories or []) + ([fs.category] if fs.category else []):
            if cat not in cfg.categories:
                raise InputError(source, f"[[facilities]] #{i} names category '{cat}' that has no [categories.{cat}]",
                                 closest_key(cat, list(cfg.categories)))
        cfg.facilities.append(fs)
    if "targets" in data:
        cfg.targets = targets_from_dict(data["targets"], cfg, source)
    _check_population_columns(cfg, source)
    return cfg


def _check_search_limit(cfg: Config, explicit: bool, source: Path | str) -> None:
    """The search limit covers every circle: a limit below a circle would count the people between the two as
    outside it (a silently lower coverage). Without ``max_minutes`` the default (60) grows to the largest circle
    (e.g. a 90-minute island circle); a ``max_minutes`` below a circle is refused."""
    circles = {name: max([float(c.minutes)] + [float(m) for m in c.minutes_by_class.values()
                                                if isinstance(m, (int, float)) and not isinstance(m, bool)])
               for name, c in cfg.categories.items()}
    name, largest = max(circles.items(), key=lambda kv: kv[1])
    if cfg.max_minutes >= largest:
        return
    if not explicit:
        cfg.max_minutes = largest
        return
    raise InputError(source, f"[routing] max_minutes = {cfg.max_minutes:g} is shorter than the {largest:g}-minute circle "
                     f"of '{name}': everyone between {cfg.max_minutes:g} and {largest:g} minutes would count as outside "
                     "the circle", f"set max_minutes = {largest:g} or more, or remove it (the default is 60, or the "
                     "largest circle when that is longer)", field="max_minutes")


def _check_population_columns(cfg: Config, source: Path | str) -> None:
    """Every category's ``population`` names a configured population column; class profiles exist."""
    for name, cat in cfg.categories.items():
        for cls, minutes in cat.minutes_by_class.items():
            if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
                raise InputError(source, f"[categories.{name}] minutes_by_class.{cls} = {minutes!r}",
                                 "give a positive number of minutes, e.g. {rural = 30}")
        for profile in cat.profile_by_class.values():
            check_profile(str(profile), source)
        if cat.profile is not None:  # issue 15: walking profile per category
            check_walk_profile(cat.profile, source, f"[categories.{name}] profile")
    for profile in cfg.output.map_profiles:
        check_walk_profile(profile, source, "[output] map_profiles")
    if len(set(cfg.output.map_profiles)) < len(cfg.output.map_profiles):
        raise InputError(source, f"[output] map_profiles = {cfg.output.map_profiles!r} names a profile twice",
                         "name each walking profile once")
    if not cfg.network.elevation_spacing_m > 0:
        raise InputError(source, f"[network] elevation_spacing_m = {cfg.network.elevation_spacing_m!r}",
                         "use a positive spacing in metres, e.g. 10")
    known = [] if cfg.population is None else [cfg.population.column, *cfg.population.columns]
    for name, cat in cfg.categories.items():
        if cat.population and cat.population not in known:
            raise InputError(source, f"[categories.{name}] population = '{cat.population}' is not a population column",
                             ("add it to [population] columns" if known else "add a [population] table with that column")
                             + (f" (known: {', '.join(known)})" if known else ""))


BASEMAPS = ("none", "osm", "amap")


def check_basemap(out: OutputConfig, source: Path | str = "config") -> None:
    """Refuse a basemap that is neither a known name nor a tile URL template, a custom URL without
    attribution, and an unknown ``basemap_crs``."""
    b = out.basemap
    if b not in BASEMAPS and not (b.startswith(("http://", "https://")) and all(k in b for k in ("{x}", "{y}", "{z}"))):
        raise InputError(source, f"[output] basemap = '{b}' is not a basemap",
                         "use \"none\", \"osm\", \"amap\" or a tile URL with {x}, {y} and {z}", field="basemap")
    if b not in BASEMAPS and not out.basemap_attribution.strip():
        raise InputError(source, "[output] a custom basemap needs basemap_attribution",
                         "set basemap_attribution to the tile provider's credit, e.g. \"© OpenStreetMap contributors\"",
                         field="basemap_attribution")
    if out.basemap_crs not in ("", "wgs84", "gcj02"):
        raise InputError(source, f"[output] basemap_crs = '{out.basemap_crs}'", "use \"wgs84\" or \"gcj02\"",
                         field="basemap_crs")


def check_bbox(bbox: Any, source: Path | str) -> list[float]:
    """A validated WGS84 box ``[min_lon, min_lat, max_lon, max_lat]``."""
    ok = (isinstance(bbox, (list, tuple)) and len(bbox) == 4
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox))
    if ok:
        x0, y0, x1, y1 = (float(v) for v in bbox)
        ok = -180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90
    if not ok:
        raise InputError(source, f"[network] bbox = {bbox!r} is not a box", "write bbox = [min_lon, min_lat, "
                         "max_lon, max_lat] in WGS84 degrees, west < east and south < north")
    return [float(v) for v in bbox]


def load_config(path: str | Path) -> Config:
    """Read a TOML config file. Relative paths inside it are relative to the file."""
    path = Path(path)
    if path.is_dir():
        tomls = sorted(path.glob("*.toml"))
        if len(tomls) == 1:
            fix = f"pass the config file inside it: {tomls[0]}"
        elif tomls:
            fix = "pass one of its .toml files: " + ", ".join(t.name for t in tomls[:5]) + (" ..." * (len(tomls) > 5))
        else:
            fix = "pass a .toml config file (this folder has none), or run 'access15 demo'"
        raise InputError(path, "this is a folder, not a config file", fix)
    if not path.is_file():
        raise InputError(path, "config file not found", "check the path, or run 'access15 demo'")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "the config is not UTF-8 text", "save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})", "fix the syntax at the position given") from None
    return config_from_dict(data, base_dir=path.resolve().parent, source=path)


def peek_lang(path: str | Path | None) -> str | None:
    """The ``[output] lang`` of the config at ``path`` when it can be read as TOML, else None: the language of
    the messages about a config that does not load (its own errors included)."""
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (TypeError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    lang = data.get("output", {}).get("lang") if isinstance(data.get("output"), dict) else None
    return lang if isinstance(lang, str) else None


#: How the GeoPackage holds grid demand (``[output] gpkg_cells``).
GPKG_CELLS = ("auto", "polygons", "points", "none")
#: ``gpkg_cells = "auto"``: cell squares up to this many demand points, no demand layers above (a metro-size run,
#: where GDAL's row-by-row writing of the cells would be half the writing time, and QGIS draws
#: ``travel_time.tif`` and reads ``demand.parquet`` instead; docs/scale.md).
GPKG_SQUARES_UP_TO = 250_000

#: Population kinds (see :class:`PopulationConfig`).
KINDS = ("raster", "polygons", "points", "buildings")


#: Demand columns a population age-group column may not be named.
RESERVED = {"demand_id", "ix", "iy", "node", "weight", "geometry", "unit", "on_network"}


def check_population_config(pc: PopulationConfig, source: Path | str) -> None:
    """Refuse an unusable [population] table with a one-line error."""
    if pc.kind not in KINDS:
        raise InputError(source, f"[population] kind = '{pc.kind}'", "use one of " + ", ".join(KINDS))
    if pc.kind != "buildings" and not pc.path:
        raise InputError(source, "[population] has no path", "set path to a GeoTIFF, polygon, point or CSV file")
    if pc.kind == "buildings" and (pc.total is None or pc.total <= 0):
        raise InputError(source, "[population] kind = \"buildings\" needs total",
                         "give the known total population of the study area, e.g. total = 120000")
    if pc.dasymetric not in (None, "buildings") or (pc.dasymetric and pc.kind != "polygons"):
        raise InputError(source, f"[population] dasymetric = '{pc.dasymetric}' with kind = '{pc.kind}'",
                         "use dasymetric = \"buildings\" with kind = \"polygons\" (or leave it out)")
    if pc.default_levels <= 0:
        raise InputError(source, "[population] default_levels must be positive", "e.g. default_levels = 2")
    if pc.columns and pc.kind in ("raster", "buildings"):
        raise InputError(source, f"[population] columns (age groups) cannot come from kind = \"{pc.kind}\"",
                         "give age groups as columns of a polygon or point file, or drop columns")
    bad = [c for c in pc.columns if c in RESERVED or c == pc.column]
    if bad:
        raise InputError(source, f"[population] columns: '{bad[0]}' is reserved or repeats column",
                         "rename the age-group column")


def targets_from_dict(data: Any, cfg: Config, source: Path | str) -> dict[str, TargetConfig]:
    """Build the config's targets (preset first, then the config's own, which may override by name)."""
    if not isinstance(data, dict):
        raise InputError(source, "[targets] must be a table", "see docs/population.md")
    data = dict(data)
    preset = data.pop("preset", None)
    out: dict[str, TargetConfig] = {}
    entries: list[tuple[str, Any, bool]] = []
    if preset is not None:
        entries += [(k, v, True) for k, v in load_preset(str(preset)).items()]
    entries += [(k, v, False) for k, v in data.items()]
    for name, table, from_preset in entries:
        t = build_dataclass(TargetConfig, table, f"targets.{name}", source, name=name)
        if t.measure not in MEASURES:
            raise InputError(source, f"[targets.{name}] measure = '{t.measure}'", "use one of " + ", ".join(MEASURES))
        if t.category not in cfg.categories:
            if from_preset:
                continue
            raise InputError(source, f"[targets.{name}] category '{t.category}' is not analysed",
                             "add [categories." + (t.category or "NAME") + "] or fix the name")
        if t.measure in ("min_per_unit", "unit_share") and not t.level:
            raise InputError(source, f"[targets.{name}] measure '{t.measure}' needs level",
                             "name the boundary level, e.g. level = \"street\"")
        out[name] = t
    return out


# --------------------------------------------------------------------------------------- config <-> JSON


def config_to_json(cfg: Config) -> dict:
    """A JSON-ready dict of ``cfg`` (every field; paths as strings, category order kept)."""
    return plain(cfg)


def config_from_json(data: dict) -> Config:
    """The :class:`Config` saved by :func:`config_to_json` (keys unknown to this version are ignored)."""
    return build_dataclass(Config, data, "config", "stored config", strict=False)
