"""``access15 site-check`` and ``access15 suggest``: thin wrappers over :mod:`access15.siting`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from ..errors import Access15Error
from ..scenario import Scenario, scenario_context
from ..siting import (
    SiteContext,
    Suggestion,
    as_sites,
    check_sites,
    parse_lonlat,
    read_sites,
    suggest_sites,
    write_site_check,
    write_suggestion,
)
from ..siting.sites import check_spacing
from ..text import display_lang, noun, number, share, t, word
from .app import app, cli_lang, console, err, fail, load_context, print_messages, print_written


# --- console words ([output] lang): every title, header and summary word comes from text.TEXT ----------------
def _lang(ctx: SiteContext) -> str:
    return display_lang(ctx.result.config.output.lang)


def _label(ctx: SiteContext, category: str) -> str:
    """The category's display name in the config's language (the key itself in English)."""
    lang, ccfg = _lang(ctx), ctx.result.config.categories.get(category)
    return ccfg.label(lang) if lang != "en" and ccfg is not None else category


def _suggest_summary(ctx: SiteContext, sugg: Suggestion) -> str:
    """The summary line: Suggestion.summary() in English, else composed from the same figures in text.TEXT."""
    lang = _lang(ctx)
    if lang == "en":
        return sugg.summary()
    nn = noun(lang, sugg.noun)
    s = t(lang, "cli_sugg_summary", n=len(sugg.sites), obj=number(sugg.objective), noun=nn, minutes=sugg.minutes,
          label=_label(ctx, sugg.category), before=share(sugg.share_before), after=share(sugg.share_after))
    if sugg.gap is not None:
        s += t(lang, "cli_sugg_gap_optimal" if sugg.optimal else "cli_sugg_gap", pct=1 - sugg.gap)
    c = sugg.cover
    target = share(c["target"])
    if not c["reachable"]:
        cover = t(lang, "cli_cover_unreachable", target=target, n=len(sugg.check.table),
                  share=share(c["max_share"]))
    elif not c["sites_needed"]:
        cover = t(lang, "cli_cover_met", target=target, share=share(sugg.share_before))
    else:
        cover = t(lang, "cli_cover_needed" if c["optimal"] else "cli_cover_needed_upper", target=target,
                  k=c["sites_needed"])
    return s + "。" + (f"[{c['target_name']}] " if c.get("target_name") else "") + cover


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
    lang = cli_lang(config)
    try:
        if not at and candidates is None:
            raise typer.BadParameter(t(lang, "cli_at_or_candidates"))
        ctx = load_context(config, cache, lang)
        if scenario is not None:
            ctx = scenario_context(ctx, scenario, year)
            err.print(f"[dim]  {escape(Scenario.load(scenario).describe(year, lang))}[/dim]")
        frames = []
        if at:
            frames.append(as_sites([parse_lonlat(a) for a in at], "--at"))
        if candidates is not None:
            frames.append(read_sites(candidates, category))
        sites = as_sites(pd.concat(frames, ignore_index=True)) if len(frames) > 1 else frames[0]
        check = check_sites(ctx, category, sites, capacity)
        written = write_site_check(check, _out_dir(ctx, out), html=html,
                                   inputs=[candidates] if candidates is not None else None)
    except Access15Error as exc:
        fail(exc, lang)
    table = Table(title=t(lang, "cli_check_title", category=category, label=_label(ctx, category),
                          minutes=check.minutes, noun=noun(lang, check.noun)))
    for i, key in enumerate(("cli_site", "cli_status", "cli_newly", "cli_points", "cli_combined_plus",
                             "cli_catchment", "cli_served", "cli_per1000_after")):
        table.add_column(t(lang, key), justify="left" if i < 2 else "right")
    for row in check.table.itertuples():
        if row.status != "ok":
            table.add_row(row.site, f"[yellow]{row.status}[/yellow]", *["–"] * 6)
            continue
        table.add_row(row.site, t(lang, "cli_status_ok"), f"{row.newly_covered:,.0f}", f"{row.points:+.2f}",
                      f"{row.combined_newly_covered:,.0f}", f"{row.catchment:,.0f}", f"{row.already_served:,.0f}",
                      "–" if pd.isna(row.ratio_after) else f"{row.ratio_after:.2f}")
    console.print(table)
    if len(check.units):
        top = check.units.sort_values("newly_covered", ascending=False).head(12)
        ut = Table(title=t(lang, "cli_units_title", n=len(top), total=len(check.units)))
        for i, key in enumerate(("cli_site", "cli_unit", "cli_newly", "cli_share_before", "cli_share_after")):
            ut.add_column(t(lang, key), justify="left" if i < 2 else "right")
        for row in top.itertuples():
            ut.add_row(row.site, str(row.unit), f"{row.newly_covered:,.0f}", share(row.share_before),
                       share(row.share_after))
        console.print(ut)
    for v in check.verdicts():
        console.print(f"  {v}", highlight=False, soft_wrap=True)
    print_messages(lang, [], check.notes)
    print_written(written, lang)


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
    lang = cli_lang(config)
    try:
        check_spacing(spacing)
        ctx = load_context(config, cache, lang)
        cands = read_sites(candidates, category) if candidates is not None else None
        sugg = suggest_sites(ctx, category, k if k is not None or budget is not None else 5, cands, method=method,
                             budget=budget, target_share=target, spacing_m=spacing)
        written = write_suggestion(sugg, _out_dir(ctx, out), html=html,
                                   inputs=[candidates] if candidates is not None else None)
    except Access15Error as exc:
        fail(exc, lang)
    table = Table(title=t(lang, "cli_sugg_title", category=category, label=_label(ctx, category),
                          method=word(lang, "methods", sugg.method), noun=noun(lang, sugg.noun)))
    for key in ("cli_rank", "cli_site", "cli_lon", "cli_lat", "cli_newly", "cli_cumulative", "cli_coverage"):
        table.add_column(t(lang, key), justify="left" if key == "cli_site" else "right")
    table.add_row("", t(lang, "cli_existing"), "", "", "", "", share(sugg.share_before))
    for row in sugg.sites.itertuples():
        table.add_row(str(row.rank), row.site, f"{row.lon:.5f}", f"{row.lat:.5f}", f"{row.newly_covered:,.0f}",
                      f"{row.cumulative_new:,.0f}", share(row.share_after))
    console.print(table)
    console.print(escape(_suggest_summary(ctx, sugg)), highlight=False, soft_wrap=True)
    print_messages(lang, [], sugg.notes)
    print_written(written, lang)
