"""What the map renderers need from an analysis, whether it was just computed or loaded back from disk.

:class:`MapData` is the one input of :mod:`access15.maps.html` and :mod:`access15.maps.static`. It is built
from a live :class:`~access15.result.AnalysisResult` (:meth:`MapData.from_result`) or from the
GeoPackage written by ``access15 run`` (:func:`access15.outputs.load_result`), so both paths render through
the same code. Facilities and boundaries are kept in EPSG:4326 (as stored), demand points and streets in
the analysis' metric CRS.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from ..config import Config
from ..coverage import COMBINED
from ..demand import Grid
from ..io.osm import is_osm_file, osm_header_info
from ..result import AnalysisResult

#: Decimals kept for travel times (minutes) in every stored or drawn output.
MINUTES_DECIMALS = 3


@dataclass
class MapData:
    """A finished analysis as the renderers see it.

    Attributes
    ----------
    config : the analysis configuration (categories, thresholds, speed, output options).
    crs : the metric CRS of the analysis (metres).
    demand : GeoDataFrame in ``crs``: ``weight``, ``time_<cat>`` (minutes, rounded to 3 decimals; NaN off
        the network, inf beyond the search limit), ``covered_<cat>``, ``covered_combined``, ``ix``/``iy``
        (grid cells) and ``unit`` when boundaries were given.
    grid : the demand grid, or None for node demand.
    demand_label : what one unit of ``weight`` means (e.g. persons, or grid cells).
    facilities : GeoDataFrame in EPSG:4326 (``category``, ``name``, ``facility_id``, ``capacity``, ...).
    coverage, unit_coverage : the coverage tables (see :mod:`access15.coverage`).
    boundaries : units (EPSG:4326, column ``unit``) or None.
    streets : walkable street centre lines (shapely LineStrings in ``crs``).
    sources : data sources named on the map; ``data_date`` : the OSM extract's timestamp if known;
    created : the date (UTC, ISO) the analysis was run; version : access15 version.
    meta : every ``access15_meta`` key read from a GeoPackage (empty for a live result).
    provenance : the run's provenance record (inputs with SHA-256, run time, OSM date; see provenance.py).
    """

    config: Config
    crs: pyproj.CRS
    demand: gpd.GeoDataFrame
    grid: Grid | None
    demand_label: str
    facilities: gpd.GeoDataFrame
    coverage: pd.DataFrame
    unit_coverage: pd.DataFrame
    boundaries: gpd.GeoDataFrame | None
    streets: np.ndarray
    sources: list[str]
    data_date: str
    created: str
    version: str
    meta: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, result: AnalysisResult) -> MapData:
        """The map view of a live :class:`~access15.result.AnalysisResult` (no copy of large arrays
        except the rounded travel times)."""
        cfg = result.config
        net = result.network
        demand = result.demand.copy(deep=False)  # only the rounded times are new columns
        for col in [c for c in demand.columns if c.startswith("time_")]:
            demand[col] = demand[col].round(MINUTES_DECIMALS)
        data_date = ""
        try:
            path = cfg.resolve(cfg.network.path)
            if is_osm_file(path) and path.is_file():
                data_date = osm_header_info(path).get("timestamp", "")[:10]
        except (OSError, ValueError):  # pragma: no cover - a network given in code has no file
            data_date = ""
        named = [str(net.source)] + sorted(set(result.facilities["source"].astype(str)) - {"", str(net.source)})
        sources = [a for a in named if not any(a != b and a in b for b in named)]  # "x.pbf" in "OSM (x.pbf)"
        return cls(config=cfg, crs=pyproj.CRS(net.crs), demand=demand, grid=result.grid,
                   demand_label=result.demand_label, facilities=result.facilities.to_crs(4326),
                   coverage=result.coverage, unit_coverage=result.unit_coverage,
                   boundaries=None if result.boundaries is None else result.boundaries.to_crs(4326),
                   streets=np.asarray(net.edge_geometry), sources=sources, data_date=data_date,
                   created=_dt.datetime.now(_dt.timezone.utc).date().isoformat(), version=str(result.version),
                   provenance=dict(getattr(result, "provenance", None) or {}))

    def gaps(self, category: str = COMBINED) -> gpd.GeoDataFrame:
        """Demand points outside the circle of ``category`` (or of the combined circle)."""
        return self.demand[~self.demand[f"covered_{category}"].astype(bool)]

    @property
    def categories(self) -> list[str]:
        """The category keys in config order."""
        return list(self.config.categories)

    @property
    def weighted(self) -> bool:
        """True when demand weights differ (e.g. population), False when every point weighs the same."""
        w = self.demand["weight"].to_numpy(dtype=float)
        return bool(len(w)) and not np.allclose(w, w[0])


def as_map_data(obj: MapData | AnalysisResult) -> MapData:
    """``obj`` itself if it is a :class:`MapData`, else the map view of an AnalysisResult."""
    return obj if isinstance(obj, MapData) else MapData.from_result(obj)
