"""``access15 serve`` (the planner workbench) and the ``--scenario`` option of ``run`` and ``site-check``.

Thin wrappers over :mod:`access15.serve` and :mod:`access15.scenario`.
"""

from __future__ import annotations

import socket
from pathlib import Path

import typer
import uvicorn
from rich.markup import escape
from rich.table import Table

from ..compare import Comparison, compare_files, compare_path
from ..coverage import COMBINED
from ..errors import Access15Error
from ..outputs import write_outputs
from ..scenario import Scenario, ScenarioEngine
from ..serve import Workbench, create_app, is_loopback
from ..text import message, t, word
from .app import app, cli_lang, console, err, fail, load_context, print_written, refuse
from .tables import print_result


def run_scenario(config: Path, out: Path | None, html: bool, scenario: Path, year: int | None) -> None:
    """``access15 run CONFIG --scenario FILE``: the scenario's tables, GeoPackage and map from the cached
    analysis (exactly a re-run's figures), into ``<output dir>/scenarios/<file stem>[-year]`` by default."""

    lang = cli_lang(config)
    try:
        sc = Scenario.load(scenario)
        ctx = load_context(config, lang=lang)
        result, sr = ScenarioEngine(ctx).scenario_result(sc, year)
        print_result(result, lang)
        bad = sr.sites[sr.sites["status"] != "ok"]
        for row in bad.itertuples():
            err.print(f"[yellow]{t(lang, 'cli_not_counted')}[/yellow] {escape(row.id)} ({escape(row.category)}): "
                      f"{escape(message(lang, row.message))}")
        cfg = result.config
        target = out or cfg.resolve(cfg.output.dir) / "scenarios" / (scenario.stem + (f"-{year}" if year else ""))
        with console.status(t(lang, "cli_writing")):
            written = write_outputs(result, target, html=html)
    except Access15Error as exc:
        fail(exc, lang)
    print_written(written, lang)


def _fmt(v: float, col: str) -> str:
    """A comparison figure for display: signed for ``net`` and ``points``, '–' when undefined (no demand)."""
    if v != v:
        return "–"
    return f"{v:+,.0f}" if col == "net" else f"{v:+.2f}" if col == "points" else f"{v:,.0f}"


def print_comparison(comp: Comparison, lang: str, labels: dict[str, str], limit: int = 15) -> None:
    """The comparison as Rich tables: per category, then per unit (combined circle) for each level."""
    a, b = (x or t(lang, "cmp_baseline") for x in (comp.a, comp.b))
    when = t(lang, "cmp_year", year=comp.year) if comp.year is not None else t(lang, "cmp_every_edit")
    cols = ["covered_a", "covered_b", "gained", "lost", "net", "points"]

    def table(title: str, first: list[tuple[str, str]], rows) -> None:
        tab = Table(title=escape(title))
        for head, _ in first:
            tab.add_column(head)
        for c in cols:
            tab.add_column(word(lang, "columns", c), justify="right")
        for r in rows:
            tab.add_row(*[escape(str(getattr(r, k))) if k != "category" else escape(labels.get(r.category, r.category))
                          for _, k in first],
                        *[_fmt(getattr(r, c), c) for c in cols])
        console.print(tab)

    table(t(lang, "cmp_title", a=a, b=b, when=when), [(word(lang, "columns", "category"), "category")],
          comp.categories.itertuples())
    if len(comp.units):
        for level, g in comp.units[comp.units["category"] == COMBINED].groupby("level", sort=False):
            more = f" {t(lang, 'cli_first', limit=limit, n=len(g))}" if len(g) > limit else ""
            table(t(lang, "cmp_units", level=level) + more, [(word(lang, "columns", "unit"), "unit")],
                  g.head(limit).itertuples())


@app.command()
def compare(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
            a: Path = typer.Argument(..., help="Scenario GeoJSON A (access15 serve)."),
            b: Path = typer.Argument(None, help="Scenario GeoJSON B (default: the baseline, today's facilities)."),
            year: int = typer.Option(None, "--year", help="Plan year (default: every edit)."),
            out: Path = typer.Option(None, "--out", "-o", help="Folder of the CSV (default: \\[output] dir/scenarios)."),
            cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse the cached analysis.")) -> None:
    """Compare scenario A with scenario B (or the baseline): residents gained and lost per category and unit."""
    lang = cli_lang(config)
    try:
        ctx = load_context(config, cache, lang)
        comp = compare_files(ScenarioEngine(ctx), a, b, year)
        cfg = ctx.result.config
        path = comp.write_csv(compare_path(out or cfg.resolve(cfg.output.dir) / "scenarios", a, b, year))
    except Access15Error as exc:
        fail(exc, lang)
    labels = {k: (c.label(lang) if lang != "en" else k) for k, c in cfg.categories.items()}
    labels[COMBINED] = t(lang, "combined") if lang != "en" else COMBINED
    print_comparison(comp, lang, labels)
    console.print(t(lang, "cmp_written", path=path), highlight=False, soft_wrap=True)


@app.command()
def serve(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
          port: int = typer.Option(8015, "--port", "-p", help="TCP port (0: any free port)."),
          host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
          open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
          out: Path = typer.Option(None, "--out", "-o", help="Folder for scenarios and exports (default: the config's output dir)."),
          cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse the cached analysis.")) -> None:
    """Start the planner workbench: try added, moved and closed facilities in the browser."""
    lang = cli_lang(config)
    if not 0 <= port <= 65535:
        refuse(lang, "cli_bad_port", port=port)
    try:
        ctx = load_context(config, cache, lang)
        bench = Workbench(ctx, out)
        app_ = create_app(bench)
    except Access15Error as exc:
        fail(exc, lang)
    if not is_loopback(host):
        err.print(f"[bold yellow]{escape(t(lang, 'cli_exposed', host=host, port=port))}[/bold yellow]")
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        refuse(lang, "cli_cannot_listen", host=host, port=port, why=exc.strerror or str(exc))
    bound = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{bound}/"
    console.print(t(lang, "cli_workbench", url=f"[bold]{url}[/bold]", dir=escape(str(bench.scenario_dir))))
    if open_browser:
        import webbrowser  # only with --open (a cold path)

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app_, log_level="warning", access_log=False))
    server.run(sockets=[sock])
