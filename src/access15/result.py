"""The result of an analysis: what :func:`access15.analyze` returns and the caches store.

Tables and GeoDataFrames are in the network's metric CRS; times in minutes; weights in persons (with a
population) or in demand points (see ``demand_label``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from ._version import __version__
from .config import Config
from .coverage import COMBINED
from .demand import Grid
from .network import WalkNetwork


@dataclass
class AnalysisResult:
    """Everything an analysis produced.

    Attributes
    ----------
    config : the configuration used.
    network : the walking network (metric CRS).
    facilities : GeoDataFrame (network CRS) with ``category``, ``name``, ``facility_id``, ``snap_m``
        (access leg, metres; NaN when off the network) and ``on_network``.
    demand : GeoDataFrame (network CRS) of demand points with ``weight``, ``time_<category>`` (minutes;
        NaN off-network, inf beyond the search limit), ``nearest_<category>`` (facility_id) and
        ``covered_<category>`` per category, plus ``time_combined`` and ``covered_combined``.
    grid : the demand grid (or None for node demand); ``demand_label`` says what a weight means.
    coverage : the coverage table (see :func:`access15.coverage.coverage_table`).
    unit_coverage : the same per administrative unit and level (empty without boundaries), worst first.
    boundaries : the units (network CRS) or None.
    timings : seconds per stage. ``warnings`` : messages the user must see.
    provenance : inputs with checksums, config, versions and run times (see :mod:`access15.provenance`).
    """

    config: Config
    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    grid: Grid | None
    demand_label: str
    coverage: pd.DataFrame
    unit_coverage: pd.DataFrame
    boundaries: gpd.GeoDataFrame | None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    version: str = __version__
    #: per boundary level: residents in overlapping units (counted twice) and in gaps (in no unit)
    unit_check: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: facilities per category with their capacity, and those missing it (see :mod:`access15.standards`)
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: supply ratios (capacity per population) overall and per unit
    supply: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: each configured target with its figure and met / not met
    targets: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: inputs with checksums, config, versions and run times (see :mod:`access15.provenance`)
    provenance: dict = field(default_factory=dict)
    #: what the user should know that puts no figure in doubt (``warnings`` are those that may)
    notes: list[str] = field(default_factory=list)

    def gaps(self, category: str = COMBINED) -> gpd.GeoDataFrame:
        """Demand points outside the circle of ``category`` (or of the combined circle)."""
        return self.demand[~self.demand[f"covered_{category}"]]
