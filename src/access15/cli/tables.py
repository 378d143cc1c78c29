"""The result tables the commands print (Rich), in the CLI's language (:func:`access15.text.display_lang`): coverage,
units, supply, targets."""

from __future__ import annotations

import math

import pandas as pd
from rich.markup import escape
from rich.table import Table

from ..result import AnalysisResult
from ..text import TABLE_HEADERS, demand_text, message, t, word
from .app import console, fmt_min, print_messages


def print_coverage(result: AnalysisResult, lang: str = "en") -> None:
    """The coverage table as a Rich table, in ``lang``."""
    cfg = result.config
    lang = lang if lang in TABLE_HEADERS else "en"
    *headers, circle_fmt, all_required = TABLE_HEADERS[lang]
    limit = cfg.max_minutes
    table = Table(title=f"{escape(cfg.name)}\n[dim]{escape(demand_text(result.demand_label, lang))}[/dim]")
    table.add_column(headers[0], no_wrap=True, min_width=8)
    for col in headers[1:]:
        table.add_column(col, justify="right")
    for row in result.coverage.itertuples():
        if row.category == "combined":
            name, circle = (t(lang, "combined") if lang == "zh" else "combined"), all_required
        else:
            kcfg = cfg.categories.get(row.category)
            name = kcfg.label(lang) if lang == "zh" and kcfg is not None else row.category
            circle = circle_fmt.format(m=row.threshold_min)
            if cfg.network.elevation or (kcfg is not None and kcfg.profile):  # who walks (issue 15)
                circle += f"\n[dim]{escape(str(getattr(row, 'profile', '')))}[/dim]"
        table.add_row(escape(name), circle, str(row.facilities), f"{row.covered:,.0f} / {row.demand:,.0f}",
                      f"{row.share_covered:.1%}", fmt_min(row.median_min, limit), fmt_min(row.p90_min, limit),
                      f"{row.unreachable:,.0f}")
    console.print(table)
    for row in result.coverage.itertuples():
        if getattr(row, "note", ""):
            console.print(f"  [yellow]{escape(str(row.category))}:[/yellow] {escape(message(lang, row.note))}", highlight=False)



def _fmt_cell(v: object) -> str:
    """A table value for display: thousands separators for counts, 4 significant digits for ratios."""
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if abs(v) >= 1000 or v == int(v):
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return escape(str(v))



def print_frame(df: pd.DataFrame | None, title: str, columns: list[str], limit: int = 15, lang: str = "en") -> None:
    """A results table (first ``limit`` rows of ``columns``) as a Rich table, headers in ``lang``; nothing when
    empty."""
    if df is None or not len(df):
        return
    cols = [c for c in columns if c in df.columns]
    more = f" [dim]{t(lang, 'cli_first', limit=limit, n=len(df))}[/dim]" if len(df) > limit else ""
    table = Table(title=title + more)
    for c in cols:
        table.add_column(word(lang, "columns", c))
    for row in df[cols].head(limit).itertuples(index=False):
        table.add_row(*[str(int(v)) if c == "year" and isinstance(v, float) and v == v else _fmt_cell(v)
                        for c, v in zip(cols, row)])
    console.print(table)



def print_extra(result: AnalysisResult, lang: str = "en") -> None:
    """Per-unit coverage (combined circle, worst first), unit checks, supply ratios and targets, if present;
    titles and headers in ``lang`` (text.TEXT "cli_*", "columns")."""
    uc = getattr(result, "unit_coverage", None)
    if uc is not None and len(uc) and "level" in uc:
        print_frame(uc[uc["category"] == "combined"], t(lang, "cli_units_worst"),
                    ["level", "unit", "demand", "covered", "share_covered", "median_min", "p90_min", "unreachable"],
                    lang=lang)
    print_frame(getattr(result, "unit_check", None), t(lang, "cli_unit_check"),
                ["level", "units", "residents", "residents_in_overlaps", "residents_in_gaps"], lang=lang)
    sup = getattr(result, "supply", None)
    est = f"[bold]{t(lang, 'cli_estimated')}[/bold]" if "ESTIMATED" in result.demand_label else ""
    if sup is not None and len(sup):
        print_frame(sup[sup["level"] == "overall"], t(lang, "cli_supply") + est, ["category", "population", "basis",
                    "residents", "facilities", "missing_capacity", "capacity", "per_1000"], lang=lang)
    tg = getattr(result, "targets", None)
    if tg is not None and len(tg):
        print_frame(tg[tg["level"] == "overall"] if (tg["level"] == "overall").any() else tg,
                    t(lang, "cli_targets") + est,
                    ["target", "category", "measure", "target_value", "figure", "status", "city", "year"], limit=30,
                    lang=lang)


def print_result(result: AnalysisResult, lang: str = "en") -> None:
    """An analysis as the commands show it, in ``lang``: its warnings and notes (stderr), then its tables."""
    print_messages(lang, result.warnings, result.notes)
    print_coverage(result, lang)
    print_extra(result, lang)
