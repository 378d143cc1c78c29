"""``access15 site-check`` and ``access15 suggest``: thin wrappers over :mod:`access15.siting`."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from ..errors import Access15Error
from ..scenario import Scenario, scenario_context
from ..siting import (
    SiteContext,
    as_sites,
    check_sites,
    load_site_context,
    parse_lonlat,
    read_sites,
    suggest_sites,
    write_site_check,
    write_suggestion,
)
from ..siting.sites import check_spacing
from ..text import share
from .app import app, console, err, fail, print_written


def _context(config: Path, cache: bool) -> SiteContext:
    def progress(stage: str, seconds: float) -> None:
        err.print(f"[dim]  {stage:<16} {seconds:6.2f} s[/dim]")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = load_site_context(config, use_cache=cache, progress=progress)
    if "load cache" in ctx.result.timings:
        err.print(f"[dim]  analysis loaded from cache in {ctx.result.timings['load cache']:.2f} s[/dim]")
    return ctx


def _out_dir(ctx: SiteContext, out: Path | None) -> Path:
    return out or ctx.result.config.resolve(ctx.result.config.output.dir) / "siting"


@app.command("site-check")
def site_check(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
               category: str = typer.Option(..., "--category", "-c", help="Category to check, e.g. elderly_care."),
               at: list[str] = typer.Option(None, "--at", help="Candidate site as lon,lat (WGS84); repeatable."),
               candidates: Path = typer.Option(None, "--candidates", help="CSV (lon/lat) or GIS file of sites."),
               capacity: float = typer.Option(None, "--capacity", help="Places of each candidate (beds, seats)."),
               out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: \\[output] dir/siting)."),
               html: bool = typer.Option(True, "--html/--no-html", help="Write the before/after map."),
               cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse the cached analysis."),
               scenario: Path = typer.Option(None, "--scenario", help="Check against a scenario's facilities."),
               year: int = typer.Option(None, "--year", help="Plan year of the scenario.")) -> None:
    """What proposed sites would add to a category's circle (each against the existing facilities)."""
    try:
        if not at and candidates is None:
            raise typer.BadParameter("give --at lon,lat (repeatable) or --candidates FILE")
        ctx = _context(config, cache)
        if scenario is not None:
            ctx = scenario_context(ctx, scenario, year)
            err.print(f"[dim]  {escape(Scenario.load(scenario).describe(year))}[/dim]")
        frames = []
        if at:
            frames.append(as_sites([parse_lonlat(a) for a in at], "--at"))
        if candidates is not None:
            frames.append(read_sites(candidates, category))
        sites = as_sites(pd.concat(frames, ignore_index=True)) if len(frames) > 1 else frames[0]
        check = check_sites(ctx, category, sites, capacity)
        written = write_site_check(check, _out_dir(ctx, out), html=html)
    except Access15Error as exc:
        fail(exc)
    t = check.table
    table = Table(title=f"{category}: {check.minutes:g}-minute circle, {check.noun}")
    for col in ("site", "status", "newly covered", "points", "combined +", "catchment", "already served",
                "per 1,000 after"):
        table.add_column(col, justify="left" if col in ("site", "status") else "right")
    for row in t.itertuples():
        if row.status != "ok":
            table.add_row(row.site, f"[yellow]{row.status}[/yellow]", *["–"] * 6)
            continue
        table.add_row(row.site, row.status, f"{row.newly_covered:,.0f}", f"{row.points:+.2f}",
                      f"{row.combined_newly_covered:,.0f}", f"{row.catchment:,.0f}", f"{row.already_served:,.0f}",
                      "–" if pd.isna(row.ratio_after) else f"{row.ratio_after:.2f}")
    console.print(table)
    if len(check.units):
        top = check.units.sort_values("newly_covered", ascending=False).head(12)
        ut = Table(title=f"newly covered by unit (top {len(top)} of {len(check.units)})")
        for col in ("site", "unit", "newly covered", "share before", "share after"):
            ut.add_column(col, justify="left" if col in ("site", "unit") else "right")
        for row in top.itertuples():
            ut.add_row(row.site, str(row.unit), f"{row.newly_covered:,.0f}", share(row.share_before),
                       share(row.share_after))
        console.print(ut)
    for v in check.verdicts():
        console.print(f"  {v}", highlight=False, soft_wrap=True)
    for n in check.notes:
        err.print(f"[yellow]note:[/yellow] {escape(n)}")
    print_written(written)


@app.command()
def suggest(config: Path = typer.Argument(..., help="Analysis config (TOML)."),
            category: str = typer.Option(..., "--category", "-c", help="Category to site, e.g. childcare."),
            k: int = typer.Option(None, "--k", "-k", help="Number of new sites (default 5 without --budget)."),
            candidates: Path = typer.Option(None, "--candidates", help="Candidate sites file (default: street "
                                            "nodes in the gaps)."),
            budget: float = typer.Option(None, "--budget", help="Total cost allowed (candidates' 'cost' column; "
                                         "1 per site without one)."),
            target: float = typer.Option(None, "--target", help="Share (0-1) for the set-covering view "
                                         "(default: the plan's coverage target in \\[targets], else 1.0)."),
            method: str = typer.Option("auto", "--method", help="greedy, exact or auto."),
            spacing: float = typer.Option(None, "--spacing", help="Spacing of generated candidates (m)."),
            out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: \\[output] dir/siting)."),
            html: bool = typer.Option(True, "--html/--no-html", help="Write the map."),
            cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse the cached analysis.")) -> None:
    """Choose new sites that bring the most uncovered demand inside a category's circle."""
    try:
        check_spacing(spacing)
        ctx = _context(config, cache)
        cands = read_sites(candidates, category) if candidates is not None else None
        sugg = suggest_sites(ctx, category, k if k is not None or budget is not None else 5, cands, method=method,
                             budget=budget, target_share=target, spacing_m=spacing)
        written = write_suggestion(sugg, _out_dir(ctx, out), html=html)
    except Access15Error as exc:
        fail(exc)
    table = Table(title=f"{category}: suggested sites ({sugg.method}), {sugg.noun}")
    for col in ("rank", "site", "lon", "lat", "newly covered", "cumulative", "coverage"):
        table.add_column(col, justify="left" if col == "site" else "right")
    table.add_row("", "existing facilities", "", "", "", "", share(sugg.share_before))
    for row in sugg.sites.itertuples():
        table.add_row(str(row.rank), row.site, f"{row.lon:.5f}", f"{row.lat:.5f}", f"{row.newly_covered:,.0f}",
                      f"{row.cumulative_new:,.0f}", share(row.share_after))
    console.print(table)
    console.print(sugg.summary(), highlight=False, soft_wrap=True)
    for n in sugg.notes:
        err.print(f"[yellow]note:[/yellow] {escape(n)}")
    print_written(written)
