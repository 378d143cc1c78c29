"""Outputs that never lie: atomic replacement (a SIGKILLed run), provenance, deterministic tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest

from access15 import analyze
from access15.config import config_from_dict
from access15.outputs import STAGING_PREFIX, read_meta_table, write_outputs
from access15.provenance import sha256_file, verify_outputs

ROOT = Path(__file__).resolve().parents[1]
TD = ROOT / "tests" / "data"
TSINGHUA = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
AGUAS = ROOT / "data" / "osm" / "aguascalientes.osm.pbf"
BOUNDS = ROOT / "data" / "boundaries" / "haidian_longgang_districts_gcj02.geojson"
CATS = "[categories.fitness]\n[categories.convenience]\n[categories.clinic]\n[categories.culture]\n" \
       "[categories.childcare]\n"


def tsinghua_toml(tmp: Path, extra: str = "", name: str = "run.toml") -> Path:
    p = tmp / name
    p.write_text(f'name = "Tsinghua"\n[network]\npath = "{TSINGHUA}"\n' + CATS
                 + f'[[facilities]]\npath = "{TD / "tsinghua_facilities_gcj02_utf8bom.csv"}"\ncrs = "gcj02"\n'
                 + 'id_column = "编号"\n' + extra, encoding="utf-8")
    return p


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(cfg: Path, out: Path, seed: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": str(seed), "COLUMNS": "120"}
    return subprocess.Popen([sys.executable, "-m", "access15", "run", str(cfg), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_mid_write_keeps_previous_outputs(tmp_path):
    cfg = tsinghua_toml(tmp_path, "[demand]\ncell_m = 40\n")
    out = tmp_path / "out"
    first = _run(cfg, out, seed=1)
    assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    before = snapshot(out)
    assert set(before) == {"coverage.csv", "access15.gpkg", "map.html", "run.json", "travel_time.tif", "coverage.tif",
                           "demand.parquet", "facilities.parquet"}
    assert verify_outputs(out) == []

    # second run: wait until it is writing into its staging folder, then kill it without warning
    proc = _run(cfg, out, seed=2)
    partial: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        staging = list(tmp_path.glob(f"{STAGING_PREFIX}out-{proc.pid}-*"))
        if staging and any(staging[0].iterdir()):
            os.kill(proc.pid, signal.SIGKILL)
            partial = [p.name for p in staging[0].iterdir()]
            break
        time.sleep(0.002)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed mid-write"
    assert partial, "never saw the run writing"
    assert snapshot(out) == before                # previous outputs byte for byte, nothing added
    assert verify_outputs(out) == []
    left = list(tmp_path.glob(f"{STAGING_PREFIX}*"))
    assert left and all(p.name.startswith(".") for p in left)   # only a hidden staging folder, outside out/

    # the next run cleans the dead run's staging folder and gives byte-identical tables (another hash seed)
    third = _run(cfg, out, seed=3)
    assert third.wait(timeout=120) == 0, third.stderr.read().decode()
    assert list(tmp_path.glob(f"{STAGING_PREFIX}*")) == []
    assert (out / "coverage.csv").read_bytes() == before["coverage.csv"]
    assert verify_outputs(out) == []


@pytest.fixture(scope="module")
def tsinghua_units(tmp_path_factory, tsinghua_network):
    """A Tsinghua analysis per district (node demand inside the real GCJ-02 Haidian boundary)."""
    tmp = tmp_path_factory.mktemp("units")
    cfg = tsinghua_toml(tmp, '[demand]\nkind = "nodes"\n'
                        f'[boundaries]\npath = "{BOUNDS}"\nname_column = "district"\ncrs = "gcj02"\n')
    return cfg, tsinghua_network


def test_tables_are_byte_identical_across_runs(tmp_path, tsinghua_units):
    cfg, net = tsinghua_units
    a = write_outputs(analyze(cfg), tmp_path / "a", html=False)
    b = write_outputs(analyze(cfg, network=net), tmp_path / "b", html=False)
    tables = sorted(p.name for p in a.values() if p.suffix == ".csv")
    assert {"coverage.csv", "unit_coverage.csv"} <= set(tables)
    assert tables == sorted(p.name for p in b.values() if p.suffix == ".csv")
    for name in tables:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert "海淀区" in a["unit_coverage"].read_text(encoding="utf-8")


def test_provenance_in_run_json_and_geopackage(tmp_path, tsinghua_units):
    cfg, _ = tsinghua_units
    res = analyze(cfg)
    written = write_outputs(res, tmp_path / "o", html=False)
    run = json.loads(written["run"].read_text(encoding="utf-8"))
    roles = {r["role"]: r for r in run["inputs"]}
    assert set(roles) == {"config", "network", "facilities #1", "boundaries", "tag mapping (built-in)"}
    for rec in roles.values():
        if not rec.get("packaged"):  # the built-in walkable-way filter is hashed from the package's data
            assert rec["sha256"] == sha256_file(rec["path"])
    assert run["access15_version"] == res.version and run["run_started_utc"] <= run["run_finished_utc"]
    assert run["config"]["facilities"][0]["crs"] == "gcj02" and run["config"]["boundaries"]["crs"] == "gcj02"
    listed = {o["name"] for o in run["outputs"]}
    assert {"coverage.csv", "unit_coverage.csv", "access15.gpkg"} <= listed
    assert listed | {"run.json"} == {p.name for p in (tmp_path / "o").iterdir()}
    assert "access15_meta" in pyogrio.list_layers(written["gpkg"])[:, 0]
    meta = read_meta_table(written["gpkg"])
    assert meta["inputs"] == run["inputs"] and meta["config"] == run["config"]
    assert meta["run_started_utc"] == run["run_started_utc"]
    # a later run without boundaries removes the stale per-unit table instead of leaving it beside new files
    cfg2 = tsinghua_toml(tmp_path, '[demand]\nkind = "nodes"\n', "plain.toml")
    write_outputs(analyze(cfg2), tmp_path / "o", html=False)
    assert not (tmp_path / "o" / "unit_coverage.csv").exists() and verify_outputs(tmp_path / "o") == []
    # tampering is detected
    (tmp_path / "o" / "coverage.csv").write_text("category\n", encoding="utf-8")
    assert verify_outputs(tmp_path / "o") == ["coverage.csv: checksum differs from run.json"]


def test_osm_timestamp_from_pbf_header_and_html_footer(tmp_path):
    cfg = config_from_dict({"network": {"path": str(AGUAS)}, "categories": {"childcare": {}},
                            "facilities": [{"path": "osm"}], "demand": {"cell_m": 100}})
    res = analyze(cfg)
    assert res.provenance["osm_timestamp"] == "2026-05-16T19:40:17Z"
    net = next(r for r in res.provenance["inputs"] if r["role"] == "network")
    assert net["osm_timestamp"] == "2026-05-16T19:40:17Z" and net["osm_bbox"].startswith("-102.2799068,")
    written = write_outputs(res, tmp_path / "o", html=True)
    page = written["html"].read_text(encoding="utf-8")
    assert f"run {res.provenance['run_started_utc']}" in page and "OSM extract 2026-05-16T19:40:17Z" in page
    assert f"aguascalientes.osm.pbf sha256:{net['sha256'][:12]}" in page


def test_in_memory_inputs_are_recorded_as_such(demo_result):
    roles = {r["role"]: r for r in demo_result.provenance["inputs"]}
    assert roles["network"]["supplied"] == "in memory" and "sha256" not in roles["network"]
    assert roles["facilities #1"]["sha256"]


def test_unwritable_output_is_an_input_error(tmp_path, tsinghua_units):
    from access15.errors import InputError

    cfg, net = tsinghua_units
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot create the output folder"):
        write_outputs(analyze(cfg, network=net), blocker / "out", html=False)
