"""The arithmetic of differential privacy (app/statistics/privacy.py): bounds per person-month, integer
noise from OpenDP on 64 bits, the privacy map checked."""

from __future__ import annotations

import numpy as np
import pytest

from app.statistics import privacy
from app.statistics.disclosure import Caps

CAPS = Caps()


def test_contributions_are_bounded_per_person_and_month() -> None:
    # Alice: 120 trips in November (over two cells), 30 in December; Bob: 10 in November.
    rows = [("a", 202311, "alice", 80.0, 0.0, 0.0), ("b", 202311, "alice", 40.0, 0.0, 0.0),
            ("a", 202312, "alice", 30.0, 0.0, 0.0), ("b", 202311, "bob", 10.0, 0.0, 0.0)]  # fmt: skip
    bounded = privacy.bound(["a", "b", "outside"], rows, CAPS)
    trips = bounded.values["trips"] / privacy.TRIP_UNITS
    # November's 120 scaled to the cap of 60 (40 + 20), December's 30 untouched.
    assert trips.tolist() == [pytest.approx(40 + 30), pytest.approx(20 + 10), 0]
    assert bounded.values["people"].tolist() == [1, 2, 0]
    assert bounded.people == {"alice", "bob"}
    # A cell outside the question's cells counts under `outside`; figures never below 0 or not finite.
    odd = privacy.bound(["x", "outside"], [("elsewhere", 202311, "c", 2.0, float("nan"), -5.0)], CAPS)
    assert odd.values["trips"].tolist() == [0, 2000] and odd.values["co2e_g"].tolist() == [0, 0]


def test_one_person_month_moves_a_measure_by_at_most_its_cap() -> None:
    many = [(f"cell{i}", 202311, "alice", 10.0, 100_000.0, 50_000.0) for i in range(30)]
    bounded = privacy.bound([f"cell{i}" for i in range(30)], many, CAPS)
    (trips, distance, co2e, _) = privacy.measures_for(CAPS, ("trips", "passenger_km", "co2e_g", "people"))
    assert int(bounded.values["trips"].sum()) <= trips.sensitivity
    assert int(bounded.values["passenger_km"].sum()) <= distance.sensitivity
    assert int(bounded.values["co2e_g"].sum()) <= co2e.sensitivity


def test_noise_is_integer_on_64_bits_and_spends_no_more_than_its_share() -> None:
    values = np.array([7_431_367_353, 0, 12], dtype=np.int64)  # a large territory's month of CO2e in grams
    noisy = privacy.noisy(values, sensitivity=200_000, epsilon=0.25)
    assert noisy.dtype == np.int64 and noisy.shape == (3,)
    assert abs(int(noisy[0]) - 7_431_367_353) < 200_000 / 0.25 * 40  # e^-40: never by chance
    assert privacy.scale_for(200_000, 0.25) == 800_000.0
    assert privacy.margin_95(10.0) == pytest.approx(10.0 * np.log(20))
    assert privacy.margin_95(10.0, 8) == pytest.approx(1.96 * 10.0 * 4.0)
    assert privacy.noisy(np.array([], dtype=np.int64), 1, 1.0).size == 0
