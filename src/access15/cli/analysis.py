"""``access15 run``, ``demo``, ``validate``, ``map`` and ``batch``: thin wrappers over the Python API."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ..batch import run_batch, write_batch
from ..config import load_config
from ..errors import Access15Error
from ..outputs import render_maps, write_outputs
from ..pipeline import analyze
from ..text import demand_text, message, t, word
from ..validate import Problem
from ..validate import validate as check_inputs
from .app import app, cli_lang, console, err, fail, fmt_min, print_written, refuse, stage_printer
from .serve import run_scenario
from .tables import print_result


def _run(config_path: Path, out: Path | None, html: bool) -> None:
    lang = cli_lang(config_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = analyze(config_path, progress=stage_printer(lang))
            print_result(result, lang)
            target = out or result.config.resolve(result.config.output.dir)
            with console.status(t(lang, "cli_writing")):
                written = write_outputs(result, target, html=html)
    except Access15Error as exc:
        fail(exc, lang)
    print_written(written, lang)


@app.command()
def run(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: \\[output] dir)."),
        html: bool = typer.Option(True, "--html/--no-html", help="Write the HTML gap map."),
        scenario: Path = typer.Option(None, "--scenario", help="Scenario GeoJSON (access15 serve): its figures."),
        year: int = typer.Option(None, "--year", help="Plan year of the scenario (default: every edit).")) -> None:
    """Run the analysis described by CONFIG and write tables, a GeoPackage and a gap map."""
    if scenario is not None:
        return run_scenario(config, out, html, scenario, year)
    _run(config, out, html)


def print_problems(problems: list[Problem], lang: str = "en") -> None:
    """The findings of ``access15 validate`` as a Rich table (errors, then warnings, then notes), in ``lang``."""
    if not problems:
        console.print(f"[green]{t(lang, 'cli_no_problems')}[/green]")
        return
    colour = {"error": "bold red", "warning": "yellow", "note": "dim"}
    table = Table(title="access15 validate", show_lines=False)
    for col in ("severity", "file", "row", "field", "problem", "suggestion"):
        table.add_column(word(lang, "columns", col), overflow="fold")
    for p in problems:
        table.add_row(f"[{colour.get(p.severity, '')}]{word(lang, 'severities', p.severity)}[/]",
                      escape(Path(p.file).name if p.file else ""), "" if p.row is None else str(p.row),
                      escape(p.field or ""), escape(message(lang, p.problem)), escape(message(lang, p.suggestion)))
    console.print(table)
    n = {s: sum(p.severity == s for p in problems) for s in colour}
    console.print(t(lang, "cli_problem_counts", e=n["error"], w=n["warning"], n=n["note"]))


@app.command()
def validate(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
             strict: bool = typer.Option(False, "--strict", help="Exit non-zero on warnings too.")) -> None:
    """Check CONFIG and every input it names before any computation; exit 1 when there are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = check_inputs(config)
    print_problems(problems, cli_lang(config))
    bad = {"error", "warning"} if strict else {"error"}
    raise typer.Exit(1 if any(p.severity in bad for p in problems) else 0)


@app.command()
def demo(out: Path = typer.Option(Path("maps/porto_alegre"), "--out", "-o", help="Output folder.")) -> None:
    """Run the bundled Porto Alegre example (real OSM network, real clinics and schools)."""
    cfg = demo_config_path()
    if cfg is None:
        refuse(cli_lang(), "cli_demo_missing")
    _run(cfg, out, True)


@app.command("map")
def map_(source: Path = typer.Argument(..., help="access15.gpkg written by 'access15 run', or its output folder."),
         out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: the GeoPackage's folder)."),
         lang: str = typer.Option(None, "--lang", help="Label language: en or zh (default: as in the run)."),
         basemap: str = typer.Option(None, "--basemap", help="none, osm, amap or a tile URL with {x} {y} {z}."),
         attribution: str = typer.Option(None, "--attribution", help="Credit line of a custom basemap."),
         basemap_crs: str = typer.Option(None, "--basemap-crs", help="wgs84 or gcj02 (for a custom basemap)."),
         static: bool = typer.Option(False, "--static", help="Also write PNG maps and a PDF for print.")) -> None:
    """Render the maps of a finished analysis from its GeoPackage, without recomputing."""
    shown = cli_lang()
    try:
        written = render_maps(source, out, lang, basemap, attribution, basemap_crs, static=static)
    except Access15Error as exc:
        fail(exc, shown)
    print_written(written, shown)


@app.command()
def batch(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
          regions: Path = typer.Option(..., "--regions", help="Polygon file of the regions (GPKG, GeoJSON, SHP)."),
          by: str = typer.Option("name", "--by", help="Column naming each region (e.g. county)."),
          scheduler: str = typer.Option(None, "--scheduler",
                                        help="Dask scheduler address (tcp://host:8786), or 'serial' for no Dask."),
          workers: int = typer.Option(None, "--workers", help="Worker processes of the local cluster (default: cores)."),
          retries: int = typer.Option(2, "--retries", help="Re-runs of a failed region."),
          buffer_m: float = typer.Option(None, "--buffer-m", help="Reach beyond each region, metres "
                                         "(default: the largest circle)."),
          regions_crs: str = typer.Option(None, "--regions-crs", help="CRS of a regions file that declares none."),
          out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: \\[output] dir/batch).")) -> None:
    """Run CONFIG for every region of a regions file (on a Dask cluster) and merge the coverage tables."""
    lang = cli_lang(config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = load_config(config)
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task(t(lang, "cli_regions"), total=None)

                def progress(done: int, total: int, region: str) -> None:
                    bar.update(task, completed=done, total=total, description=t(lang, "cli_regions_last", region=region))

                result = run_batch(cfg, regions, by, scheduler=scheduler, workers=workers, buffer_m=buffer_m,
                                   retries=retries, progress=progress, regions_crs=regions_crs)
            target = out or cfg.resolve(cfg.output.dir) / "batch"
            written = write_batch(result, target)
    except Access15Error as exc:
        fail(exc, lang)
    table = Table(title=t(lang, "cli_batch_title", name=cfg.name, n=len(result.regions))
                  + f"\n[dim]{escape(demand_text(result.demand_label, lang))}[/dim]")
    for col in ("region", "category", "covered", "share", "median min"):
        table.add_column(word(lang, "columns", col), justify="left" if col in ("region", "category") else "right")
    for row in result.coverage.itertuples():
        table.add_row(str(row.region), row.category, f"{row.covered:,.0f} / {row.demand:,.0f}",
                      f"{row.share_covered:.1%}", fmt_min(row.median_min, result.buffer_m / cfg.speed_m_per_min))
    console.print(table)
    print_written(written, lang)
    if result.failed:
        for name, msg in result.failed.items():
            err.print(f"[bold red]{t(lang, 'cli_region_failed')}[/bold red] {escape(name)}: {escape(message(lang, msg))}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def demo_config_path() -> Path | None:
    """The demo config: configs/porto_alegre.toml in the source checkout."""
    here = Path(__file__).resolve()
    for root in (Path.cwd(), *here.parents):
        cand = root / "configs" / "porto_alegre.toml"
        if cand.is_file():
            return cand
    return None

