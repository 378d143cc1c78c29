"""The ``access15`` Typer application and what every command shares: the consoles, the one error path and
the list of written files."""

from __future__ import annotations

import math
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import Access15Error

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="access15: who can reach which public services on foot, and where the gaps are.")
console = Console(width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True)


def fail(exc: Access15Error) -> NoReturn:
    """Print a user error on one line (no traceback) and exit with status 2."""
    err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def print_written(written: dict) -> None:
    """List the files a command wrote."""
    for key, path in written.items():
        console.print(f"  {key:<14} {path}")


def fmt_min(v: float, limit: float) -> str:
    """Minutes for display: '–' when undefined, '>limit' beyond the search limit."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f">{limit:g}" if math.isinf(v) else f"{v:.1f}"
