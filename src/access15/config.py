"""Analysis configuration: dataclasses and the TOML loader.

A config file describes one analysis: the street network, the facility sources, the categories and their
circles (thresholds in minutes), the walking speed, the demand model and the outputs. Relative paths are
resolved against the directory of the config file. Unknown keys are refused with the closest valid key
suggested, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError

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
    ``"bd09"`` (Baidu), converted to WGS84 at load (see :mod:`access15.lonlat`); ``swap_lonlat = true``
    swaps longitude and latitude of every row (for files whose columns are the wrong way round).
    """

    path: str
    categories: list[str] | None = None
    category: str | None = None
    category_column: str = "category"
    lon: str = "lon"
    lat: str = "lat"
    crs: str | None = None
    layer: str | None = None
    name_column: str = "name"
    id_column: str | None = None
    capacity_column: str | None = None
    tags: str | None = None
    swap_lonlat: bool = False


@dataclass
class NetworkConfig:
    """The street network: a local OSM file (.osm.pbf, .osm, .osm.xml, optionally .bz2/.gz) or a road
    centre-line layer (GeoPackage/Shapefile/GeoJSON lines).

    ``max_snap_m`` is the farthest (metres) a point may lie from a walkable edge before it is reported as
    unreachable; ``line_tolerance_m`` joins road-line endpoints closer than this (metres) into one node.
    ``bbox = [min_lon, min_lat, max_lon, max_lat]`` (WGS84) reads only the ways that meet that box.
    ``cache = true`` keeps the built network in ``cache_dir`` (relative to the config file), keyed by the
    file's SHA-256 and these settings, so the next run skips parsing (see :mod:`access15.netcache`).
    """

    path: str = ""
    max_snap_m: float = 500.0
    line_tolerance_m: float = 1.0
    tags: str | None = None
    layer: str | None = None
    bbox: list[float] | None = None
    cache: bool = False
    cache_dir: str = ".access15-cache"


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
    crs: str | None = None
    layer: str | None = None
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
    crs: str | None = None
    layer: str | None = None
    h3_column: str | None = None
    lon: str = "lon"
    lat: str = "lat"
    total: float | None = None
    default_levels: float = 2.0
    name: str = ""
    #: "buildings": spread each polygon's people over the residential floor area of the OSM buildings inside it
    dasymetric: str | None = None
    #: OSM building=* values counted as homes (default: access15.population.RESIDENTIAL_BUILDINGS)
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


def _closest(key: str, valid: list[str]) -> str:
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{match[0]}'?" if match else "valid keys: " + ", ".join(sorted(valid))


def _build(cls: type, data: Any, where: str, source: Path | str, **fixed: Any) -> Any:
    """Make dataclass ``cls`` from a TOML table, refusing unknown keys and mistyped values."""
    if not isinstance(data, dict):
        raise InputError(source, f"[{where}] must be a table", "see the config format in the README")
    names = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
    kwargs: dict[str, Any] = dict(fixed)
    for key, value in data.items():
        if key not in names:
            raise InputError(source, f"unknown key '{key}' in [{where}]", _closest(key, names))
        kwargs[key] = value
    for f in dataclasses.fields(cls):
        if f.name in kwargs and f.type in ("float", "float | None") and kwargs[f.name] is not None:
            value = kwargs[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(source, f"[{where}] {f.name} = {value!r} is not a number",
                                 "write a plain number, e.g. 15")
            kwargs[f.name] = float(value)
    return cls(**kwargs)


_TOP_KEYS = ["name", "network", "facilities", "categories", "speed", "routing", "demand", "boundaries",
             "output", "population", "targets"]


def config_from_dict(data: dict[str, Any], base_dir: Path | str = ".", source: Path | str = "config") -> Config:
    """Build a :class:`Config` from a parsed TOML document (see the README for the format)."""
    for key in data:
        if key not in _TOP_KEYS:
            raise InputError(source, f"unknown top-level key '{key}'", _closest(key, _TOP_KEYS))
    if "network" not in data:
        raise InputError(source, "no [network] table", "add [network] with path = \"your.osm.pbf\"")
    cfg = Config(name=str(data.get("name", "access15 analysis")), base_dir=Path(base_dir),
                 source=Path(source) if source != "config" else None)
    cfg.network = _build(NetworkConfig, data["network"], "network", source)
    if not cfg.network.path:
        raise InputError(source, "[network] has no path", "set path to an .osm.pbf, .osm or road-line file")
    if not isinstance(cfg.network.cache, bool):
        raise InputError(source, f"[network] cache = {cfg.network.cache!r}", "write cache = true or cache = false")
    if cfg.network.bbox is not None:
        cfg.network.bbox = check_bbox(cfg.network.bbox, source)

    speed = data.get("speed", {})
    for key in speed:
        if key not in ("profile", "kmh"):
            raise InputError(source, f"unknown key '{key}' in [speed]", _closest(key, ["profile", "kmh"]))
    cfg.speed_profile = str(speed.get("profile", "walk"))
    if cfg.speed_profile not in SPEED_PROFILES:
        raise InputError(source, f"[speed] unknown profile '{cfg.speed_profile}'",
                         "use one of " + ", ".join(SPEED_PROFILES) + ", or set kmh")
    if "kmh" in speed:
        kmh = speed["kmh"]
        if isinstance(kmh, bool) or not isinstance(kmh, (int, float)) or not 0.5 <= kmh <= 150:
            raise InputError(source, f"[speed] kmh = {kmh!r} is not a speed", "use km/h between 0.5 and 150")
        cfg.speed_kmh = float(kmh)

    routing = data.get("routing", {})
    for key in routing:
        if key != "max_minutes":
            raise InputError(source, f"unknown key '{key}' in [routing]", _closest(key, ["max_minutes"]))
    cfg.max_minutes = float(routing.get("max_minutes", 60.0))

    cfg.demand = _build(DemandConfig, data.get("demand", {}), "demand", source)
    if cfg.demand.kind not in ("grid", "nodes"):
        raise InputError(source, f"[demand] kind = '{cfg.demand.kind}'", "use \"grid\" or \"nodes\"")
    if cfg.demand.cell_m <= 0:
        raise InputError(source, "[demand] cell_m must be positive", "use a cell size in metres, e.g. 100")
    if "boundaries" in data:
        cfg.boundaries = _build(BoundaryConfig, data["boundaries"], "boundaries", source)
    if "population" in data:
        from .population import check_population_config

        cfg.population = _build(PopulationConfig, data["population"], "population", source)
        check_population_config(cfg.population, source)
    cfg.output = _build(OutputConfig, data.get("output", {}), "output", source)
    if cfg.output.lang not in ("en", "zh"):
        raise InputError(source, f"[output] lang = '{cfg.output.lang}'", "use \"en\" or \"zh\"")
    check_basemap(cfg.output, source)

    cats = data.get("categories", {})
    if not isinstance(cats, dict) or not cats:
        raise InputError(source, "no [categories.*] tables",
                         "add e.g. [categories.clinic] minutes = 15 (built-in: " + ", ".join(DEFAULT_CATEGORIES) + ")")
    for name, table in cats.items():
        merged = {**DEFAULT_CATEGORIES.get(name, {}), **(table or {})}
        cfg.categories[name] = _build(CategoryConfig, merged, f"categories.{name}", source, name=name)
        if cfg.categories[name].minutes <= 0:
            raise InputError(source, f"[categories.{name}] minutes must be positive", "e.g. minutes = 15")

    facs = data.get("facilities", [])
    if not isinstance(facs, list) or not facs:
        raise InputError(source, "no [[facilities]] entries",
                         "add [[facilities]] with path = \"osm\" or a facility file")
    for i, table in enumerate(facs, start=1):
        fs = _build(FacilitySource, table, f"facilities #{i}", source)
        for cat in (fs.categories or []) + ([fs.category] if fs.category else []):
            if cat not in cfg.categories:
                raise InputError(source, f"[[facilities]] #{i} names category '{cat}' that has no [categories.{cat}]",
                                 _closest(cat, list(cfg.categories)))
        cfg.facilities.append(fs)
    if "targets" in data:
        from .targets import targets_from_dict

        cfg.targets = targets_from_dict(data["targets"], cfg, source)
    _check_population_columns(cfg, source)
    return cfg


def _check_population_columns(cfg: Config, source: Path | str) -> None:
    """Every category's ``population`` names a configured population column; class profiles exist."""
    from .profiles import check_profile

    for name, cat in cfg.categories.items():
        for cls, minutes in cat.minutes_by_class.items():
            if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
                raise InputError(source, f"[categories.{name}] minutes_by_class.{cls} = {minutes!r}",
                                 "give a positive number of minutes, e.g. {rural = 30}")
        for profile in cat.profile_by_class.values():
            check_profile(str(profile), source)
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
    if not path.is_file():
        raise InputError(path, "config file not found", "check the path, or run 'access15 demo'")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML ({exc})", "fix the syntax at the position given") from None
    return config_from_dict(data, base_dir=path.resolve().parent, source=path)
