"""Errors, warnings and notes in Chinese: the message table (data/messages_zh.toml) is complete and exact.

Messages are written in English where they are raised; :func:`access15.text.message` gives their Chinese form
from the table, keyed by the English template. These tests read the package's source with ``ast`` (an
independent reading of what the code can say) and hold the table to it: a new message without a Chinese form,
a changed message whose entry went stale, or an entry whose placeholders differ from its English all fail.
The corpus test (tests/test_corpus.py) checks the same on every real bad input it runs.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from access15.cli import app
from access15.errors import InputError
from access15.text import display_lang, message, template_parts, translate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "access15"
TABLE = tomllib.loads((SRC / "data" / "messages_zh.toml").read_text(encoding="utf-8"))["messages"]
CJK = re.compile(r"[\u4e00-\u9fff]")

#: Calls whose arguments are messages, and which positional arguments (keyword: problem / fix / suggestion).
MESSAGE_ARGS = {"InputError": (1, 2), "AccessWarning": (0, 1), "AccessNote": (0, 1), "warn": (0,), "add": (1, 2),
                "rows": (3, 4), "Problem": (3, 4), "UnitOptions": (0, 1, 2, 3),
                "notes.append": (0,)}
MESSAGE_KEYWORDS = {"problem", "fix", "suggestion"}
#: Lists of notes a command prints (``notes.append(f"...")``).
NOTE_LISTS = {"notes"}
#: Calls whose string arguments are str.format templates, filled in later ("--by {first}").
FORMAT_HOLDERS = {"UnitOptions"}


def _esc(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


class _Reader:
    """Reads the message templates of the package: string expressions, module constants, local variables and
    the returns of the package's own functions that build a message (e.g. ``component_message``)."""

    def __init__(self) -> None:
        self.trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))}
        self.functions: dict[str, list[ast.FunctionDef]] = {}  # functions and methods, by name
        for tree in self.trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    self.functions.setdefault(node.name, []).append(node)

    def templates(self, node: ast.AST, scope: dict[str, list[ast.AST]], depth: int = 0,
                  follow: bool = True) -> list[str] | None:
        """The templates an expression can produce (f-string expressions as ``{expr}``), None if unknown; a call
        is followed into its returns only where it is the whole message (``follow``), else it is a value."""
        if depth > 4:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [_esc(node.value)]
        if isinstance(node, ast.JoinedStr):
            out = [""]
            for v in node.values:
                part = _esc(v.value) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                out = [o + part for o in out]
            return out
        if isinstance(node, ast.Name) and node.id in scope:
            alts = [t for v in scope[node.id] for t in self.templates(v, scope, depth + 1) or []]
            return alts or None
        if isinstance(node, ast.List):  # the parts of a message joined later ("; ".join(parts))
            alts = [t for e in node.elts for t in self.templates(e, scope, depth + 1) or []]
            return alts or None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
                and isinstance(node.func.value, ast.Constant) and node.args):
            return self.templates(node.args[0], scope, depth + 1)
        if follow and isinstance(node, ast.BoolOp):  # rep.guard(...) or ""
            alts = [t for v in node.values for t in self.templates(v, scope, depth + 1, follow) or []]
            return alts or None
        called = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if called == "guard" and node.args and isinstance(node.args[0], ast.Name):  # rep.guard(fn, ...): fn's text
            called = node.args[0].id
        if follow and called in self.functions:  # a function or method that builds the message
            alts = [t for fn in self.functions[called] for r in ast.walk(fn)
                    if isinstance(r, ast.Return) and r.value is not None
                    for t in self.templates(r.value, self.scope(fn), depth + 1) or []]
            return alts or None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.templates(node.left, scope, depth, follow=False)
            right = self.templates(node.right, scope, depth, follow=False)
            if left is None and right is None:
                return None
            left = left or ["{" + ast.unparse(node.left) + "}"]
            right = right or ["{" + ast.unparse(node.right) + "}"]
            return [a + b for a in left for b in right]
        if isinstance(node, ast.IfExp):
            alts = []
            for branch in (node.body, node.orelse):  # inside a larger message an unknown branch is a value
                got = self.templates(branch, scope, depth, follow)
                alts += got or ([] if follow else ["{" + ast.unparse(branch) + "}"])
            return alts or None
        if isinstance(node, ast.Lambda):
            return self.templates(node.body, scope, depth)
        return None

    @staticmethod
    def scope(*nodes: ast.AST) -> dict[str, list[ast.AST]]:
        """Names assigned in ``nodes`` (a module's top level, then a function's body) -> their values."""
        names: dict[str, list[ast.AST]] = {}
        for node in nodes:
            body = node.body if isinstance(node, ast.Module) else list(ast.walk(node))
            for n in body:
                if isinstance(n, ast.Assign):
                    for t in n.targets:
                        if isinstance(t, ast.Name):
                            names.setdefault(t.id, []).append(n.value)
                elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "append"
                      and isinstance(n.func.value, ast.Name) and n.args):  # parts.append(f"...")
                    names.setdefault(n.func.value.id, []).append(n.args[0])
        return names

    def messages(self) -> dict[str, str]:
        """Every message template in the package -> where it is (file:line)."""
        found: dict[str, str] = {}
        for path, tree in self.trees.items():
            module = self.scope(tree)
            for name, values in module.items():  # advice kept as a constant: GIS_FIX = "use GeoJSON, ..."
                if name.endswith("_FIX"):
                    for template in (t for v in values for t in self.templates(v, module) or []):
                        found.setdefault(template, f"{path.relative_to(SRC)}:{name}")
            funcs = [f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for fn in [tree, *funcs]:
                scope = {**module, **self.scope(fn)} if fn is not tree else module
                calls = fn.body if fn is tree else [fn]
                for node in (n for c in calls for n in ast.walk(c)):
                    if not isinstance(node, ast.Call):
                        continue
                    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                    if (name == "append" and isinstance(node.func.value, ast.Name)
                            and node.func.value.id in NOTE_LISTS):
                        name = "notes.append"
                    if name not in MESSAGE_ARGS:
                        continue
                    args = [node.args[i] for i in MESSAGE_ARGS[name] if i < len(node.args)]
                    args += [k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS]
                    for arg in args:
                        raw = name in FORMAT_HOLDERS and isinstance(arg, ast.Constant)  # str.format templates
                        for template in [arg.value] if raw else self.templates(arg, scope) or []:
                            if template.strip():
                                found.setdefault(template, f"{path.relative_to(SRC)}:{node.lineno}")
        return found


def code_messages() -> dict[str, str]:
    """Every message template in the package -> where it is (file:line)."""
    return _Reader().messages()


CODE = code_messages()


def _placeholders(template: str) -> Counter:
    return Counter(text for is_ph, text in template_parts(template) if is_ph)


def is_frame(template: str) -> bool:
    """A template with almost no words of its own ("{site}: {message}"): its parts are translated instead."""
    return sum(ch.isalpha() for ch in "".join(p for is_ph, p in template_parts(template) if not is_ph)) < 4


def test_every_message_in_the_code_has_a_chinese_form():
    missing = {t: where for t, where in CODE.items() if t not in TABLE and not is_frame(t)}
    assert len(CODE) > 400  # the reading finds the messages (it would find none if the call names changed)
    assert not missing, missing


def test_no_entry_is_stale():
    stale = [t for t in TABLE if t not in CODE]
    assert not stale, stale


@pytest.mark.parametrize("template", sorted(TABLE))
def test_each_entry_keeps_its_placeholders_and_is_chinese(template):
    zh = TABLE[template]
    assert _placeholders(zh) == _placeholders(template)
    assert is_frame(template) or CJK.search(zh), zh


def _filled(template: str, values: dict[str, str]) -> str:
    return "".join(values[p] if is_ph else p for is_ph, p in template_parts(template))


def test_a_message_with_its_values_comes_back_in_chinese_with_the_same_values():
    """Each entry, filled with distinct values, is translated by its own entry: the values land in the right
    places (no other template captures it) for every message whose words are its own."""
    wrong = []
    for template, zh in TABLE.items():
        if is_frame(template):
            continue  # left to its parts
        values = {p: f"«v{i}»" for i, p in enumerate(_placeholders(template))}
        got = translate(_filled(template, values), "zh")
        if got != _filled(zh, values):
            wrong.append((template, got))
    assert not wrong, wrong[:5]


def test_composed_messages_and_the_error_frame():
    err = InputError("clinics.csv", "facility file not found", "check the path in [[facilities]]", row=3,
                     field="lon")
    assert err.text("en") == str(err)
    zh = err.text("zh")
    assert zh.startswith("clinics.csv，第 3 行，字段 'lon'：")
    assert translate("facility file not found", "zh") in zh and translate("check the path in [[facilities]]", "zh") in zh
    # a warning built as "source: problem; fix" translates part by part
    both = f"units.geojson: {'facility file not found'}; {'check the path in [[facilities]]'}"
    assert message("zh", both) == (f"units.geojson：{translate('facility file not found', 'zh')}；"
                                   f"{translate('check the path in [[facilities]]', 'zh')}")
    # what the table does not know stays English (never a half-translated guess)
    assert message("zh", "something nobody wrote") == "something nobody wrote"
    assert message("en", "facility file not found") == "facility file not found"


def test_the_language_comes_from_the_environment_then_the_config(monkeypatch):
    monkeypatch.delenv("ACCESS15_LANG", raising=False)
    assert display_lang(None) == "en" and display_lang("zh") == "zh" and display_lang("fr") == "en"
    monkeypatch.setenv("ACCESS15_LANG", "zh_CN.UTF-8")
    assert display_lang("en") == "zh"
    monkeypatch.setenv("ACCESS15_LANG", "en")
    assert display_lang("zh") == "en"


# --- the CLI in Chinese -------------------------------------------------------------------------------------
def test_cli_errors_in_chinese_from_the_environment(tmp_path):
    res = CliRunner().invoke(app, ["run", str(tmp_path / "nowhere.toml")], env={"ACCESS15_LANG": "zh", "COLUMNS": "300"})
    assert res.exit_code == 2
    assert "错误：" in res.output and "找不到配置文件" in res.output and "nowhere.toml" in res.output
    assert "error:" not in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", str(tmp_path / "nowhere.toml")], env={"ACCESS15_LANG": "", "COLUMNS": "300"})
    assert "error:" in res.output and "config file not found" in res.output


def test_a_config_that_does_not_load_speaks_its_own_language(tmp_path):
    """[output] lang = "zh" holds for the config's own errors, though the config is refused."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text('name = "x"\n[output]\nlang = "zh"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(cfg)], env={"ACCESS15_LANG": "", "COLUMNS": "300"})
    assert res.exit_code == 2
    line = res.output.strip()
    assert line.startswith("错误：") and "bad.toml" in line and "[network]" in line, line
    assert "\n" not in line and CJK.search(line.split("：", 2)[-1])


def test_validate_speaks_chinese(tmp_path):
    cfg = tmp_path / "v.toml"
    cfg.write_text('name = "x"\n[network]\npath = "nowhere.osm.pbf"\n[categories.clinic]\nminutes = 15\n'
                   '[output]\nlang = "zh"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["validate", str(cfg)], env={"ACCESS15_LANG": "", "COLUMNS": "300"})
    assert res.exit_code == 1
    assert "级别" in res.output and "问题" in res.output and "错误" in res.output
    assert "个错误" in res.output and "errors," not in res.output


def test_run_warnings_and_tables_in_chinese(demo_result, capsys):
    """The demo's warnings (the fitness circle has almost no facilities) and its tables, in Chinese."""
    from access15.cli.tables import print_result

    assert demo_result.warnings  # the demo warns (fitness); every warning is in the table
    print_result(demo_result, "zh")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "警告：" in text and "warning:" not in text
    for w in demo_result.warnings:
        assert translate(w, "zh") is not None, w
        assert translate(w, "zh") in text.replace("\n", "")


def test_the_chinese_readme_shows_a_real_error(tmp_path, monkeypatch):
    """README.zh-CN.md quotes the error for a config without [network]: it is what the CLI prints."""
    quoted = next(line.strip() for line in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8").splitlines()
                  if line.strip().startswith("错误："))
    (tmp_path / "access15.toml").write_text('name = "x"\n[output]\nlang = "zh"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["run", "access15.toml"], env={"ACCESS15_LANG": "", "COLUMNS": "300"})
    assert res.exit_code == 2 and res.output.strip() == quoted


def test_the_poi_report_line_in_chinese():
    """The POI mapping report (a warning of every POI source) is translated part by part, values kept."""
    import warnings

    from access15.config import FacilitySource
    from access15.io.poi import load_poi_source

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fac, rep = load_poi_source(FacilitySource(path="p", format="amap"),
                                    ROOT / "tests" / "data" / "tsinghua_amap_pois.json")
    zh = translate(rep.summary(), "zh")
    assert zh is not None and zh.startswith("tsinghua_amap_pois.json：") and "个未匹配" in zh
    assert f"{rep.rows} 个 POI" in zh and f"→ {rep.kept} 个设施" in zh and "unmatched" not in zh
