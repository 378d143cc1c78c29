"""``access15 compare`` and :func:`access15.compare.compare_scenarios`: two scenarios side by side.

On the Haidian tutorial config (two boundary levels, elderly care measured against residents aged 65+): the
figures equal those of two independent full runs, gained and lost are each what the per-point coverage of
the two runs says, and bad scenario files get one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from access15 import analyze
from access15.cli import app as cli_app
from access15.compare import COLUMNS, compare_files, compare_scenarios
from access15.scenario import Scenario, ScenarioEngine
from access15.siting import load_site_context

from .scenario_project import demo_project

SITE_A = (116.33, 40.005)
SITE_B = (116.31, 39.99)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return demo_project(tmp_path_factory.getbasetemp(), "tutorial_haidian")


@pytest.fixture(scope="module")
def ctx(project):
    return load_site_context(project)


@pytest.fixture(scope="module")
def engine(ctx):
    return ScenarioEngine(ctx)


def _busiest(result, category: str) -> str:
    near = result.demand.groupby(f"nearest_{category}")["weight"].sum()
    return str(near.drop(labels=[""], errors="ignore").idxmax())


def _write(path: Path, name: str, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "name": name, "features": features}), encoding="utf-8")
    return path


def _add(pid: str, category: str, lonlat: tuple[float, float]) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(lonlat)},
            "properties": {"action": "add", "id": pid, "category": category}}


@pytest.fixture(scope="module")
def files(ctx, tmp_path_factory) -> tuple[Path, Path]:
    """A: a new clinic and the busiest clinic closed (it gains some residents and loses others);
    B: a clinic and a childcare centre elsewhere."""
    d = tmp_path_factory.mktemp("scenarios")
    a = _write(d / "north.geojson", "north", [
        _add("p1", "clinic", SITE_A),
        {"type": "Feature", "geometry": None,
         "properties": {"action": "close", "facility_id": _busiest(ctx.result, "clinic")}}])
    b = _write(d / "south.geojson", "south", [_add("q1", "clinic", SITE_B), _add("q2", "childcare", SITE_B)])
    return a, b


def test_gained_and_lost_are_those_of_two_full_reruns(engine, ctx, files):
    """Each figure from the per-point coverage of two independent ``analyze`` runs with the scenarios'
    facility sets: covered in A and in B, gained (in A, not in B), lost (in B, not in A), per category and unit."""
    res = ctx.result
    a, b = files
    comp = compare_files(engine, a, b)
    runs = [analyze(res.config, network=res.network, facilities=engine.apply(Scenario.load(p)).facilities)
            for p in (a, b)]
    cats = [*res.config.categories, "combined"]
    got = comp.categories.set_index("category")
    assert list(got.index) == cats and list(comp.categories.columns) == COLUMNS
    for cat in cats:
        ca, cb = (r.demand[f"covered_{cat}"].to_numpy(dtype=bool) for r in runs)
        pop = res.config.categories[cat].population if cat != "combined" else None
        w = res.demand[pop if pop else "weight"].to_numpy(dtype=float)
        assert got.loc[cat, "covered_a"] == runs[0].coverage.set_index("category").loc[cat, "covered"]
        assert got.loc[cat, "covered_b"] == runs[1].coverage.set_index("category").loc[cat, "covered"]
        assert got.loc[cat, "gained"] == pytest.approx(w[ca & ~cb].sum(), rel=1e-12, abs=1e-9)
        assert got.loc[cat, "lost"] == pytest.approx(w[cb & ~ca].sum(), rel=1e-12, abs=1e-9)
    assert got.loc["clinic", "gained"] > 100 and got.loc["clinic", "lost"] > 100  # net alone would hide one
    assert got.loc["childcare", "gained"] == 0 and got.loc["childcare", "lost"] > 0
    assert np.allclose(got["gained"] - got["lost"], got["net"], rtol=0, atol=1e-9)
    assert np.allclose(got["covered_a"] - got["covered_b"], got["net"], rtol=1e-12, atol=1e-6)
    # per unit: both levels, every unit, the same per-point sums
    units = comp.units
    assert set(units["level"]) == set(res.boundaries["level"]) and list(units.columns) == ["level", "unit", *COLUMNS]
    full = [r.unit_coverage.set_index(["level", "unit", "category"])["covered"] for r in runs]
    u = units.set_index(["level", "unit", "category"])
    assert set(u.index) == set(full[0].index)
    assert np.allclose(u["covered_a"], full[0].reindex(u.index), rtol=1e-12, atol=1e-9)
    assert np.allclose(u["covered_b"], full[1].reindex(u.index), rtol=1e-12, atol=1e-9)
    assert np.allclose(u["gained"] - u["lost"], u["net"], rtol=0, atol=1e-9)
    assert (u["gained"] > 0).any() and (u["lost"] > 0).any()
    comb = units[units["category"] == "combined"]
    for _, g in comb.groupby("level"):  # largest combined loss first
        assert list(g["net"]) == sorted(g["net"])


def test_cli_compare_equals_two_run_scenario_outputs(project, ctx, files, tmp_path):
    """``access15 compare`` against two ``access15 run --scenario`` runs: the CSV's covered counts per category
    and unit are theirs, net is their difference, and the CSV is complete."""
    a, b = files
    runner = CliRunner()
    outs = []
    for p in (a, b):
        out = tmp_path / p.stem
        r = runner.invoke(cli_app, ["run", str(project), "--scenario", str(p), "--out", str(out), "--no-html"])
        assert r.exit_code == 0, r.output
        outs.append(out)
    r = runner.invoke(cli_app, ["compare", str(project), str(a), str(b), "--out", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    csv = tmp_path / "cmp" / "compare-north-vs-south.csv"
    assert str(csv) in r.output.replace("\n", "") and "新增" in r.output  # the config's language (zh)
    table = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    overall = table[table["level"] == "overall"].set_index("category")
    cov = [pd.read_csv(o / "coverage.csv").set_index("category")["covered"] for o in outs]
    assert np.allclose(overall["covered_a"], cov[0].reindex(overall.index), rtol=1e-5)
    assert np.allclose(overall["covered_b"], cov[1].reindex(overall.index), rtol=1e-5)
    assert np.allclose(overall["net"], (cov[0] - cov[1]).reindex(overall.index), rtol=1e-5, atol=0.2)  # CSVs keep 6 digits
    units = table[table["level"] != "overall"].set_index(["level", "unit", "category"])
    ucov = [pd.read_csv(o / "unit_coverage.csv").set_index(["level", "unit", "category"])["covered"] for o in outs]
    assert set(units.index) == set(ucov[0].index)
    assert np.allclose(units["net"], (ucov[0] - ucov[1]).reindex(units.index), rtol=1e-5, atol=0.2)  # CSVs keep 6 digits
    assert np.allclose(units["gained"] - units["lost"], units["net"], rtol=1e-5, atol=0.2)  # CSVs keep 6 digits
    assert not list((tmp_path / "cmp").glob(".tmp*"))
    # B omitted: A against the baseline, with a year in the file name
    r = runner.invoke(cli_app, ["compare", str(project), str(a), "--year", "2030", "--out", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    base = pd.read_csv(tmp_path / "cmp" / "compare-north-vs-baseline-2030.csv").query("level == 'overall'")
    today = ctx.result.coverage.set_index("category")["covered"]
    assert np.allclose(base.set_index("category")["covered_b"], today.reindex(base["category"]), rtol=1e-5)


def test_a_scenario_against_itself_and_the_baseline_against_itself(engine, files):
    a, _ = files
    for comp in (compare_files(engine, a, a, 2030), compare_scenarios(engine, None, None)):
        for df in (comp.categories, comp.units):
            assert len(df) and (df[["gained", "lost", "net"]].to_numpy() == 0).all()
            assert (df["covered_a"] == df["covered_b"]).all()
            pts = df["points"].to_numpy()
            assert ((pts == 0) | (np.isnan(pts) & (df["demand"].to_numpy() == 0))).all()


def test_bad_scenario_files_get_one_line_naming_the_file(project, files, tmp_path):
    a, _ = files
    bad_json = tmp_path / "broken.geojson"
    bad_json.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    unknown = _write(tmp_path / "unknown.geojson", "u", [_add("p1", "clinc", SITE_A)])
    closed = _write(tmp_path / "closed.geojson", "c", [
        {"type": "Feature", "geometry": None, "properties": {"action": "close", "facility_id": "no-such-id"}}])
    runner = CliRunner()
    for args, path, words in [([str(a), str(tmp_path / "missing.geojson")], tmp_path / "missing.geojson",
                               "cannot read the scenario"),
                              ([str(bad_json)], bad_json, "not valid JSON"),
                              ([str(a), str(unknown)], unknown, "did you mean 'clinic'"),
                              ([str(closed)], closed, "no existing facility")]:
        out = tmp_path / "never"
        r = runner.invoke(cli_app, ["compare", str(project), *args, "--out", str(out)], env={"ACCESS15_LANG": "en"})
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and str(path) in r.output.replace("\n", "") and words in r.output.replace("\n", " ")
        assert "Traceback" not in r.output and not out.exists()
        zh = runner.invoke(cli_app, ["compare", str(project), *args, "--out", str(out)], env={"ACCESS15_LANG": ""})
        zh_lines = [ln for ln in zh.output.splitlines() if ln.startswith("错误：")]
        assert zh.exit_code == 2 and len(zh_lines) == 1  # in the config's own language ([output] lang)
        assert str(path) in zh.output.replace("\n", "") and not out.exists()
