"""Provenance: what every output was made from, so a map or table can always be traced and checked.

:func:`collect` records, when an analysis starts, each input file (role, path, size, SHA-256), the OSM
extract's timestamp and bounding box from its header when present, the whole config, the access15 and
Python versions and the start time; :func:`finish` adds the end time. The record travels on
``AnalysisResult.provenance`` and is written three ways:

* ``run.json`` beside the outputs, which also lists every output file with its SHA-256
  (:func:`write_run_json`; :func:`verify_outputs` re-checks a folder against it);
* the non-spatial table ``access15_meta`` of the GeoPackage (:func:`meta_items`, written by
  :mod:`access15.outputs`);
* a footer line of the HTML map (:func:`footer_lines`).

Hashing is O(total input bytes), streamed in 1 MiB blocks.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from ._version import __version__
from .config import Config, config_to_json
from .io.osm import is_osm_file, osm_header_info
from .presets import PRESETS
from .text import t

#: Said in ``osm_timestamp_note`` (run.json, GeoPackage, map footer) when the OSM date is unknown.
NO_OSM_TIMESTAMP = "the extract's header has no timestamp"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN_JSON = "run.json"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _utc(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def file_record(role: str, path: str | Path) -> dict[str, Any]:
    """One input file: role, name, absolute path, bytes and SHA-256 (None when the file is missing);
    for OSM files also ``osm_timestamp`` from the header (None, with ``osm_timestamp_note`` saying so, when
    the header has none) and ``osm_bbox`` when the header has one."""
    path = Path(path)
    rec: dict[str, Any] = {"role": role, "name": path.name, "path": str(path.resolve())}
    if path.is_file():
        rec["bytes"] = path.stat().st_size
        rec["sha256"] = sha256_file(path)
        if is_osm_file(path):
            head = osm_header_info(path)
            rec["osm_timestamp"] = head.get("timestamp") or None
            if not rec["osm_timestamp"]:
                rec["osm_timestamp_note"] = NO_OSM_TIMESTAMP
            if head.get("bbox"):
                rec["osm_bbox"] = head["bbox"]
    else:
        rec["sha256"] = None
    return rec


def packaged_record(role: str, name: str) -> dict[str, Any]:
    """One data file shipped inside the package (``access15/data/<name>``): role, name, its package path,
    bytes and SHA-256, and ``packaged: true``."""
    data = resources.files("access15").joinpath(f"data/{name}").read_bytes()
    return {"role": role, "name": name, "path": f"access15/data/{name}", "packaged": True, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def targets_preset(cfg: Config) -> str | None:
    """The shipped targets preset the config uses (``[targets] preset``), read from its source file; None
    when it uses none or was not read from a file."""
    if cfg.source is None or not Path(cfg.source).is_file():
        return None
    try:
        data = tomllib.loads(Path(cfg.source).read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    targets = data.get("targets")
    preset = targets.get("preset") if isinstance(targets, dict) else None
    return str(preset) if preset is not None else None


def collect(cfg: Config, started: datetime | None = None, *, network_in_memory: str | None = None,
            facilities_in_memory: bool = False,
            extra_inputs: Sequence[tuple[str, str | Path]] = ()) -> dict[str, Any]:
    """The provenance record of a run of ``cfg`` starting at ``started`` (default: now, UTC).

    ``network_in_memory`` / ``facilities_in_memory`` say that the caller handed these in as objects
    instead of letting the config's files be read; the record then says so instead of hashing files
    that were not used. ``extra_inputs`` are further (role, path) files that change a figure (e.g. candidate
    sites of a siting run).

    Every input that changes a figure is listed with its SHA-256: the config, the network and its tag
    mapping, facility files, the population file, boundaries, packaged data files in use (the built-in tag
    mapping, travel profiles, a targets preset) and ``extra_inputs``. ``osm_timestamp`` is the extract's
    date; when it is unknown, ``osm_timestamp_note`` says why.
    """
    started = started or datetime.now(timezone.utc)
    inputs: list[dict[str, Any]] = []
    builtin_tags = False
    if cfg.source is not None:
        inputs.append(file_record("config", cfg.source))
    net_path = cfg.resolve(cfg.network.path)
    osm_network = network_in_memory is None and is_osm_file(net_path)
    if network_in_memory is not None:
        inputs.append({"role": "network", "name": network_in_memory, "supplied": "in memory"})
    else:
        inputs.append(file_record("network", net_path))
        if cfg.network.tags:
            inputs.append(file_record("network tags", cfg.resolve(cfg.network.tags)))
        builtin_tags |= osm_network and not cfg.network.tags  # the walkable-way filter
    if facilities_in_memory:
        inputs.append({"role": "facilities", "supplied": "in memory"})
    else:
        for i, src in enumerate(cfg.facilities, start=1):
            if src.path.lower() == "osm":
                if src.tags:
                    inputs.append(file_record(f"facilities #{i} tags", cfg.resolve(src.tags)))
                else:
                    builtin_tags = True
                continue  # read from the network's OSM file, recorded above
            inputs.append(file_record(f"facilities #{i}", cfg.resolve(src.path)))
    if builtin_tags:
        inputs.append(packaged_record("tag mapping (built-in)", "osm_tags.toml"))
    pc = cfg.population
    if pc is not None:
        if pc.path and pc.kind != "buildings":
            inputs.append(file_record("population", cfg.resolve(pc.path)))
        if pc.kind == "buildings" or pc.dasymetric:
            inputs.append({"role": "population buildings", "name": Path(str(cfg.network.path)).name,
                           "supplied": "OSM buildings of the network file, recorded above"})
    if cfg.boundaries is not None:
        if cfg.boundaries.path.lower() == "osm":
            inputs.append({"role": "boundaries", "name": Path(str(cfg.network.path)).name,
                           "supplied": "OSM administrative boundaries of the network file, recorded above"})
        else:
            inputs.append(file_record("boundaries", cfg.resolve(cfg.boundaries.path)))
    if any(c.profile_by_class for c in cfg.categories.values()):
        inputs.append(packaged_record("travel profiles (built-in)", "speeds.toml"))
    preset = targets_preset(cfg)
    if preset is not None and preset in PRESETS:
        rec = packaged_record("targets preset", f"targets_{preset}.toml")
        rec["preset"] = preset
        inputs.append(rec)
    for role, path in extra_inputs:
        inputs.append(file_record(role, path))
    osm = [r for r in inputs if "osm_timestamp" in r]
    stamp = next((r["osm_timestamp"] for r in osm if r["osm_timestamp"]), None)
    record = {
        "access15_version": __version__,
        "python": platform.python_version(),
        "run_started_utc": _utc(started),
        "osm_timestamp": stamp,
    }
    if stamp is None:
        record["osm_timestamp_note"] = (NO_OSM_TIMESTAMP if osm else "the network was supplied in memory: no OSM "
                                        "extract header was read" if network_in_memory is not None else
                                        "no OSM extract was read (the network is a road-line layer)")
    record["inputs"] = inputs
    record["config"] = config_to_json(cfg)
    return record


def finish(record: dict[str, Any], finished: datetime | None = None) -> dict[str, Any]:
    """Add the end time and duration (seconds) to a record from :func:`collect`."""
    finished = finished or datetime.now(timezone.utc)
    start = datetime.fromisoformat(record["run_started_utc"].replace("Z", "+00:00"))
    record["run_finished_utc"] = _utc(finished)
    record["run_seconds"] = round((finished - start).total_seconds(), 3)
    return record


def footer_lines(record: dict[str, Any], lang: str = "en") -> list[str]:
    """Short provenance lines for the HTML map's footer (the OSM date, or why it is unknown)."""
    if not record:
        return []
    parts = [f"run {record.get('run_started_utc', '?')}"]  # the map's footer already names the version
    if record.get("osm_timestamp"):
        parts.append(f"OSM extract {record['osm_timestamp']}")
    elif record.get("osm_timestamp_note"):
        note = record["osm_timestamp_note"]
        parts.append(t(lang, "osm_date_unknown", note=t(lang, "osm_no_timestamp") if note == NO_OSM_TIMESTAMP else note))
    files = [f"{r['name']} sha256:{r['sha256'][:12]}" for r in record.get("inputs", []) if r.get("sha256")]
    lines = [" · ".join(parts)]
    if files:
        lines.append("inputs: " + ", ".join(files))
    if record.get("scenario"):  # access15 serve / run --scenario: what-if figures, not the inputs as they are
        lines.append(str(record["scenario"]))
    return lines


def meta_items(record: dict[str, Any]) -> dict[str, Any]:
    """The provenance keys of the GeoPackage metadata table."""
    keys = ("access15_version", "python", "run_started_utc", "run_finished_utc", "run_seconds", "osm_timestamp",
            "osm_timestamp_note", "inputs")
    return {k: record[k] for k in keys if k in record}  # "config" is written with the map tables


def write_run_json(path: str | Path, record: dict[str, Any], outputs: dict[str, Path]) -> None:
    """``run.json``: the provenance record plus each output file's name, bytes and SHA-256."""
    doc = dict(record)
    doc["outputs"] = [{"name": p.name, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                      for p in outputs.values()]
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def verify_outputs(out_dir: str | Path) -> list[str]:
    """Check an output folder against its ``run.json``; return the mismatches (empty when all agree)."""
    out_dir = Path(out_dir)
    run = out_dir / RUN_JSON
    if not run.is_file():
        return [f"{run}: missing"]
    try:
        doc = json.loads(run.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"{run}: unreadable ({exc})"]
    bad = []
    for rec in doc.get("outputs", []):
        p = out_dir / rec["name"]
        if not p.is_file():
            bad.append(f"{rec['name']}: missing")
        elif sha256_file(p) != rec["sha256"]:
            bad.append(f"{rec['name']}: checksum differs from run.json")
    return bad
