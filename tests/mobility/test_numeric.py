"""The pipeline's median and percentile give numpy's values exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.mobility.numeric import median, percentile


def _samples() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = [np.array([3.5]), np.array([2.0, -1.0]), np.array([1.0, 1.0, 1.0, 1.0])]
    for n in (2, 3, 4, 5, 9, 10, 31, 32, 100, 1001):
        out.append(rng.normal(0.0, 1.0, n))
        out.append(rng.integers(0, 4, n).astype(np.float64))  # ties
        out.append(rng.uniform(-1e6, 1e6, n) * 1e-3)
    return out


@pytest.mark.parametrize("values", _samples(), ids=lambda v: f"n{v.size}")
def test_median_is_numpys(values: np.ndarray) -> None:
    before = values.copy()
    assert median(values) == float(np.median(values))
    assert np.array_equal(values, before)  # the input is left alone


@pytest.mark.parametrize("values", _samples(), ids=lambda v: f"n{v.size}")
@pytest.mark.parametrize("q", [0.0, 5.0, 50.0, 85.0, 90.0, 95.0, 99.9, 100.0])
def test_percentile_is_numpys(values: np.ndarray, q: float) -> None:
    assert percentile(values, q) == float(np.percentile(values, q))


def test_nan_and_empty() -> None:
    assert math.isnan(median(np.zeros(0)))
    assert math.isnan(median(np.array([1.0, math.nan, 2.0])))
    assert math.isnan(percentile(np.array([1.0, math.nan, 2.0]), 90.0))
    assert math.isnan(float(np.percentile(np.array([1.0, math.nan, 2.0]), 90.0)))
