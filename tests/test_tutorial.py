"""The Chinese tutorial (docs/zh/tutorial.md) cannot rot: its commands run, its files are written, its pasted
tables are what the commands print, and the CLI speaks Chinese with ``[output] lang = "zh"``.

Every ```bash block line starting with ``access15 `` is run in-process with Typer's CliRunner, in order, in a
temporary copy of the inputs the tutorial uses (so the outputs land in the temporary folder). The files the
tutorial names under ``maps/tutorial_haidian/`` must exist afterwards, and every table row pasted in a ```text
block must appear in what the commands printed.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from access15.cli import app
from access15.text import TEXT

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "zh" / "tutorial.md"
CONFIG = "configs/tutorial_haidian.toml"
OUT = "maps/tutorial_haidian"


def tutorial_commands(text: str) -> list[list[str]]:
    """The ``access15`` command lines of the ```bash blocks, as argument lists (without "access15")."""
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.strip().startswith("access15 "):
                cmds.append(shlex.split(line, comments=True)[1:])
    return cmds


def promised_files(text: str) -> set[str]:
    """The output files the tutorial says are written (``maps/tutorial_haidian/...`` in backticks)."""
    return set(re.findall(rf"`({OUT}/[^`\s*]+\.[a-z]+)`", text))


def pasted_rows(text: str) -> list[str]:
    """Table rows pasted from real runs (```text blocks, lines starting with │), whitespace removed."""
    rows = []
    for block in re.findall(r"```text\n(.*?)```", text, re.S):
        rows += [re.sub(r"\s+", "", ln) for ln in block.splitlines() if ln.startswith("│")]
    return rows


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run every tutorial command in a copy of its inputs; return the commands, outputs and folder."""
    work = tmp_path_factory.mktemp("tutorial")
    (work / "configs").mkdir()
    (work / "data" / "osm").mkdir(parents=True)
    shutil.copy(ROOT / CONFIG, work / CONFIG)
    shutil.copytree(ROOT / "data" / "tutorial", work / "data" / "tutorial")
    shutil.copy(ROOT / "data/osm/beijing_haidian_tsinghua.osm.pbf", work / "data/osm")
    text = DOC.read_text(encoding="utf-8")
    runner = CliRunner()
    runs = []
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    try:
        for args in tutorial_commands(text):
            res = runner.invoke(app, args)
            runs.append((args, res.exit_code, res.output, res.exception))
    finally:
        mp.undo()
    return {"text": text, "runs": runs, "work": work}


def test_the_tutorial_has_a_command_per_step(tutorial: dict) -> None:
    names = [args[0] for args, *_ in tutorial["runs"]]
    assert names == ["validate", "run", "map", "site-check", "suggest"]
    assert all(CONFIG in args or OUT in args for args, *_ in tutorial["runs"])


def test_every_tutorial_command_succeeds(tutorial: dict) -> None:
    for args, code, output, exc in tutorial["runs"]:
        assert code == 0, f"access15 {' '.join(args)} exited {code}: {exc!r}\n{output[-3000:]}"


def test_the_files_the_tutorial_names_are_written(tutorial: dict) -> None:
    files = promised_files(tutorial["text"])
    assert len(files) >= 15, files  # tables, GeoPackage, maps, PNGs/PDF, siting tables and maps
    missing = [f for f in sorted(files) if not (tutorial["work"] / f).is_file()]
    assert not missing, f"the tutorial names files that were not written: {missing}"
    assert all((tutorial["work"] / f).stat().st_size > 0 for f in files)


def test_the_pasted_tables_are_what_the_commands_print(tutorial: dict) -> None:
    printed = re.sub(r"\s+", "", "".join(out for *_, out, _exc in tutorial["runs"]))
    rows = pasted_rows(tutorial["text"])
    assert len(rows) >= 15
    stale = [r for r in rows if r not in printed]
    assert not stale, f"rows pasted in the tutorial that the commands no longer print: {stale}"


def test_the_cli_speaks_chinese_with_lang_zh(tutorial: dict) -> None:
    out = {args[0]: output for args, _code, output, _exc in tutorial["runs"]}
    zh = TEXT["zh"]
    # run: coverage table, per-unit, boundary-check, supply and target tables
    for key in ("cli_units_worst", "cli_unit_check", "cli_supply", "cli_targets"):
        assert zh[key] in out["run"]
    assert "覆盖率" in out["run"] and "Units, worst first" not in out["run"]
    assert "居民覆盖率（人口：街道常住人口（示意）" in out["run"]
    # site-check: title, headers, per-unit table, verdicts
    sc = out["site-check"]
    assert "养老服务：15分钟服务圈，居民" in sc
    for key in ("cli_newly", "cli_catchment", "cli_per1000_after", "cli_share_after"):
        assert zh[key] in sc
    assert "newly covered" not in sc and "already served" not in sc
    assert "清华园北 拟建养老服务驿站：新增" in sc
    # suggest: title, headers, the existing row and the summary line
    sg = out["suggest"]
    assert "医疗卫生：建议选址" in sg and zh["cli_existing"] in sg and zh["cli_cumulative"] in sg
    assert re.search(r"\d 个新选址使15分钟医疗卫生圈新增 [\d,]+ 居民（覆盖率 [\d.]+% → [\d.]+%）", sg)
    assert "[circle_15min_clinic_dinghai_2027]" in sg  # the plan's name is printed, not eaten as markup
    assert "suggested sites" not in sg and "existing facilities" not in sg


def test_english_stays_the_default(tmp_path: Path) -> None:
    """The Tsinghua config with lang = "en": the siting tables keep their English words."""
    cfg = tmp_path / "en.toml"
    text = (ROOT / "configs/beijing_tsinghua.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../data/osm/', f'path = "{(ROOT / "data/osm").as_posix()}/')
    text = text.replace('lang = "zh"', 'lang = "en"').replace('dir = "../maps/beijing_tsinghua"',
                                                             f'dir = "{(tmp_path / "out").as_posix()}"')
    cfg.write_text(text, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["site-check", str(cfg), "--category", "clinic", "--at", "116.3245,40.0095",
                              "--no-html", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "clinic: 15-minute circle, grid cells" in res.output and "newly covered" in res.output
    assert "新增覆盖" not in res.output
    res = runner.invoke(app, ["suggest", str(cfg), "--category", "clinic", "--k", "2", "--no-html", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "clinic: suggested sites" in res.output and "existing facilities" in res.output
    assert "new sites add" in res.output


def test_the_text_table_has_every_key_in_both_languages() -> None:
    assert set(TEXT["en"]) == set(TEXT["zh"])
    assert set(TEXT["zh"]["columns"]) >= {"level", "unit", "share_covered", "status", "year"}
