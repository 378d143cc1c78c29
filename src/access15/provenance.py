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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._version import __version__
from .config import Config, config_to_json
from .io.osm import is_osm_file, osm_header_info

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
    for OSM files also ``osm_timestamp``/``osm_bbox`` from the header when the header has them."""
    path = Path(path)
    rec: dict[str, Any] = {"role": role, "name": path.name, "path": str(path.resolve())}
    if path.is_file():
        rec["bytes"] = path.stat().st_size
        rec["sha256"] = sha256_file(path)
        if is_osm_file(path):
            head = osm_header_info(path)
            if head.get("timestamp"):
                rec["osm_timestamp"] = head["timestamp"]
            if head.get("bbox"):
                rec["osm_bbox"] = head["bbox"]
    else:
        rec["sha256"] = None
    return rec


def collect(cfg: Config, started: datetime | None = None, *, network_in_memory: str | None = None,
            facilities_in_memory: bool = False) -> dict[str, Any]:
    """The provenance record of a run of ``cfg`` starting at ``started`` (default: now, UTC).

    ``network_in_memory`` / ``facilities_in_memory`` say that the caller handed these in as objects
    instead of letting the config's files be read; the record then says so instead of hashing files
    that were not used.
    """
    started = started or datetime.now(timezone.utc)
    inputs: list[dict[str, Any]] = []
    if cfg.source is not None:
        inputs.append(file_record("config", cfg.source))
    if network_in_memory is not None:
        inputs.append({"role": "network", "name": network_in_memory, "supplied": "in memory"})
    else:
        inputs.append(file_record("network", cfg.resolve(cfg.network.path)))
        if cfg.network.tags:
            inputs.append(file_record("network tags", cfg.resolve(cfg.network.tags)))
    if facilities_in_memory:
        inputs.append({"role": "facilities", "supplied": "in memory"})
    else:
        for i, src in enumerate(cfg.facilities, start=1):
            if src.path.lower() == "osm":
                if src.tags:
                    inputs.append(file_record(f"facilities #{i} tags", cfg.resolve(src.tags)))
                continue  # read from the network's OSM file, recorded above
            inputs.append(file_record(f"facilities #{i}", cfg.resolve(src.path)))
    if cfg.boundaries is not None:
        inputs.append(file_record("boundaries", cfg.resolve(cfg.boundaries.path)))
    osm = [r for r in inputs if r.get("osm_timestamp")]
    return {
        "access15_version": __version__,
        "python": platform.python_version(),
        "run_started_utc": _utc(started),
        "osm_timestamp": osm[0]["osm_timestamp"] if osm else None,
        "inputs": inputs,
        "config": config_to_json(cfg),
    }


def finish(record: dict[str, Any], finished: datetime | None = None) -> dict[str, Any]:
    """Add the end time and duration (seconds) to a record from :func:`collect`."""
    finished = finished or datetime.now(timezone.utc)
    start = datetime.fromisoformat(record["run_started_utc"].replace("Z", "+00:00"))
    record["run_finished_utc"] = _utc(finished)
    record["run_seconds"] = round((finished - start).total_seconds(), 3)
    return record


def footer_lines(record: dict[str, Any]) -> list[str]:
    """Short provenance lines for the HTML map's footer."""
    if not record:
        return []
    parts = [f"run {record.get('run_started_utc', '?')}"]  # the map's footer already names the version
    if record.get("osm_timestamp"):
        parts.append(f"OSM extract {record['osm_timestamp']}")
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
            "inputs")
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
