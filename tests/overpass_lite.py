"""A small, real stand-in for the Overpass and Nominatim APIs, answering from a bundled OSM extract.

* :func:`extract_elements` reads an extract with pyosmium into Overpass JSON elements (nodes with lat/lon and
  tags, ways with node refs and tags, relations with members and tags).
* :func:`tag_filter` evaluates an Overpass QL tag filter string such as OSMnx's walk filter
  (``["highway"]["foot"!~"no"]...``: ``[k]``, ``[k=v]``, ``[k!=v]``, ``[k~re]``, ``[k!~re]``).
* :func:`write_osm_xml` writes elements as OSM XML (what ``osmnx.graph_from_xml`` reads).
* :class:`FakeOSMServer` is an ``http.server`` on 127.0.0.1 in a thread that answers OSMnx's requests:
  ``GET /search`` (Nominatim: one result whose polygon is the extract's bounding box), ``GET /status`` and
  ``POST /interpreter`` (Overpass: the query's ``way[filters](poly:...)`` and ``node/way/relation[tag](poly:...)``
  statements evaluated against the extract, with ``>`` recursion to the ways' nodes). ``mode`` makes it answer
  429, 504 or garbage instead. Every request is logged in ``requests``.

This is test infrastructure, not a mock of OSMnx: OSMnx runs unchanged, over real HTTP, on real OSM data.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import quoteattr

import numpy as np
import osmium
import shapely

_FILTER = re.compile(r"""\[\s*(?P<k>"[^"]*"|'[^']*'|[\w:]+)\s*(?:(?P<op>!=|!~|=|~)\s*(?P<v>"[^"]*"|'[^']*'|[\w:]+))?\s*\]""")


def _unq(s: str) -> str:
    return s[1:-1] if s and s[0] in "'\"" else s


def tag_filter(expr: str):
    """A predicate ``tags -> bool`` for an Overpass QL chain of tag filters (poly:... parts are ignored)."""
    tests = []
    for m in _FILTER.finditer(expr):
        k, op, v = _unq(m["k"]), m["op"], _unq(m["v"]) if m["v"] is not None else None
        tests.append((k, op, re.compile(v) if op in ("~", "!~") else v))

    def ok(tags: dict) -> bool:
        for k, op, v in tests:
            val = tags.get(k)
            if op is None and val is None:
                return False
            if op == "=" and val != v:
                return False
            if op == "!=" and val == v:
                return False
            if op == "~" and (val is None or not v.search(val)):
                return False
            if op == "!~" and val is not None and v.search(val):
                return False
        return True

    return ok


def extract_elements(path: str | Path) -> dict:
    """Every node, way and relation of an OSM extract as Overpass JSON ``elements`` (pyosmium, one pass)."""
    nodes, ways, rels = [], [], []
    for obj in osmium.FileProcessor(str(path)):
        tags = {t.k: t.v for t in obj.tags}
        if obj.is_node():
            if obj.location.valid():
                el = {"type": "node", "id": obj.id, "lat": obj.location.lat, "lon": obj.location.lon}
                nodes.append({**el, "tags": tags} if tags else el)
        elif obj.is_way():
            ways.append({"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes], "tags": tags})
        elif obj.is_relation():
            rels.append({"type": "relation", "id": obj.id, "tags": tags,
                         "members": [{"type": {"n": "node", "w": "way", "r": "relation"}[m.type], "ref": m.ref,
                                      "role": m.role} for m in obj.members]})
    return {"nodes": nodes, "ways": ways, "relations": rels}


def select_ways(elements: dict, keep) -> list[dict]:
    """The ways passing ``keep(tags)`` followed by the nodes they use (as Overpass' ``(way[...];>;)``).

    Node references missing from the extract (ways cut at its edge) are dropped, as access15's reader does."""
    known = {n["id"] for n in elements["nodes"]}
    ways = []
    for w in elements["ways"]:
        if keep(w["tags"]):
            refs = [r for r in w["nodes"] if r in known]  # as access15's reader: drop nodes cut off by the extract
            if len(refs) >= 2:
                ways.append({**w, "nodes": refs})
    refs = {r for w in ways for r in w["nodes"]}
    return [n for n in elements["nodes"] if n["id"] in refs] + ways


def write_osm_xml(elements: list[dict], path: str | Path) -> Path:
    """Write Overpass JSON elements (nodes and ways) as an OSM XML file."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="access15 tests">']
    def tag(t: dict) -> str:
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in t.items())

    for e in elements:
        if e["type"] == "node":
            out.append(f'<node id="{e["id"]}" lat="{e["lat"]:.7f}" lon="{e["lon"]:.7f}" version="1">'
                       f'{tag(e.get("tags", {}))}</node>')
    for e in elements:
        if e["type"] == "way":
            nds = "".join(f'<nd ref="{r}"/>' for r in e["nodes"])
            out.append(f'<way id="{e["id"]}" version="1">{nds}{tag(e["tags"])}</way>')
    out.append("</osm>")
    Path(path).write_text("\n".join(out), encoding="utf-8")
    return Path(path)


_STATEMENT = re.compile(r"\((node|way|relation)((?:\[[^\]]*\])*)\(poly:\s*(['\"])([^'\"]*)\3\)")


class FakeOSMServer:
    """Overpass + Nominatim answered from one extract, on 127.0.0.1 (see the module docstring)."""

    def __init__(self, extract: str | Path, place: str = "Test place"):
        self.elements = extract_elements(extract)
        self.place = place
        self.mode = "ok"           # "ok" | "429" | "504" | "garbage"
        self.requests: list[str] = []
        nodes = self.elements["nodes"]
        self._nid = np.array([n["id"] for n in nodes], dtype=np.int64)
        self._lonlat = np.array([[n["lon"], n["lat"]] for n in nodes])
        self._node_by_id = {n["id"]: n for n in nodes}
        lo, hi = self._lonlat.min(axis=0), self._lonlat.max(axis=0)
        self.bbox = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeOSMServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever loop that must have started
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    # --- answers -------------------------------------------------------------------------------------------
    def nominatim(self) -> list[dict]:
        x0, y0, x1, y1 = self.bbox
        poly = shapely.box(x0, y0, x1, y1)
        return [{"place_id": 1, "osm_type": "relation", "osm_id": 1, "lat": str((y0 + y1) / 2),
                 "lon": str((x0 + x1) / 2), "class": "boundary", "type": "administrative", "importance": 0.5,
                 "display_name": self.place, "boundingbox": [str(y0), str(y1), str(x0), str(x1)],
                 "geojson": shapely.geometry.mapping(poly)}]

    def overpass(self, query: str) -> dict:
        inside_cache: dict[str, np.ndarray] = {}
        out_nodes: set[int] = set()
        out_ways: dict[int, dict] = {}
        out_rels: dict[int, dict] = {}
        for kind, filters, _, coords in _STATEMENT.findall(query):
            if coords not in inside_cache:
                c = np.array(coords.split(), dtype=float).reshape(-1, 2)[:, ::-1]  # "lat lon ..." -> lon, lat
                poly = shapely.Polygon(c)
                inside_cache[coords] = self._nid[shapely.contains_xy(poly, self._lonlat[:, 0], self._lonlat[:, 1])]
            inside = set(inside_cache[coords].tolist())
            keep = tag_filter(filters)
            if kind == "node":
                out_nodes |= {n["id"] for n in self.elements["nodes"] if n.get("tags") and n["id"] in inside
                              and keep(n["tags"])}
            elif kind == "way":
                for w in self.elements["ways"]:
                    if keep(w["tags"]) and any(r in inside for r in w["nodes"]):
                        out_ways[w["id"]] = w
            else:
                for r in self.elements["relations"]:
                    if keep(r["tags"]) and r["tags"]:
                        out_rels[r["id"]] = r
        # recursion ">": members of relations (ways, nodes), then the nodes of every way
        way_by_id = {w["id"]: w for w in self.elements["ways"]}
        for r in out_rels.values():
            for m in r["members"]:
                if m["type"] == "way" and m["ref"] in way_by_id:
                    out_ways.setdefault(m["ref"], way_by_id[m["ref"]])
                elif m["type"] == "node":
                    out_nodes.add(m["ref"])
        for w in out_ways.values():
            out_nodes.update(w["nodes"])
        nodes = [self._node_by_id[i] for i in sorted(out_nodes) if i in self._node_by_id]
        return {"version": 0.6, "generator": "access15 tests", "osm3s": {"copyright": "OpenStreetMap contributors"},
                "elements": nodes + list(out_ways.values()) + list(out_rels.values())}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, build) -> None:
                if server.mode in ("429", "504"):
                    self._send(int(server.mode), b"busy", "text/plain")
                elif server.mode == "garbage":
                    self._send(200, b"<html>not json", "text/html")
                else:
                    self._send(200, json.dumps(build()).encode())

            def do_GET(self):
                url = urlparse(self.path)
                server.requests.append(f"GET {url.path}")
                if url.path.endswith("/status"):
                    self._send(200, b"Connected as: 1\nCurrent time: x\nAnnounced endpoint: none\n"
                                    b"Rate limit: 2\n2 slots available now.\nCurrently running queries:\n",
                               "text/plain")
                elif url.path.endswith("/search"):
                    parse_qs(url.query)
                    self._answer(server.nominatim)
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                data = parse_qs(self.rfile.read(n).decode())
                server.requests.append(f"POST {urlparse(self.path).path}")
                self._answer(lambda: server.overpass(data.get("data", [""])[0]))

        return Handler
