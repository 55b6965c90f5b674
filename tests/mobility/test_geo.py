"""Distances of a track's steps against PROJ's geodesic on the WGS 84 ellipsoid."""

from __future__ import annotations

import numpy as np
import pytest

from app.mobility.geo import GEOD, LOCAL_STEP_MAX_M, geodesic_steps


def _pairs(rng: np.random.Generator, n: int, max_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` random steps (start, then end, interleaved) of up to `max_m`, and their geodesic lengths."""
    lat0, lon0 = rng.uniform(-80, 80, n), rng.uniform(-180, 180, n)
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360, n), rng.uniform(0, max_m, n))
    lat, lon = np.empty(2 * n), np.empty(2 * n)
    lat[0::2], lat[1::2], lon[0::2], lon[1::2] = lat0, lat1, lon0, lon1
    _, _, true_m = GEOD.inv(lon0, lat0, lon1, lat1)
    return lat, lon, np.asarray(true_m)


@pytest.mark.parametrize("max_m", [5.0, 100.0, LOCAL_STEP_MAX_M])
def test_short_steps_are_within_a_tenth_of_a_millimetre_of_the_geodesic(max_m: float) -> None:
    lat, lon, true_m = _pairs(np.random.default_rng(7), 20_000, max_m)
    steps = geodesic_steps(lat, lon)[0::2]
    assert np.abs(steps - true_m).max() < 1e-4


def test_long_steps_are_the_geodesic_itself() -> None:
    lat, lon, true_m = _pairs(np.random.default_rng(8), 2_000, 500_000.0)
    steps = geodesic_steps(lat, lon)[0::2]
    long = true_m > 2 * LOCAL_STEP_MAX_M
    assert long.sum() > 1_900
    np.testing.assert_allclose(steps[long], true_m[long], rtol=0, atol=1e-6)


def test_a_step_across_the_antimeridian_is_short() -> None:
    steps = geodesic_steps(np.array([46.0, 46.0]), np.array([179.9999, -179.9999]))
    _, _, true_m = GEOD.inv(179.9999, 46.0, -179.9999, 46.0)
    assert steps[0] == pytest.approx(true_m, abs=1e-4) and steps[0] < 20


def test_no_step_and_unknown_positions() -> None:
    assert geodesic_steps(np.array([46.0]), np.array([-1.15])).size == 0
    steps = geodesic_steps(np.array([46.0, np.nan, 46.001]), np.array([-1.15, -1.15, -1.15]))
    assert np.isnan(steps).all()
