"""The command line: the demo, a run, and clean one-line failures that leave no output behind."""

from __future__ import annotations

from typer.testing import CliRunner

from access15.cli import app

from .conftest import OSM

runner = CliRunner()


def test_demo_writes_table_and_map(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert "clinic" in res.output and "combined" in res.output
    for name in ("coverage.csv", "access15.gpkg", "map.html"):
        assert (tmp_path / "demo" / name).stat().st_size > 0


def _write_config(tmp_path, facilities_csv: str) -> str:
    (tmp_path / "fac.csv").write_text(facilities_csv, encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"""
name = "Helsinki test"
[network]
path = "{(OSM / 'helsinki.osm.pbf').as_posix()}"
[categories.clinic]
minutes = 10
[[facilities]]
path = "fac.csv"
[output]
dir = "out"
""", encoding="utf-8")
    return str(cfg)


def test_run_and_no_html(tmp_path):
    cfg = _write_config(tmp_path, "name,category,lon,lat\nA,clinic,24.9410,60.1700\n")
    res = runner.invoke(app, ["run", cfg, "--no-html"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "coverage.csv").exists() and not (tmp_path / "out" / "map.html").exists()


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    cfg = _write_config(tmp_path, "name,category,lon,lat\nA,clinic,24.9410,sixty\n")
    res = runner.invoke(app, ["run", cfg])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "fac.csv" in lines[0] and "row 1" in lines[0] and "'lat'" in lines[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_chinese_config_prints_chinese_table(root, tmp_path):
    res = runner.invoke(app, ["run", str(root / "configs" / "beijing_tsinghua.toml"), "--no-html",
                              "--out", str(tmp_path / "zh")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "类别" in res.output and "医疗卫生" in res.output and "综合服务圈" in res.output and "15分钟" in res.output
    assert "面积覆盖：100 米网格的占比（非人口）" in res.output  # the demand label too


def test_demand_labels_in_chinese(demo_result):
    from access15.text import demand_text

    zh = demand_text(demo_result.demand_label, "zh")
    assert zh.startswith("居民覆盖率（人口：") and "812,935 人" in zh
    assert demand_text(demo_result.demand_label, "en") == demo_result.demand_label
    assert demand_text("something new", "zh") == "something new"
