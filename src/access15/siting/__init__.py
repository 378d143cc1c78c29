"""Siting: what a proposed facility adds to a circle, and where new facilities should go.

* :func:`check_sites` -- each candidate against the existing facilities (:mod:`.check`);
* :func:`suggest_sites` -- the best new sites (maximal covering), and how many reach a target (:mod:`.suggest`);
* :func:`load_site_context` / :func:`site_context` -- the analysis and what siting needs from it, once
  (:mod:`.context`); candidate sites are read and checked by :mod:`.sites`; results are written by
  :mod:`.outputs` (CSV and before/after maps).
"""

from .check import SiteCheck, check_sites
from .context import SiteContext, circle_reach, load_site_context, site_context
from .outputs import write_site_check, write_suggestion
from .sites import OFF_NETWORK, OK, ON_WATER, OUTSIDE, as_sites, gap_candidates, parse_lonlat, read_sites
from .suggest import Suggestion, plan_target, suggest_sites

__all__ = ["OFF_NETWORK", "OK", "ON_WATER", "OUTSIDE", "SiteCheck", "SiteContext", "Suggestion", "as_sites",
           "check_sites", "circle_reach", "gap_candidates", "load_site_context", "parse_lonlat", "plan_target",
           "read_sites", "site_context", "suggest_sites", "write_site_check", "write_suggestion"]
