"""The ``access15`` command line. Thin by design: every command calls the Python API and prints.

:mod:`.app` holds the Typer application and the shared error path; :mod:`.analysis` registers ``run``,
``demo``, ``validate``, ``map`` and ``batch``; :mod:`.siting` registers ``site-check`` and ``suggest``;
:mod:`.serve` registers ``serve`` (the planner workbench); :mod:`.fetch` registers ``fetch``.
"""

from . import analysis, fetch, serve, siting  # noqa: F401  (each module registers its commands on the app)
from .app import app


def main() -> None:  # pragma: no cover
    """The console script ``access15``."""
    app()


__all__ = ["app", "main"]
