"""Fetch when online: OSMnx, unchanged, over real HTTP to a local Overpass/Nominatim stand-in on 127.0.0.1 that
answers from the bundled Monaco extract (tests/overpass_lite.py). Query -> download -> cache -> analysis; the
second run works with the server stopped; a busy, broken or absent server gives one clear line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import osmnx  # noqa: F401  (the online extra is part of the test install)
import pytest

from access15 import analyze
from access15.errors import InputError
from access15.io.osm import read_osm_facilities

sys.path.insert(0, str(Path(__file__).parent))
from overpass_lite import FakeOSMServer

OSM = Path(__file__).resolve().parents[1] / "data" / "osm"
CATS = ["clinic", "fitness", "culture", "convenience"]


@pytest.fixture(scope="module")
def server():
    s = FakeOSMServer(OSM / "monaco.osm.pbf", place="Monaco").start()
    yield s
    s.stop()


def _config(folder: Path, url: str, where: str = 'place = "Monaco"') -> Path:
    cats = "\n".join(f"[categories.{c}]" for c in CATS)
    text = f"""
name = "Monaco, downloaded"
[network]
{where}
overpass_url = "{url}/api"
nominatim_url = "{url}/"
timeout_s = 5
cache_dir = "cache"
{cats}
[[facilities]]
path = "osm"
[output]
dir = "out"
"""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "monaco.toml").write_text(text, encoding="utf-8")
    return folder / "monaco.toml"


def _shares(result) -> dict[str, float]:
    return dict(zip(result.coverage.iloc[:, 0], result.coverage["share_covered"]))


def test_place_is_downloaded_cached_and_reused_offline(server, tmp_path):
    server.mode = "ok"
    server.requests.clear()
    cfg = _config(tmp_path, server.url)
    first = analyze(cfg)
    # one Nominatim search, two Overpass way queries (foot allowed | not forbidden), one feature query
    assert server.requests.count("GET /search") == 1
    assert server.requests.count("POST /api/interpreter") == 3
    rec = first.provenance["download"]
    assert rec["query"] == {"place": "Monaco"} and rec["overpass_url"] == f"{server.url}/api"
    assert rec["nominatim_url"] == f"{server.url}/" and rec["downloaded_utc"].endswith("Z") and not rec["reused"]
    folder = tmp_path / "cache" / "download"
    (entry,) = folder.iterdir()
    assert {p.suffix for p in entry.iterdir()} >= {".graphml", ".geojson", ".json"}
    assert json.loads((entry / "fetch.json").read_text())["query"] == {"place": "Monaco"}
    from access15.provenance import write_run_json

    write_run_json(tmp_path / "run.json", first.provenance, {})
    assert json.loads((tmp_path / "run.json").read_text())["download"]["query"] == {"place": "Monaco"}
    net_input = next(i for i in first.provenance["inputs"] if i["role"] == "network")
    assert net_input["name"] == "network.graphml" and net_input["sha256"]
    # the same data as reading the extract directly: same facilities, coverage within 1 percentage point
    want = read_osm_facilities(OSM / "monaco.osm.pbf", categories=CATS)["category"].value_counts().to_dict()
    assert first.facilities["category"].value_counts().to_dict() == want
    local = analyze(_local_config(tmp_path))
    a, b = _shares(local), _shares(first)
    assert all(abs(a[c] - b[c]) <= 0.01 for c in [*CATS, "combined"]), (a, b)

    # second run, server gone: from the cache, nothing requested
    n_req = len(server.requests)
    server.mode = "504"  # anything reaching the server would now fail
    second = analyze(cfg)
    assert len(server.requests) == n_req
    assert second.provenance["download"]["reused"] is True
    assert _shares(second) == _shares(first)


def _local_config(folder: Path) -> Path:
    cats = "\n".join(f"[categories.{c}]" for c in CATS)
    p = folder / "local.toml"
    p.write_text(f'[network]\npath = "{OSM / "monaco.osm.pbf"}"\n{cats}\n[[facilities]]\npath = "osm"\n',
                 encoding="utf-8")
    return p


@pytest.mark.parametrize("mode, where, expect", [
    ("429", 'place = "Monaco"', "HTTP 429"),
    ("504", "bbox = [7.40, 43.72, 7.44, 43.75]", "HTTP 504"),
    ("garbage", "bbox = [7.40, 43.72, 7.44, 43.75]", "InsufficientResponseError"),
])
def test_busy_or_broken_server_gives_one_clear_line(server, tmp_path, mode, where, expect):
    server.mode = mode
    try:
        with pytest.raises(InputError) as err:
            analyze(_config(tmp_path, server.url, where))
    finally:
        server.mode = "ok"
    msg = str(err.value)
    assert "\n" not in msg and expect in msg
    assert "download an OSM extract" in msg and '[network] path = "area.osm.pbf"' in msg
    assert not list((tmp_path / "cache").glob("download/*/network.graphml"))  # nothing half-saved


def test_no_server_and_no_cache(tmp_path):
    dead = FakeOSMServer(OSM / "west_oakland.osm.bz2")
    url = dead.url
    dead.stop()  # nothing listens there any more
    cfg = _config(tmp_path, url, "bbox = [7.40, 43.72, 7.44, 43.75]")
    with pytest.raises(InputError, match=r"ConnectionError.*set \[network\] path") as err:
        analyze(cfg)
    assert "\n" not in str(err.value)
    from access15.validate import validate

    assert any("not downloaded yet" in p.problem and "access15 fetch" in p.suggestion for p in validate(cfg))


def test_fetch_command(tmp_path):
    """``access15 fetch``: download with progress lines, then "cached"; a local-file config is refused."""
    from typer.testing import CliRunner

    from access15.cli import app

    small = FakeOSMServer(OSM / "west_oakland.osm.bz2").start()  # a tiny extract: the command, not OSMnx, is tested
    try:
        cfg = _config(tmp_path, small.url, "bbox = [{:.5f}, {:.5f}, {:.5f}, {:.5f}]".format(*small.bbox))
        res = CliRunner().invoke(app, ["fetch", str(cfg)])
        assert small.requests.count("POST /api/interpreter") == 3
    finally:
        small.stop()
    assert "downloading the walkable streets" in res.output
    assert res.exit_code == 0, res.output
    assert "downloaded" in res.output and "network.graphml" in res.output
    res = CliRunner().invoke(app, ["fetch", str(cfg)])
    assert res.exit_code == 0 and "cached" in res.output
    from access15.validate import validate  # validate reads the downloaded files

    problems = validate(cfg)
    assert not [p for p in problems if p.severity == "error"], problems
    assert any("network.graphml" in p.file for p in problems)
    local = _local_config(tmp_path)
    res = CliRunner().invoke(app, ["fetch", str(local)])
    assert res.exit_code == 2 and "nothing to download" in res.output
