"""Read a local OpenStreetMap file (.osm.pbf, .osm/.osm.xml, optionally .bz2/.gz) with pyosmium.

The file is streamed, never held whole in memory, one pass per question, each pre-filtered in C++ by key:
the walkable ways (node ids and coordinates, WGS84) for the network; facilities by the category -> tag
mapping in ``data/osm_tags.toml``; and areas (:func:`read_areas`): administrative boundaries, water (so a
proposed site in a lake is refused) and residential buildings (the dasymetric population estimate). All
return plain arrays / GeoDataFrames in EPSG:4326; projecting is the caller's job.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely

from ..coords import WGS84, geometry_to
from ..errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

OSM_SUFFIXES = (".pbf", ".osm", ".xml", ".bz2", ".gz", ".o5m", ".opl")


def is_osm_file(path: str | Path) -> bool:
    """True when ``path`` looks like an OSM data file (by its name, not its content)."""
    name = Path(path).name.lower()
    return name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.xml", ".osm.bz2", ".osm.gz", ".osm.xml.bz2"))


@dataclass
class TagRules:
    """The walkable-way filter and the category -> tag rules (see ``data/osm_tags.toml``)."""

    exclude_highway: frozenset[str]
    foot_forbidden: frozenset[str]
    access_forbidden: frozenset[str]
    foot_allowed: frozenset[str]
    categories: dict[str, list[dict[str, list[str]]]]
    #: ``motorroad=yes`` closes a way to walkers (unless ``foot`` allows it)
    motorroad_forbidden: bool = True

    def is_walkable(self, tags: Any) -> bool:
        """Whether an OSM way with these tags may be walked on."""
        hw = tags.get("highway")
        if hw is None or hw in self.exclude_highway or tags.get("area") == "yes":
            return False
        foot = tags.get("foot")
        if foot in self.foot_allowed:
            return True
        if foot in self.foot_forbidden or (self.motorroad_forbidden and tags.get("motorroad") == "yes"):
            return False
        return tags.get("access") not in self.access_forbidden

    def match(self, tags: Any, wanted: set[str] | None = None) -> list[str]:
        """The categories whose rules this tag set matches."""
        out = []
        for cat, rules in self.categories.items():
            if wanted is not None and cat not in wanted:
                continue
            for rule in rules:
                if all(tags.get(k) is not None and ("*" in vals or tags.get(k) in vals)
                       for k, vals in rule.items()):
                    out.append(cat)
                    break
        return out

    @property
    def keys(self) -> list[str]:
        """Every OSM key a category rule looks at (for pre-filtering in C++)."""
        return sorted({k for rules in self.categories.values() for rule in rules for k in rule})


def load_tag_rules(path: str | Path | None = None) -> TagRules:
    """Load a tag-mapping TOML; ``None`` loads the built-in one."""
    try:
        if path is None:
            text = resources.files("access15").joinpath("data/osm_tags.toml").read_text(encoding="utf-8")
            source: Any = "built-in osm_tags.toml"
        else:
            source = Path(path)
            if not source.is_file():
                raise InputError(source, "tag mapping file not found", "check the 'tags' path in the config")
            text = source.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})", "fix the syntax at the position given") from None
    walk = data.get("walk", {})
    cats: dict[str, list[dict[str, list[str]]]] = {}
    for cat, rules in data.get("categories", {}).items():
        if not isinstance(rules, list) or not all(isinstance(r, dict) and r for r in rules):
            raise InputError(source, f"[categories] {cat} must be a list of tables like {{ amenity = [\"clinic\"] }}",
                             "see the comments at the top of the built-in osm_tags.toml")
        cats[cat] = [{k: [v] if isinstance(v, str) else list(v) for k, v in r.items()} for r in rules]
    return TagRules(
        exclude_highway=frozenset(walk.get("exclude_highway", [])),
        foot_forbidden=frozenset(walk.get("foot_forbidden", ["no"])),
        access_forbidden=frozenset(walk.get("access_forbidden", ["private", "no"])),
        foot_allowed=frozenset(walk.get("foot_allowed", ["yes", "designated", "permissive"])),
        categories=cats,
        motorroad_forbidden=bool(walk.get("motorroad_forbidden", True)),
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "file not found", "check the network path in the config")
    if path.is_dir():
        raise InputError(path, "is a folder, not an OSM file", "point the path at the .osm.pbf or .osm file inside it")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty", "re-export the OSM extract")


def _osm_failure(path: Path, exc: Exception) -> InputError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(path, f"cannot read as an OSM file ({first})",
                      "check that it is a complete .osm.pbf or .osm XML extract (re-download or re-export it)")


#: Way tags kept per walkable way for the walking profiles (steps, ramps, wheelchair access, direction of an
#: incline): see :mod:`access15.walking`.
WALK_TAGS = ("wheelchair", "ramp", "ramp:stroller", "step_count", "incline")

#: Node tags kept for the walking profiles: crossings and traffic signals (waiting at crossings of major roads)
#: and kerbs (``kerb=raised`` blocks a wheelchair); see :mod:`access15.walking` and docs/walking.md.
NODE_TAGS = ("highway", "crossing", "kerb")
#: ``highway=*`` values of a node that make it a crossing (the other keys count whenever present).
CROSSING_HIGHWAY = frozenset({"crossing", "traffic_signals"})


@dataclass
class WayArrays:
    """Walkable ways as flat arrays: way ``i`` has vertices ``offsets[i]:offsets[i+1]``.

    ``node_id`` are OSM node ids; ``lonlat`` their WGS84 coordinates (degrees); ``highway`` the
    highway class of each way (e.g. "footway", "residential"); ``tags`` the value (or None) of each key of
    :data:`WALK_TAGS` per way; ``tagged_node_id`` the (sorted) OSM ids of the nodes with a crossing, traffic
    signals or kerb tag and ``node_tags`` the value (or None) of each key of :data:`NODE_TAGS` per such node.
    """

    node_id: np.ndarray
    lonlat: np.ndarray
    offsets: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray | None = None
    tags: dict[str, np.ndarray] | None = None
    tagged_node_id: np.ndarray | None = None
    node_tags: dict[str, np.ndarray] | None = None


def read_walk_ways(path: str | Path, rules: TagRules | None = None,
                   bbox: tuple[float, float, float, float] | None = None) -> WayArrays:
    """Stream the walkable ways (and their node coordinates) out of an OSM file.

    ``bbox = (min_lon, min_lat, max_lon, max_lat)`` (WGS84 degrees) keeps only the ways whose own bounding
    box meets it, whole (like ``osmium extract --strategy complete_ways``). Way nodes missing from the file or
    with coordinates out of range are dropped, and so are ways left with fewer than two nodes.

    No way or node goes through Python one by one. Two passes of libosmium write OPL text to a temporary
    folder: first every ``highway=*`` way with its node ids (about 50 bytes per way), then every node (about
    36 bytes per node); both files are deleted on return. pyarrow's CSV reader parses both in blocks of 16 MB,
    the walk filter runs once per distinct tag set, and a hash lookup (pandas) keeps the coordinates of the
    nodes the walkable ways use.
    Only the few nodes tagged as crossings, signals or kerbs become Python objects. Memory follows the
    walkable ways and their nodes; there is no location index of every node.

    The nodes come from their own pass rather than from a location index (``with_locations``) so that a node
    with out-of-range coordinates is dropped like a missing one: libosmium's OPL writer aborts the process on
    such a location when it is written on a way. A node is found by its id wherever it is in the file (a
    location index finds only nodes stored before the way); negative ids (unsaved editor objects) have no
    location, as in pyosmium's index.
    """
    path = Path(path)
    _check_file(path)
    rules = rules or load_tag_rules()
    tagged = _TaggedNodes()
    try:
        with tempfile.TemporaryDirectory(prefix="access15-osm-", ignore_cleanup_errors=True) as tmp:
            ways_opl, nodes_opl = Path(tmp) / "ways.opl", Path(tmp) / "nodes.opl"
            _write_opl(path, osmium.osm.NODE | osmium.osm.WAY, ways_opl, _key_filter(NODE_TAGS, osmium.osm.NODE),
                       tagged, osmium.filter.EntityFilter(osmium.osm.WAY), _key_filter(["highway"], osmium.osm.WAY))
            ways = _OplWays(ways_opl, rules)
            nodes = (np.full(len(ways.used), np.nan), np.full(len(ways.used), np.nan))
            if len(ways.used):
                _write_opl(path, osmium.osm.NODE, nodes_opl)
                nodes = _parse_opl_nodes(nodes_opl, ways.used)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osm_failure(path, exc) from None
    return _way_arrays(ways, nodes, tagged, bbox)


class _TaggedNodes:
    """A handler in the first pass of :func:`read_walk_ways`: keeps the crossing, signals and kerb nodes (only
    nodes with a ``highway``, ``crossing`` or ``kerb`` key get here) and filters out every node it sees."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.tags: list[tuple] = []

    def node(self, n: Any) -> bool:
        t = n.tags
        if t.get("highway") in CROSSING_HIGHWAY or "crossing" in t or "kerb" in t:
            self.ids.append(n.id)
            self.tags.append(tuple(t.get(k) for k in NODE_TAGS))
        return True


def _key_filter(keys: Any, entities: Any) -> Any:
    """A libosmium filter passing objects with any of ``keys``, applied to ``entities`` only."""
    f = osmium.filter.KeyFilter(*keys)
    f.enable_for(entities)
    return f


def _write_opl(path: Path, entities: Any, out: Path, *chain: Any) -> None:
    """Read ``entities`` of ``path`` through the handler ``chain`` into ``out`` as OPL without metadata."""
    reader = osmium.io.Reader(str(path), entities)
    try:
        writer = osmium.SimpleWriter(osmium.io.File(str(out), "opl,add_metadata=false"), overwrite=True)
        try:
            osmium.apply(reader, *chain, writer)
        finally:
            writer.close()
    finally:
        reader.close()


#: An escaped character in OPL text: ``%<hex code point>%`` (spaces, commas, ``=``, ``%``, most non-Latin text).
_OPL_ESCAPE = re.compile(r"%([0-9a-fA-F]+)%")
#: OPL way nodes ``Nn1,n2,n3`` of consecutive ways -> one node id per line.
_OPL_REFS = bytes.maketrans(b"n", b"\n"), b"N,"
#: Bytes read from an OPL file at a time (whole lines).
_OPL_BLOCK = 1 << 24


def _opl_unescape(text: str) -> str:
    return _OPL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "%" in text else text


def _opl_tags(field: str) -> dict[str, str]:
    """An OPL tag field (``Tk=v,k2=v2``) as a dict; of repeated keys the first wins, as in ``TagList.get``."""
    tags: dict[str, str] = {}
    for kv in field[1:].split(",") if len(field) > 1 else ():
        k, _, v = kv.partition("=")
        tags.setdefault(_opl_unescape(k), _opl_unescape(v))
    return tags


def _opl_blocks(path: Path) -> Any:
    """The bytes of a text file in blocks of whole lines."""
    with open(path, "rb") as f:
        rest = b""
        while block := f.read(_OPL_BLOCK):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield block[:cut]
        if rest:
            yield rest


def _csv(data: bytes, columns: dict[str, Any]) -> Any:
    """Space-separated text without quoting as a pyarrow table; ``columns`` maps each column name to its type
    (None: skipped)."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    return pacsv.read_csv(pa.py_buffer(data), read_options=pacsv.ReadOptions(column_names=list(columns)),
                          parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False),
                          convert_options=pacsv.ConvertOptions(
                              column_types={c: t for c, t in columns.items() if t is not None},
                              include_columns=[c for c, t in columns.items() if t is not None]))


def _one_per_line(data: bytes, dtype: Any) -> np.ndarray:
    """One number per line (``\\n5\\n7``; the empty first line is skipped) as a numpy array."""
    import pyarrow as pa

    if not data or data.isspace():
        return np.empty(0, dtype=dtype)
    return _csv(data, {"v": pa.int64() if dtype == np.int64 else pa.float64()}).column("v").to_numpy()


class _OplWays:
    """The walkable ways of the first pass's OPL (``w<id> T<tags> Nn<node>,n<node>,...`` per line), in file
    order: ``way_id``, ``counts`` (nodes per way), ``refs`` (their node ids), ``code`` (index of the way's tag
    set in ``values``: its highway and WALK_TAGS values), ``used`` (the distinct node ids) and ``ref_index``
    (``refs == used[ref_index]``)."""

    def __init__(self, opl: Path, rules: TagRules) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        index: dict[str, int] = {}  # tag field -> index into self.values, -1 when not walkable
        self.values: list[tuple] = []
        parts = []
        for data in _opl_blocks(opl):
            block = _csv(data, {"w": pa.string(), "t": pa.string(), "n": pa.string()})
            codes = block.column("t").combine_chunks().dictionary_encode()
            found = np.empty(len(codes.dictionary), dtype=np.int64)
            for i, field in enumerate(codes.dictionary.to_pylist()):
                if field not in index:
                    tags = _opl_tags(field)
                    walkable = rules.is_walkable(tags)
                    index[field] = len(self.values) if walkable else -1
                    if walkable:
                        self.values.append((tags.get("highway"), *(tags.get(k) for k in WALK_TAGS)))
                found[i] = index[field]
            code = found[codes.indices.to_numpy()]
            keep = code >= 0
            if not keep.any():
                continue
            mask = pa.array(keep)
            ids = block.column("w").filter(mask)
            nodes = block.column("n").filter(mask)
            way_id = _one_per_line(_joined(ids).replace(b"w", b"\n"), np.int64)
            counts = pc.count_substring(nodes, "n").to_numpy().astype(np.int64)
            refs = _one_per_line(_joined(nodes).translate(*_OPL_REFS), np.int64)
            if len(way_id) != len(counts) or len(refs) != counts.sum():
                raise ValueError("unexpected OPL text from libosmium")
            parts.append((way_id, counts, refs, code[keep]))
        cat = [np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype=np.int64) for i in range(4)]
        self.way_id, self.counts, self.refs, self.code = cat
        self.ref_index, self.used = pd.factorize(self.refs)  # refs == used[ref_index]


def _joined(col: Any) -> bytes:
    """The values of a pyarrow string column, concatenated."""
    out = []
    for c in col.chunks:
        if len(c):
            off = np.frombuffer(c.buffers()[1], dtype=np.int32)[[c.offset, c.offset + len(c)]]
            out.append(c.buffers()[2][int(off[0]):int(off[1])].to_pybytes())
    return b"".join(out)


def _parse_opl_nodes(opl: Path, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of each node id in ``used`` from the second pass's OPL (``n<id> T<tags> x<lon>
    y<lat>`` per line); NaN for ids not in the file or without a location. Of repeated ids the last wins, as in
    a location index."""
    import pyarrow as pa

    lookup = pd.Index(used)
    lon, lat = np.full(len(used), np.nan), np.full(len(used), np.nan)
    for data in _opl_blocks(opl):
        # dropping the letters n, x, y leaves the numbers bare; the tag field, also changed, is skipped
        tab = _csv(data.translate(None, b"nxy"), {"i": pa.int64(), "t": None, "x": pa.float64(), "y": pa.float64()})
        at = lookup.get_indexer(tab.column("i").to_numpy())
        keep = at >= 0
        lon[at[keep]] = tab.column("x").to_numpy()[keep]
        lat[at[keep]] = tab.column("y").to_numpy()[keep]
    return lon, lat


def _way_arrays(ways: _OplWays, nodes: tuple[np.ndarray, np.ndarray], tagged: _TaggedNodes,
                bbox: tuple[float, float, float, float] | None) -> WayArrays:
    """Join the ways to their node coordinates; drop invalid locations, ways left with < 2 nodes and ways
    outside ``bbox``."""
    lon, lat = (v[ways.ref_index] for v in nodes)
    lon[ways.refs < 0] = np.nan  # as pyosmium's location index: no location for negative ids
    valid = (lon >= -180) & (lon <= 180) & (lat >= -90) & (lat <= 90)  # Location.valid(); NaN fails
    way_of = np.repeat(np.arange(len(ways.way_id)), ways.counts)[valid]
    node_id, lon, lat = ways.refs[valid], lon[valid], lat[valid]
    counts = np.bincount(way_of, minlength=len(ways.way_id))
    keep = counts >= 2
    if bbox is not None and keep.any():
        sel = keep[way_of]
        bx, by = lon[sel], lat[sel]
        start = np.concatenate([[0], np.cumsum(counts[keep])[:-1]])
        keep[keep] = ~((np.maximum.reduceat(bx, start) < bbox[0]) | (np.minimum.reduceat(bx, start) > bbox[2])
                       | (np.maximum.reduceat(by, start) < bbox[1]) | (np.minimum.reduceat(by, start) > bbox[3]))
    sel = keep[way_of] if not keep.all() else slice(None)
    code = ways.code[keep]
    column = [np.array([v[i] for v in ways.values], dtype=object) for i in range(1 + len(WALK_TAGS))]
    order = np.argsort(np.asarray(tagged.ids, dtype=np.int64), kind="stable")
    return WayArrays(
        node_id=node_id[sel],
        lonlat=np.column_stack([lon[sel], lat[sel]]) if keep.any() else np.empty((0, 2)),
        offsets=np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64),
        way_id=ways.way_id[keep],
        highway=column[0][code],
        tags={k: column[1 + i][code] for i, k in enumerate(WALK_TAGS)},
        tagged_node_id=np.asarray(tagged.ids, dtype=np.int64)[order],
        node_tags={k: np.array([t[i] for t in tagged.tags], dtype=object).reshape(-1)[order]
                   for i, k in enumerate(NODE_TAGS)},
    )


def read_osm_facilities(path: str | Path, rules: TagRules | None = None,
                        categories: list[str] | None = None) -> gpd.GeoDataFrame:
    """Facilities of the given categories found in an OSM file, as points in EPSG:4326.

    Nodes give their location; closed ways and multipolygon relations give their representative point
    (always inside the polygon); open ways give the point halfway along. A feature that matches several
    categories appears once per category. Columns: ``category``, ``name``, ``osm_type``, ``osm_id``,
    ``capacity`` (from the ``capacity`` tag when numeric, else NaN).
    """
    path = Path(path)
    _check_file(path)
    rules = rules or load_tag_rules()
    wanted = set(categories) if categories is not None else None
    unknown = sorted((wanted or set()) - set(rules.categories))
    if unknown:
        raise InputError(path, f"no OSM tag mapping for categories {', '.join(unknown)}",
                         f"add them to a tags TOML (built-in: {', '.join(rules.categories)}) or load them from a file")
    wkb = osmium.geom.WKBFactory()
    rows: list[tuple] = []
    geoms: list[bytes] = []
    try:
        fp = osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(
            osmium.filter.KeyFilter(*rules.keys))
        for obj in fp:
            if obj.is_way() and obj.is_closed():
                continue  # its area (below) stands for it
            cats = rules.match(obj.tags, wanted)
            if not cats:
                continue
            try:
                if obj.is_node():
                    g, otype, oid = wkb.create_point(obj), "node", obj.id
                elif obj.is_way():
                    g, otype, oid = wkb.create_linestring(obj), "way", obj.id
                elif obj.is_area():
                    g = wkb.create_multipolygon(obj)
                    otype, oid = ("way" if obj.from_way() else "relation"), obj.orig_id()
                else:
                    continue
            except RuntimeError:
                continue  # broken geometry in the extract (missing nodes at its edge)
            tags = obj.tags
            name = tags.get("name") or tags.get("name:zh") or tags.get("name:en") or ""
            cap = tags.get("capacity")
            for cat in cats:
                rows.append((cat, name, otype, oid, cap))
                geoms.append(g)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osm_failure(path, exc) from None
    geom = shapely.from_wkb(np.asarray(geoms, dtype=object)) if geoms else np.empty(0, dtype=object)
    if len(geom):
        lines = shapely.get_type_id(geom) == 1
        pts = shapely.point_on_surface(geom)
        pts[lines] = shapely.line_interpolate_point(geom[lines], 0.5, normalized=True)
        geom = pts
    gdf = gpd.GeoDataFrame(rows, columns=["category", "name", "osm_type", "osm_id", "capacity"],
                           geometry=geom, crs="EPSG:4326")
    gdf["capacity"] = gpd.pd.to_numeric(gdf["capacity"], errors="coerce")
    gdf["source"] = f"OpenStreetMap ({path.name})"
    return gdf


def osm_header_info(path: str | Path) -> dict[str, str]:
    """What the file header says about the extract: its timestamp and bounding box, where present."""
    try:
        header = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING).header()
    except (RuntimeError, ValueError, OSError):
        return {}
    info = {}
    for key in ("osmosis_replication_timestamp", "timestamp"):
        if header.get(key):
            info["timestamp"] = header.get(key)
            break
    box = header.box()
    if box.valid():
        info["bbox"] = f"{box.bottom_left.lon},{box.bottom_left.lat},{box.top_right.lon},{box.top_right.lat}"
    return info


# --- areas (closed ways and multipolygon relations) ---------------------------------------------------

#: ``waterway=*`` values that are water areas (when mapped as areas).
WATERWAY_AREAS = frozenset({"riverbank", "dock", "canal"})
#: ``landuse=*`` values that are water areas.
WATER_LANDUSE = frozenset({"reservoir", "basin"})
#: OSM ``building`` values counted as homes by the dasymetric estimate.
RESIDENTIAL_BUILDINGS = frozenset({
    "residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory",
    "bungalow", "farm", "cabin", "static_caravan", "houseboat",
})


def read_areas(path: str | Path, osm_filter: Any, select: Callable[[Any, Any], tuple | None]
               ) -> tuple[np.ndarray, list[tuple]]:
    """Stream the areas of an OSM file that ``select`` keeps, as (geometries in EPSG:4326, rows).

    ``osm_filter`` is a pyosmium filter that drops other objects in C++ (e.g. ``KeyFilter("building")``);
    ``select(tags, area)`` returns the row to keep for an area, or None to skip it. Areas that pyosmium cannot
    assemble (a multipolygon cut by the extract's edge) are skipped, so "an area" means "an area complete in
    the extract". One streaming pass; Python runs only for the objects the filter lets through.
    """
    path = Path(path)
    _check_file(path)
    wkb = osmium.geom.WKBFactory()
    rows: list[tuple] = []
    geoms: list[bytes] = []
    try:
        for obj in osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(osm_filter):
            if not obj.is_area():
                continue
            row = select(obj.tags, obj)
            if row is None:
                continue
            try:
                geoms.append(wkb.create_multipolygon(obj))
            except RuntimeError:
                continue  # incomplete at the extract's edge
            rows.append(row)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osm_failure(path, exc) from None
    return (shapely.from_wkb(np.asarray(geoms, dtype=object)) if geoms else np.empty(0, dtype=object)), rows


def is_water(tags: Any) -> bool:
    """Whether an OSM area with these tags is water (``natural=water``, ``water=*``, ``waterway=riverbank|dock|
    canal`` as areas, ``landuse=reservoir|basin``)."""
    return (tags.get("natural") == "water" or tags.get("water") is not None
            or tags.get("waterway") in WATERWAY_AREAS or tags.get("landuse") in WATER_LANDUSE)


def read_water_areas(path: str | Path) -> gpd.GeoDataFrame:
    """Water polygons of an OSM file (EPSG:4326), with ``name`` and ``osm_id`` columns."""
    geom, rows = read_areas(path, osmium.filter.KeyFilter("natural", "water", "waterway", "landuse"),
                            lambda tags, obj: (tags.get("name") or tags.get("name:en") or "", obj.orig_id())
                            if is_water(tags) else None)
    names, ids = (list(c) for c in zip(*rows)) if rows else ([], [])
    return gpd.GeoDataFrame({"name": names, "osm_id": np.asarray(ids, dtype=np.int64)}, geometry=geom,
                            crs="EPSG:4326")


def read_osm_admin(path: str | Path, levels: list[int] | None = None) -> gpd.GeoDataFrame:
    """``boundary=administrative`` areas of an OSM file (EPSG:4326): ``unit`` (name), ``level``
    ("admin_level N"), ``admin_level`` (int), ``osm_id``. Relations whose ring is cut by the extract's edge
    cannot be assembled and are left out (an error when none is left)."""
    def select(tags: Any, obj: Any) -> tuple | None:
        lvl = tags.get("admin_level")
        if lvl is None or not lvl.isdigit() or (levels and int(lvl) not in levels):
            return None
        name = tags.get("name") or tags.get("name:en") or f"relation {obj.orig_id()}"
        return name, f"admin_level {lvl}", int(lvl), obj.orig_id()

    geom, rows = read_areas(path, osmium.filter.TagFilter(("boundary", "administrative")), select)
    if not rows:
        raise InputError(path, "no complete boundary=administrative areas"
                         + (f" at admin_level {', '.join(map(str, levels))}" if levels else ""),
                         "choose other admin_levels or give a boundary file")
    gdf = gpd.GeoDataFrame(rows, columns=["unit", "level", "admin_level", "osm_id"], geometry=geom, crs=WGS84)
    return gdf.sort_values(["admin_level", "unit"], kind="stable").reset_index(drop=True)


def residential_buildings(path: str | Path, crs: pyproj.CRS, default_levels: float,
                          values: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Residential building footprints (in ``crs``, metres) and their floor area in m² (footprint x
    ``building:levels``, ``default_levels`` where the tag is missing or not a positive number)."""
    if not Path(path).is_file():
        raise InputError(path, "OSM file for the building estimate not found", "check [population] path")
    homes = frozenset(values) if values else RESIDENTIAL_BUILDINGS
    geom, rows = read_areas(path, osmium.filter.KeyFilter("building"),
                            lambda tags, _obj: (tags.get("building:levels"),) if tags.get("building") in homes
                            else None)
    if not rows:
        raise InputError(path, f"no residential buildings (building={'/'.join(sorted(homes)[:4])}/...) in the "
                         "extract", "give real population data in [population] or set building_values")
    geom = geometry_to(geom, WGS84, crs)
    lv = pd.to_numeric(pd.Series([r[0] for r in rows], dtype=object), errors="coerce").to_numpy(float)
    lv = np.where(np.isfinite(lv) & (lv > 0), lv, default_levels)
    return geom, shapely.area(geom) * lv
