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

from ..errors import Access15Error
from ..siting import SiteContext, load_site_context
from ..text import t

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="access15: who can reach which public services on foot, and where the gaps are.")
console = Console(width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True)


def fail(exc: Access15Error) -> NoReturn:
    """Print a user error on one line (no traceback) and exit with status 2."""
    err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def print_stage(stage: str, seconds: float) -> None:
    """One dim line per finished pipeline stage (the ``progress`` callback of the analysis), in seconds."""
    err.print(f"[dim]  {stage:<16} {seconds:6.2f} s[/dim]")


def load_context(config: Path, cache: bool = True) -> SiteContext:
    """The analysis + siting context through the disk cache, with stage timings on a first build."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with console.status("loading the analysis (the first run builds the cache)"):
            ctx = load_site_context(config, use_cache=cache, progress=print_stage)
    if "load cache" in ctx.result.timings:
        lang = ctx.result.config.output.lang
        err.print(f"[dim]  {t(lang, 'cli_cache', s=ctx.result.timings['load cache'])}[/dim]")
    return ctx


def print_written(written: dict) -> None:
    """List the files a command wrote."""
    for key, path in written.items():
        console.print(f"  {key:<14} {path}")


def fmt_min(v: float, limit: float) -> str:
    """Minutes for display: '–' when undefined, '>limit' beyond the search limit."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f">{limit:g}" if math.isinf(v) else f"{v:.1f}"
