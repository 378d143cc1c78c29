"""Siting checks and suggestions on the real Porto Alegre demo (network, clinics and schools).

The reference for every figure is a full re-run of :func:`access15.analyze` with the candidate(s) added
to the existing facilities: the bounded search from the candidate must give the same covered points.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import ndimage

from access15 import analyze
from access15.coords import WGS84, transform_xy
from access15.errors import InputError
from access15.siting import (
    OFF_NETWORK,
    OK,
    ON_WATER,
    OUTSIDE,
    as_sites,
    check_sites,
    gap_candidates,
    parse_lonlat,
    site_context,
    suggest_sites,
)

# "Espelho d'Água" (OSM way 215504907), a reflecting pool mapped as natural=water in the extract
POOL = (-51.2313, -30.05647)


def _with_sites(result, sites: gpd.GeoDataFrame, category: str) -> gpd.GeoDataFrame:
    """The existing facilities plus ``sites`` as facilities of ``category`` (EPSG:4326)."""
    fac = result.facilities[["category", "name", "facility_id", "capacity", "source", "geometry"]].to_crs(4326)
    new = gpd.GeoDataFrame({"category": category, "name": sites["site"].to_numpy(),
                            "facility_id": [f"cand{i}" for i in range(len(sites))], "capacity": np.nan,
                            "source": "candidates"}, geometry=sites.geometry.to_crs(4326).values, crs=4326)
    return gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), crs=4326)


def _recompute(result, network, sites, category):
    return analyze(result.config, network=network, facilities=_with_sites(result, sites, category))


def _lonlat(result, xy: np.ndarray) -> np.ndarray:
    return transform_xy(np.atleast_2d(xy), result.network.crs, WGS84)


def _largest_gap(result, category: str):
    """Mask raster, labels and the label of the largest connected gap of ``category`` (grid cells)."""
    g, dem = result.grid, result.demand
    gap = np.zeros((g.ny, g.nx), dtype=bool)
    gap[dem["iy"].to_numpy(), dem["ix"].to_numpy()] = ~dem[f"covered_{category}"].to_numpy()
    labels, n = ndimage.label(gap)
    biggest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return gap, labels, biggest


@pytest.fixture(scope="module")
def ctx(demo_result):
    return site_context(demo_result)


def test_site_on_existing_facility_adds_nothing(demo_result, ctx):
    fac = demo_result.facilities
    clinics = fac[(fac["category"] == "clinic") & fac["on_network"]].head(5)
    check = check_sites(ctx, "clinic", clinics)
    t = check.table
    assert (t["status"] == OK).all()
    assert (t["newly_covered"] == 0).all()
    assert (t["combined_newly_covered"] == 0).all()
    assert (t["catchment"] > 0).all()
    assert (t["already_served"] == t["catchment"]).all()  # its whole catchment is already inside the circle
    assert (t["points"] == 0).all()
    assert all(f"adds 0 {check.noun} (+0.0 points)" in v for v in t["verdict"])
    assert check.noun == "residents"  # the demo is population-weighted


def test_middle_of_largest_gap_adds_at_least_as_much_as_its_edge(demo_result, ctx):
    """A site deep inside the largest gap spends its whole catchment on people outside the circle; a site
    at the gap's edge spends part of it on people already served, so per person it can reach it adds less.

    (With real population the absolute numbers depend on where people live: the middle of Porto Alegre's
    largest clinic gap is a thinly built hill, so the test compares what each site adds per person in its
    catchment, which is what "the middle adds at least as much" means independently of density.)
    """
    gap, labels, biggest = _largest_gap(demo_result, "clinic")
    inside = labels == biggest
    depth = ndimage.distance_transform_edt(inside)
    g = demo_result.grid
    radius = demo_result.config.categories["clinic"].minutes * demo_result.config.speed_m_per_min
    assert (depth.max() - 1) * g.cell > radius  # deeper than the circle: no served point within reach
    mid = np.unravel_index(np.argmax(depth), depth.shape)
    edge = np.argwhere(inside & (depth == 1))[::25]
    cells = np.vstack([np.array(mid)[None, :], edge])
    xy = np.column_stack([g.x0 + (cells[:, 1] + 0.5) * g.cell, g.y0 + (cells[:, 0] + 0.5) * g.cell])
    t = check_sites(ctx, "clinic", _lonlat(demo_result, xy)).table
    t = t[(t["status"] == OK) & (t["catchment"] > 0)]
    assert t.index[0] == 0 and len(t) > 10
    share = t["newly_covered"] / t["catchment"]
    assert t["already_served"].iat[0] == 0 and share.iat[0] == 1.0  # the middle wastes nothing
    # most edge sites reach people already served, so they add less per person they reach
    assert (share.iloc[1:] < share.iat[0]).mean() > 0.5


def test_site_check_equals_full_recomputation(demo_result, porto_alegre_network, ctx):
    """Per candidate: the covered points and the coverage figures equal a full re-run with it added."""
    gap, labels, biggest = _largest_gap(demo_result, "clinic")
    dem = demo_result.demand
    rng = np.random.default_rng(4)
    in_gap = np.flatnonzero(~dem["covered_clinic"].to_numpy())
    picks = np.r_[rng.choice(in_gap, 2, replace=False), rng.choice(len(dem), 1)]
    xy = shapely.get_coordinates(dem.geometry.values[picks]) + rng.normal(0, 30, (3, 2))
    sites = as_sites(_lonlat(demo_result, xy))
    check = check_sites(ctx, "clinic", sites, capacity=[40, 25, 60])
    assert (check.table["status"] == OK).all()
    assert check.table["newly_covered"].max() > 0
    for i in range(len(sites)):
        full = _recompute(demo_result, porto_alegre_network, sites.iloc[[i]], "clinic")
        after = full.demand["covered_clinic"].to_numpy()
        assert np.array_equal(check.covered_after(i), after)  # the same points, exactly
        cov = full.coverage.set_index("category")
        row = check.table.iloc[i]
        assert row["covered_after"] == pytest.approx(cov.loc["clinic", "covered"], rel=1e-12)
        assert row["share_after"] == pytest.approx(cov.loc["clinic", "share_covered"], rel=1e-12)
        assert (row["combined_share_after"] == pytest.approx(cov.loc["combined", "share_covered"], rel=1e-12))
        # the candidate's own catchment: the points whose time to it is within 15 minutes
        mine = check.reach.dem[check.reach.cand == i]
        t_full = full.demand["time_clinic"].to_numpy()
        # (1e-9 min: equal-length paths tie, and a re-run may sum a tied path's edges in another order)
        improved = np.flatnonzero(t_full < dem["time_clinic"].to_numpy() - 1e-9)
        assert len(improved)
        assert set(improved) <= set(mine) | set(np.flatnonzero(t_full > 15))
        assert row["catchment"] == pytest.approx(dem["weight"].to_numpy()[mine].sum(), rel=1e-12)
    # capacity: the demo's clinics carry their real counts per hexagon as capacity
    fac = demo_result.facilities
    places = fac.loc[(fac["category"] == "clinic") & fac["on_network"], "capacity"].sum()
    total = dem["weight"].sum()
    assert check.table["ratio_before"].iat[0] == pytest.approx(1000 * places / total)
    assert check.table["ratio_after"].tolist() == pytest.approx([1000 * (places + c) / total for c in (40, 25, 60)])
    assert check.table["catchment_ratio"].iat[0] == pytest.approx(40_000 / check.table["catchment"].iat[0])


def test_batch_equals_single_checks(demo_result, ctx):
    nodes = np.random.default_rng(7).choice(demo_result.network.n_nodes, 40, replace=False)
    lonlat = _lonlat(demo_result, demo_result.network.node_xy[nodes])
    batch = check_sites(ctx, "school", lonlat).table
    for i in (0, 13, 39):
        one = check_sites(ctx, "school", lonlat[i]).table
        cols = ["newly_covered", "catchment", "already_served", "combined_newly_covered", "share_after"]
        assert one[cols].iloc[0].tolist() == batch[cols].iloc[i].tolist()


def test_invalid_sites_get_a_message_not_a_number(demo_result, ctx):
    net = demo_result.network
    hull = net.hull()
    # a point inside the study area but farther than max_snap_m (500 m) from every walkable street
    g = demo_result.grid
    xs, ys = np.meshgrid(g.x0 + np.arange(g.nx) * g.cell, g.y0 + np.arange(g.ny) * g.cell)
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.contains(hull, pts)]
    _, d = net.tree.query_nearest(pts, return_distance=True, all_matches=False)
    far = pts[np.argmax(d)]
    assert d.max() > 500
    sites = [POOL, tuple(_lonlat(demo_result, shapely.get_coordinates(far))[0]), (-51.0, -29.5), (-51.19, -30.05)]
    check = check_sites(ctx, "clinic", sites)
    t = check.table
    assert t["status"].tolist() == [ON_WATER, OFF_NETWORK, OUTSIDE, OK]
    assert "Espelho d'Água" in t["message"].iat[0]
    assert "from the nearest walkable street (limit 500 m)" in t["message"].iat[1]
    assert "outside the study area" in t["message"].iat[2]
    assert t.loc[:2, "newly_covered"].isna().all() and t["newly_covered"].iat[3] >= 0
    assert check.verdicts()[0].startswith("site 1: on water")
    with pytest.raises(InputError, match="not a longitude"):
        check_sites(ctx, "clinic", [(500.0, 10.0)])
    with pytest.raises(InputError, match="did you mean 'clinic'"):
        check_sites(ctx, "clinc", [POOL])
    with pytest.raises(InputError, match="--at"):
        parse_lonlat("121.55")
    assert parse_lonlat(" 121.55, 29.87") == (121.55, 29.87)


def test_category_population_column_is_used(demo_result):
    """A category measured against its own population column (e.g. elderly residents) is weighted by it."""
    import copy

    res = copy.copy(demo_result)
    res.config = copy.deepcopy(demo_result.config)
    res.demand = demo_result.demand.copy()
    res.demand["pop_test"] = np.arange(len(res.demand)) % 7
    res.config.categories["clinic"].population = "pop_test"  # as [categories.clinic] population = "pop_test"
    site = (-51.19, -30.05)
    plain = check_sites(demo_result, "clinic", [site])
    weighted = check_sites(res, "clinic", [site])
    mine = weighted.reach.dem[(weighted.reach.cand == 0) & ~res.demand["covered_clinic"].to_numpy()[weighted.reach.dem]]
    assert weighted.table["newly_covered"].iat[0] == res.demand["pop_test"].to_numpy()[mine].sum()
    residents = res.demand["weight"].to_numpy()[mine].sum()
    assert plain.table["newly_covered"].iat[0] == pytest.approx(residents, rel=1e-12)
    assert weighted.table["all_newly_covered"].iat[0] == pytest.approx(residents, rel=1e-12)  # beside the group
    assert "of group pop_test" in weighted.verdicts()[0] and "all_newly_covered" not in plain.table


def test_suggested_sites_equal_full_recomputation(demo_result, porto_alegre_network, ctx):
    sugg = suggest_sites(ctx, "clinic", k=4, method="greedy")
    assert len(sugg.sites) == 4 and sugg.objective > 0
    assert list(sugg.sites["rank"]) == [1, 2, 3, 4]
    assert np.all(np.diff(sugg.sites["newly_covered"]) <= 0)  # greedy order: gains never grow
    full = _recompute(demo_result, porto_alegre_network, sugg.sites, "clinic")
    before = demo_result.demand["covered_clinic"].to_numpy()
    assert np.array_equal(full.demand["covered_clinic"].to_numpy(), before | sugg.newly_covered)
    cov = full.coverage.set_index("category")
    assert sugg.covered_before + sugg.objective == cov.loc["clinic", "covered"]
    assert sugg.sites["share_after"].iat[-1] == pytest.approx(cov.loc["clinic", "share_covered"], rel=1e-12)
    assert sugg.sites["combined_share_after"].iat[-1] == pytest.approx(cov.loc["combined", "share_covered"], rel=1e-12)


def test_greedy_gap_to_exact_optimum_on_default_data(ctx, capsys):
    """Reported in docs/siting.md: greedy vs the proven optimum on the demo's generated candidates."""
    rows = []
    for cat, k in (("clinic", 5), ("clinic", 40), ("school", 40)):
        s = suggest_sites(ctx, cat, k=k, method="exact", target_share=0.5)
        assert s.optimal
        assert s.exact_objective >= s.greedy_objective >= (1 - 1 / np.e) * s.exact_objective
        assert s.objective == s.exact_objective
        rows.append((cat, k, s.greedy_objective, s.exact_objective, s.gap))
    with capsys.disabled():
        for cat, k, g, e, gap in rows:
            print(f"\n  greedy vs exact, {cat} k={k}: {g:,.0f} / {e:,.0f} residents, gap {gap:.2%}", end="")
    assert max(r[4] for r in rows) > 0  # the test would notice if "exact" were greedy in disguise


def test_exact_solver_matches_brute_force(ctx):
    """On 12 overlapping candidates the integer program equals the best of all 220 three-site sets."""
    from scipy import sparse

    from access15.siting import mclp

    s = suggest_sites(ctx, "school", k=3, method="greedy")
    reach = s.check.reach
    before = ctx.result.demand["covered_school"].to_numpy()
    r = reach.select(~before[reach.dem])
    # the 12 candidates that share the most points with others (where greedy can go wrong)
    top = np.argsort(-np.bincount(r.cand, minlength=reach.shape[0]))[:12]
    sel = np.isin(r.cand, top)
    cols, col = np.unique(r.dem[sel], return_inverse=True)
    rows = np.searchsorted(np.sort(top), r.cand[sel])
    A = sparse.csr_matrix((np.ones(sel.sum(), bool), (rows, col)), shape=(12, len(cols)))
    w = np.ones(len(cols))
    brute = max(mclp.covered_weight(A, w, np.array(c)) for c in itertools.combinations(range(12), 3))
    ex = mclp.exact_mclp(A, w, k=3)
    assert ex.optimal and ex.objective == brute
    # merging points covered by the same candidates keeps every set's value
    A2, w2 = mclp.aggregate_columns(A, w)
    assert A2.shape[1] < A.shape[1] and w2.sum() == w.sum()
    for c in itertools.islice(itertools.combinations(range(12), 3), 0, 220, 17):
        assert mclp.covered_weight(A2, w2, np.array(c)) == mclp.covered_weight(A, w, np.array(c))
    assert mclp.greedy_mclp(A, w, k=3).objective <= brute


def test_set_covering_view(ctx):
    w = ctx.result.demand["weight"].to_numpy()
    before = ctx.result.demand["covered_clinic"].to_numpy()
    share0 = w[before].sum() / w.sum()
    target = share0 + 0.04
    s = suggest_sites(ctx, "clinic", k=2, method="exact", target_share=target)
    c = s.cover
    assert c["reachable"] and c["optimal"] and c["sites_needed"] >= 2
    greedy = suggest_sites(ctx, "clinic", k=2, method="greedy", target_share=target).cover
    assert c["sites_needed"] <= greedy["sites_needed"]
    # the proven minimum really reaches the target: check the chosen set's coverage
    names = s.check.table["site"].to_numpy()
    chosen = np.flatnonzero(np.isin(names, c["sites"]))
    reach = s.check.reach
    covered = before.copy()
    covered[reach.dem[np.isin(reach.cand, chosen)]] = True
    assert w[covered].sum() / w.sum() >= target - 1e-12
    assert "proven minimum" in c["message"]
    # a target already met, and one the candidates cannot reach
    met = suggest_sites(ctx, "clinic", k=1, target_share=share0 - 0.01).cover
    assert met["sites_needed"] == 0 and "already met" in met["message"]
    few = suggest_sites(ctx, "clinic", k=1, candidates=[(-51.19, -30.05), (-51.16, -30.10)], target_share=1.0)
    assert few.cover["reachable"] is False and few.cover["sites_needed"] is None
    assert "unreachable" in few.cover["message"] and "A 100% share" in few.cover["message"]
    reach = float(few.cover["message"].split("reach ")[1].rstrip("%."))
    assert abs(reach - 100 * few.cover["max_share"]) <= 0.05 and reach < 100  # text.share: never "100%" when short


def test_budget_and_costs(ctx):
    cands = gap_candidates(ctx, "clinic").head(60).copy()
    cands["cost"] = np.where(np.arange(len(cands)) % 2 == 0, 3.0, 1.0)
    s = suggest_sites(ctx, "clinic", k=None, candidates=cands, budget=4, method="exact")
    assert s.sites["cost"].sum() <= 4
    g = suggest_sites(ctx, "clinic", k=None, candidates=cands, budget=4, method="greedy")
    assert g.sites["cost"].sum() <= 4 and g.objective <= s.objective
    with pytest.raises(InputError, match="neither k nor a budget"):
        suggest_sites(ctx, "clinic", k=None)


def test_gap_candidates_lie_in_gaps(demo_result):
    cands = gap_candidates(demo_result, "clinic", spacing_m=300)
    assert 50 < len(cands) < 2000
    xy = transform_xy(shapely.get_coordinates(cands.geometry.values), WGS84, demo_result.network.crs)
    g, dem = demo_result.grid, demo_result.demand
    cell = pd.Series(np.arange(len(dem)), index=pd.MultiIndex.from_arrays([dem["ix"], dem["iy"]]))
    at = cell.reindex(pd.MultiIndex.from_arrays([np.floor((xy[:, 0] - g.x0) / g.cell).astype(int),
                                                 np.floor((xy[:, 1] - g.y0) / g.cell).astype(int)])).to_numpy()
    assert not dem["covered_clinic"].to_numpy()[at.astype(int)].any()
    # thinned: at most one per 300 m square
    key = np.floor(xy / 300)
    assert len(np.unique(key, axis=0)) == len(cands)


def test_set_covering_defaults_to_the_plans_coverage_target(demo_result):
    """Without --target, the set-covering view aims at the category's coverage target from [targets]."""
    import copy

    from access15.config import TargetConfig

    res = copy.copy(demo_result)
    res.config = copy.deepcopy(demo_result.config)
    res.config.targets = {"clinic_85": TargetConfig(name="clinic_85", category="clinic", measure="coverage",
                                                    value=0.85),
                          "beds": TargetConfig(name="beds", category="clinic", measure="per_1000", value=6.6)}
    s = suggest_sites(res, "clinic", k=1, method="greedy")
    assert s.cover["target"] == 0.85 and s.cover["target_name"] == "clinic_85"
    assert s.cover["message"].startswith("[clinic_85] Reaching 85% takes")
    assert suggest_sites(demo_result, "clinic", k=1, method="greedy").cover["target"] == 1.0  # none configured
