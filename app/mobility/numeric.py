"""Order statistics of one small array, as numpy computes them, without numpy's general machinery.

``np.median`` and ``np.percentile`` handle any shape, axis and method, and on the few hundred values
of a stay or a leg that handling costs more than the partition itself; the pipeline asks for
thousands of them per person. These give the same values (the same partition and arithmetic as
numpy's default "linear" method; NaN when the values hold a NaN).
"""

from __future__ import annotations

import math

import numpy as np

from app.mobility.types import FloatArray


def median(values: FloatArray) -> float:
    """``float(np.median(values))`` of a 1-D array (NaN when empty)."""
    n = values.size
    if n == 0:
        return math.nan
    half = n // 2
    kth = [half, n - 1] if n % 2 else [half - 1, half, n - 1]
    part = np.partition(values, kth)
    if math.isnan(part[-1]):
        return math.nan
    if n % 2:
        return float(part[half])
    return (float(part[half - 1]) + float(part[half])) / 2


def percentile(values: FloatArray, q: float) -> float:
    """``float(np.percentile(values, q))`` of a non-empty 1-D array (linear interpolation)."""
    n = values.size
    at = (n - 1) * (q / 100)
    if at >= n - 1:
        below = above = -1  # the largest value
    else:
        below = math.floor(at)
        above = below + 1
    part = np.partition(values, sorted({0, n - 1, below % n, above % n}))
    if math.isnan(part[-1]):
        return math.nan
    a, b = float(part[below]), float(part[above])
    gamma = at - below
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
