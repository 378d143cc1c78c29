"""2SFCA / E2SFCA over network travel times, validated against PySAL's ``access`` package."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from access15.catchment import fca, step_weights, travel_matrix
from access15.routing import nearest_facility
from access15.snap import snap_points


@pytest.fixture(scope="module")
def clinic_matrix(demo_result):
    """The demo's clinics (capacity = real healthcare counts) and its populated demand cells."""
    net = demo_result.network
    fac = demo_result.facilities[demo_result.facilities["category"] == "clinic"].reset_index(drop=True)
    dem = demo_result.demand[demo_result.demand["weight"] > 0].reset_index(drop=True)
    fs = snap_points(net, shapely.get_coordinates(fac.geometry.values), 500.0)
    ds = snap_points(net, shapely.get_coordinates(dem.geometry.values), 500.0)
    speed = demo_result.config.speed_m_per_min
    m = travel_matrix(net, fs, ds, 15 * speed)
    return net, fac, dem, fs, ds, m, speed


def test_matrix_agrees_with_nearest_facility(clinic_matrix):
    net, fac, dem, fs, ds, m, speed = clinic_matrix
    assert len(m.fac) > 1000
    best = np.full(m.n_dem, np.inf)
    np.minimum.at(best, m.dem, m.dist_m)
    near = nearest_facility(net, fs, ds, 15 * speed).dist_m
    np.testing.assert_array_equal(np.isinf(best), np.isinf(near))
    ok = np.isfinite(near)
    np.testing.assert_allclose(best[ok], near[ok], rtol=0, atol=1e-6)


@pytest.mark.parametrize("enhanced", [False, True])
def test_fca_equals_pysal_access(clinic_matrix, enhanced):
    from access import Access, weights

    net, fac, dem, fs, ds, m, speed = clinic_matrix
    minutes = m.dist_m / speed
    supply = fac["capacity"].to_numpy(float)
    pop = dem["weight"].to_numpy(float)
    ours = fca(m, minutes, supply, pop, 15.0, enhanced=enhanced)

    demand_df = pd.DataFrame({"pop": pop}, index=pd.Index(np.arange(m.n_dem), name="geoid"))
    supply_df = pd.DataFrame({"cap": supply}, index=pd.Index(np.arange(m.n_fac), name="geoid"))
    cost_df = pd.DataFrame({"origin": m.dem, "dest": m.fac, "minutes": minutes})
    acc = Access(demand_df=demand_df, demand_index=True, demand_value="pop", supply_df=supply_df,
                 supply_index=True, supply_value="cap", cost_df=cost_df, cost_origin="origin", cost_dest="dest",
                 cost_name="minutes")
    if enhanced:
        fn = weights.step_fn({5.0: 1.0, 10.0: 0.68, 15.0: 0.22})
        theirs = acc.enhanced_two_stage_fca(name="e2sfca", max_cost=15.0, weight_fn=fn)["e2sfca_cap"]
    else:
        theirs = acc.two_stage_fca(name="2sfca", max_cost=15.0)["2sfca_cap"]
    theirs = theirs.reindex(np.arange(m.n_dem)).to_numpy()
    reached = np.isfinite(theirs)
    assert reached.sum() > 1000
    np.testing.assert_allclose(ours[reached], theirs[reached], rtol=1e-12, atol=1e-15)
    assert (ours[~reached] == 0).all()  # PySAL leaves unreached points empty; we report zero supply
    # the 2SFCA identity: residents x accessibility sums to the supply of facilities that serve anyone
    served = np.bincount(m.fac[minutes <= 15.0], minlength=m.n_fac) > 0
    if not enhanced:
        assert (ours * pop).sum() == pytest.approx(supply[served].sum(), rel=1e-9)


def test_step_weights():
    np.testing.assert_array_equal(step_weights(np.array([0, 5, 5.01, 10, 10.5, 15, 15.1]), 15.0),
                                  [1, 1, 0.68, 0.68, 0.22, 0.22, 0])
