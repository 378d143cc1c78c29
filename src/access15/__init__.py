"""access15: who can reach which public services on foot, and where the gaps are.

The pipeline, stage by stage (see docs/architecture.md): :mod:`~access15.io` loads the inputs,
:mod:`~access15.network` builds the walking network, :mod:`~access15.snap` attaches points to it,
:mod:`~access15.routing` and :mod:`~access15.catchment` measure travel times, :mod:`~access15.coverage`,
:mod:`~access15.units` and :mod:`~access15.standards` turn them into figures, :mod:`~access15.siting` answers
"what would a new facility add", :mod:`~access15.maps` and :mod:`~access15.outputs` render and write, and
:mod:`~access15.cli` is the command line over all of it.
"""

from ._version import __version__
from .batch import BatchResult, run_batch
from .config import Config, config_from_dict, load_config
from .errors import Access15Error, AccessWarning, InputError
from .graphs import to_networkx
from .maps import MapData, build_map, write_map
from .outputs import load_result, render_maps, write_outputs
from .pipeline import analyze, cached_analyze
from .result import AnalysisResult
from .siting import SiteCheck, SiteContext, Suggestion, check_sites, load_site_context, site_context, suggest_sites

__all__ = [
    "Access15Error", "AccessWarning", "AnalysisResult", "BatchResult", "Config", "InputError", "MapData",
    "SiteCheck", "SiteContext", "Suggestion", "__version__", "analyze", "build_map", "cached_analyze",
    "check_sites", "config_from_dict", "load_config", "load_result", "load_site_context", "render_maps",
    "run_batch", "site_context", "suggest_sites", "to_networkx", "write_map", "write_outputs",
]
