"""access15: who can reach which public services on foot, and where the gaps are.

The pipeline, stage by stage (see docs/architecture.md): :mod:`~access15.io` loads the inputs,
:mod:`~access15.network` builds the walking network, :mod:`~access15.snap` attaches points to it,
:mod:`~access15.routing` and :mod:`~access15.catchment` measure travel times, :mod:`~access15.coverage`,
:mod:`~access15.units` and :mod:`~access15.standards` turn them into figures, :mod:`~access15.siting` answers
"what would a new facility add", :mod:`~access15.maps` and :mod:`~access15.outputs` render and write, and
:mod:`~access15.cli` is the command line over all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

#: Public name -> the module that defines it, imported on first use: ``import access15`` (and so the import of
#: any submodule) stays light, e.g. for the worker process that writes a GeoPackage (:mod:`access15.gpkg_worker`).
_EXPORTS = {
    "BatchResult": "batch", "run_batch": "batch",
    "Config": "config", "config_from_dict": "config", "load_config": "config",
    "Access15Error": "errors", "AccessWarning": "errors", "InputError": "errors",
    "to_networkx": "graphs",
    "MapData": "maps", "build_map": "maps", "write_map": "maps",
    "load_result": "outputs", "render_maps": "outputs", "write_outputs": "outputs",
    "analyze": "pipeline", "cached_analyze": "pipeline",
    "AnalysisResult": "result",
    "SiteCheck": "siting", "SiteContext": "siting", "Suggestion": "siting", "check_sites": "siting",
    "load_site_context": "siting", "site_context": "siting", "suggest_sites": "siting",
}

if TYPE_CHECKING:  # what type checkers and IDEs see
    from .batch import BatchResult, run_batch
    from .config import Config, config_from_dict, load_config
    from .errors import Access15Error, AccessWarning, InputError
    from .graphs import to_networkx
    from .maps import MapData, build_map, write_map
    from .outputs import load_result, render_maps, write_outputs
    from .pipeline import analyze, cached_analyze
    from .result import AnalysisResult
    from .siting import SiteCheck, SiteContext, Suggestion, check_sites, load_site_context, site_context, suggest_sites


def __getattr__(name: str):
    """The public names of :data:`_EXPORTS`, imported from their module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'access15' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "Access15Error", "AccessWarning", "AnalysisResult", "BatchResult", "Config", "InputError", "MapData",
    "SiteCheck", "SiteContext", "Suggestion", "__version__", "analyze", "build_map", "cached_analyze",
    "check_sites", "config_from_dict", "load_config", "load_result", "load_site_context", "render_maps",
    "run_batch", "site_context", "suggest_sites", "to_networkx", "write_map", "write_outputs",
]
