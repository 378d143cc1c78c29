"""The ``access15`` Typer application and what every command shares: the consoles, the one error path, the
stage timings, the cached analysis + siting context and the list of written files."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ..config import peek_lang
from ..errors import Access15Error
from ..siting import SiteContext, load_site_context
from ..text import display_lang, message, t, word

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="access15: who can reach which public services on foot, and where the gaps are.")
console = Console(width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True)


def cli_lang(config: Path | None = None) -> str:
    """The language a command speaks: ``$ACCESS15_LANG`` (zh/en), else the ``[output] lang`` of ``config`` (read
    even when the config does not load, so that its own errors are in its language), else English."""
    return display_lang(peek_lang(config) if config is not None else None)


def fail(exc: Access15Error, lang: str = "en") -> NoReturn:
    """Print a user error on one line in ``lang`` (no traceback) and exit with status 2."""
    err.print(f"[bold red]{t(lang, 'cli_error')}[/bold red] {escape(exc.text(lang))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(2) from None


def refuse(lang: str, key: str, **kw) -> NoReturn:
    """Refuse a command-line value (text ``key``) on one line in ``lang`` and exit with status 2."""
    err.print(f"[bold red]{t(lang, 'cli_error')}[/bold red] {escape(t(lang, key, **kw))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(2)


def stage_printer(lang: str):
    """The ``progress`` callback of the analysis: one dim line per finished stage, in seconds."""
    def show(stage: str, seconds: float) -> None:
        err.print(f"[dim]  {word(lang, 'stages', stage):<16} {seconds:6.2f} s[/dim]")
    return show


def print_messages(lang: str, warnings_: list[str], notes: list[str] = ()) -> None:
    """Warnings, then notes, one line each on stderr, in ``lang``."""
    for msg in warnings_:
        err.print(f"[yellow]{t(lang, 'cli_warning')}[/yellow] {escape(message(lang, msg))}")
    for msg in notes:
        err.print(f"[dim]{t(lang, 'cli_note')} {escape(message(lang, msg))}[/dim]")


def load_context(config: Path, cache: bool = True, lang: str = "en") -> SiteContext:
    """The analysis + siting context through the disk cache, with stage timings on a first build."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with console.status(t(lang, "cli_loading")):
            ctx = load_site_context(config, use_cache=cache, progress=stage_printer(lang))
    if "load cache" in ctx.result.timings:
        err.print(f"[dim]  {t(lang, 'cli_cache', s=ctx.result.timings['load cache'])}[/dim]")
    return ctx


def print_written(written: dict, lang: str = "en") -> None:
    """List the files a command wrote."""
    names = {key: word(lang, "written", key) for key in written}
    width = max(map(len, names.values()), default=0)
    for key, path in written.items():
        console.print(f"  {names[key]:<{width}}  {path}")


def fmt_min(v: float, limit: float) -> str:
    """Minutes for display: '–' when undefined, '>limit' beyond the search limit."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f">{limit:g}" if math.isinf(v) else f"{v:.1f}"
