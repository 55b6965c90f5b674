"""The pure emissions library: factors against the reference table, policies, profiles, coaching."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.emissions import (
    DEFAULT_POLICY,
    FACTOR_SETS,
    EmissionPolicy,
    FactorOverride,
    Profile,
    apply_profile,
    leg_emission,
    resolve_factor,
)
from app.emissions.coaching import TRANSPORT_BUDGET_KG, TripEnds, alternatives, recurring, trajectory
from app.emissions.summary import LegRecord, TripRecord, summarize
from app.selfdata.attestation import CommuteLeg, CommuteTrip, qualifying_days, render_html, render_pdf

ADEME = FACTOR_SETS["ademe-2026-07"]
DESNZ = FACTOR_SETS["desnz-2025"]

# The reference table (shared EMISSION_FACTORS.md): use, construction, contrails, total, g per km.
REFERENCE = [
    ("walk", 0, 0, 0, 0),
    ("bike", 0, 0.17, 0, 0.17),
    ("ebike", 2.23, 8.72, 0, 10.95),
    ("escooter", 2.0, 22.9, 0, 24.9),
    ("moped", 60.4, 15.9, 0, 76.3),
    ("motorcycle", 140.0, 74.7, 0, 214.7),
    ("car", 110.56, 31.70, 0, 142.26),
    ("ecar", 12.09, 55.28, 0, 67.37),
    ("bus", 113.5, 8.92, 0, 122.42),
    ("coach", 33.14, 4.42, 0, 37.56),
    ("tram", 3.8, 0.48, 0, 4.28),
    ("metro", 4.2, 0.24, 0, 4.44),
    ("train", 22.9, 4.79, 0, 27.69),
    ("hsr", 2.3, 0.63, 0, 2.93),
]


@pytest.mark.parametrize(("mode", "use", "construction", "contrails", "total"), REFERENCE)
def test_each_ademe_factor_and_component_matches_the_reference(
    mode: str, use: float, construction: float, contrails: float, total: float
) -> None:
    factor = ADEME.factor(mode)
    assert factor is not None
    assert factor.components.get("use", 0) == pytest.approx(use)
    assert factor.components.get("construction", 0) == pytest.approx(construction)
    assert factor.g_per_km() == pytest.approx(total, abs=0.01)
    assert factor.g_per_km(["use"]) == pytest.approx(use)
    assert "ADEME" in factor.source


@pytest.mark.parametrize(
    ("km", "slug", "total"),
    [
        (150, "avion-courtcourrier", 224.572),
        (999.9, "avion-courtcourrier", 224.572),
        (1000, "avion-moyencourrier", 184.661),
        (1999.9, "avion-moyencourrier", 184.661),
        (2000, "avion-moyenlongcourrier", 166.794),
        (4999, "avion-moyenlongcourrier", 166.794),
        (5000, "avion-longcourrier", 177.894),
        (12000, "avion-longcourrier", 177.894),
    ],
)
def test_plane_bands_are_chosen_by_great_circle_distance_at_their_edges(
    km: float, slug: str, total: float
) -> None:
    factor = ADEME.factor("plane", km)
    assert factor is not None and factor.slug == slug
    assert factor.g_per_km() == pytest.approx(total, abs=0.001)
    # The band follows the great circle, not the distance flown with its detours.
    result = leg_emission("plane", km * 1000 * 1.1, great_circle_m=km * 1000)
    assert result.co2e_g == pytest.approx(km * 1.1 * total, rel=1e-4)


def test_contrails_count_unless_the_policy_leaves_them_out() -> None:
    without = EmissionPolicy(ADEME, frozenset({"use", "construction"}))
    assert leg_emission("plane", 800_000, policy=without).co2e_g == pytest.approx(
        800 * (123.2 + 0.372), rel=1e-4
    )
    use_only = EmissionPolicy(ADEME, frozenset({"use"}))
    assert leg_emission("car", 10_000, policy=use_only).co2e_g == pytest.approx(1105.6, rel=1e-4)


def test_a_car_is_per_vehicle_and_a_carpool_divides_by_its_occupants() -> None:
    alone = leg_emission("car", 10_000)
    assert alone.co2e_g == pytest.approx(1422.6, abs=0.1)
    assert alone.factor is not None and "ADEME" in alone.factor.source and alone.occupants == 1
    assert leg_emission("carpool", 10_000).co2e_g == pytest.approx(alone.co2e_g / 2, abs=0.01)
    assert leg_emission("carpool", 10_000, occupants=4).co2e_g == pytest.approx(alone.co2e_g / 4, abs=0.01)
    assert leg_emission("car", 10_000, occupants=3).co2e_g == pytest.approx(alone.co2e_g / 3, abs=0.01)
    # A bus is per passenger: occupants change nothing.
    assert leg_emission("bus", 10_000, occupants=40).co2e_g == pytest.approx(1224.2, abs=0.1)


def test_the_desnz_set_and_its_borrowed_figures() -> None:
    policy = EmissionPolicy(DESNZ)
    assert leg_emission("car", 10_000, policy=policy).co2e_g == pytest.approx(1672.5, abs=0.1)
    assert leg_emission("train", 10_000, policy=policy).co2e_g == pytest.approx(354.6, abs=0.1)
    assert resolve_factor("plane", 400, policy=policy).g_per_km == pytest.approx(229.28)  # type: ignore[union-attr]
    assert resolve_factor("plane", 3000, policy=policy).g_per_km == pytest.approx(125.76)  # type: ignore[union-attr]
    ebike = resolve_factor("ebike", policy=policy)
    assert ebike is not None and "no figure" in ebike.source and ebike.g_per_km == pytest.approx(10.95)


def test_a_territory_factor_applies_from_its_date_and_the_latest_wins() -> None:
    old = FactorOverride("a", "bus", 80.0, "passenger-km", "fleet 2025", valid_from_ms=1_700_000_000_000)
    new = FactorOverride("b", "bus", 60.0, "passenger-km", "fleet 2026", valid_from_ms=1_750_000_000_000)
    overrides = (old, new)
    before = leg_emission("bus", 1000, overrides=overrides, at_ms=1_600_000_000_000)
    assert before.co2e_g == pytest.approx(122.42) and before.factor is not None
    assert before.factor.factor_set.startswith("ademe")
    during = leg_emission("bus", 1000, overrides=overrides, at_ms=1_720_000_000_000)
    assert (
        during.co2e_g == pytest.approx(80.0)
        and during.factor is not None
        and during.factor.key == "override:a"
    )
    assert leg_emission("bus", 1000, overrides=overrides, at_ms=1_760_000_000_000).co2e_g == pytest.approx(
        60.0
    )
    assert leg_emission("tram", 1000, overrides=overrides, at_ms=1_760_000_000_000).co2e_g == pytest.approx(
        4.28
    )


def test_the_profile_picks_the_right_factor_for_inferred_modes() -> None:
    assert apply_profile("car", None).mode == "car"
    electric = apply_profile("car", Profile(car_fuel="electric"))
    assert electric.mode == "ecar"
    shared = apply_profile("car", Profile(car_fuel="diesel", car_occupancy=3))
    assert (shared.mode, shared.occupants) == ("carpool", 3)
    hybrid = apply_profile("car", Profile(car_fuel="hybrid"))
    assert (hybrid.mode, hybrid.variant) == ("car", "hybrid")
    assert leg_emission("car", 1000, variant=hybrid.variant).co2e_g == pytest.approx(146.58)
    assert apply_profile("bike", Profile(bike_kind="electric")).mode == "ebike"
    assert apply_profile("bike", Profile(bike_kind="escooter")).mode == "escooter"
    assert apply_profile("bus", Profile(car_fuel="electric", bike_kind="electric")).mode == "bus"


def _emission(mode: str, distance_m: float, gc_m: float, occupants: int | None) -> float:
    return leg_emission(mode, distance_m, great_circle_m=gc_m, occupants=occupants).co2e_g


def test_alternatives_fit_the_distance_and_never_suggest_walking_30_km() -> None:
    long = alternatives(30_000, 28_000, _emission, "en")
    modes = [a.mode for a in long]
    assert "walk" not in modes and "bike" not in modes
    assert {"train", "carpool", "ecar", "car"} <= set(modes)
    short = alternatives(2_000, 1_800, _emission, "fr")
    assert {"walk", "bike", "bus"} <= {a.mode for a in short}
    assert [a.co2e_g for a in short] == sorted(a.co2e_g for a in short)
    car = next(a for a in short if a.mode == "car")
    walk = next(a for a in short if a.mode == "walk")
    assert walk.saving_vs_car_g == pytest.approx(car.co2e_g)
    assert "à pied" in walk.message.lower() and "2,0 km" in walk.message


def test_the_trajectory_projects_the_year_against_the_2050_budget() -> None:
    t = trajectory(2026, 400_000, 100, 365, "en")
    assert t.projected_kg == pytest.approx(1460.0)
    assert t.ratio_to_budget == pytest.approx(1460.0 / TRANSPORT_BUDGET_KG, rel=1e-3)
    assert "2 t" in t.message and "1460 kg" in t.message


def test_recurring_trips_group_the_same_places_and_rank_by_weight() -> None:
    home, work, shop = (46.16, -1.15), (46.145, -1.17), (46.17, -1.12)
    trips = [TripEnds(f"c{i}", *home, *work, 4200, 600, i * 86400.0) for i in range(10)]
    # The same trip seen with its ends 100 m apart.
    trips += [TripEnds(f"d{i}", home[0] + 0.0009, home[1], *work, 4300, 610, i * 86400.0) for i in range(3)]
    trips += [TripEnds(f"s{i}", *home, *shop, 3000, 420, i * 86400.0) for i in range(4)]
    trips += [TripEnds("once", *work, *shop, 5000, 700, 0.0)]
    found = recurring(trips, _emission, days_covered=30, lang="en")
    assert [r.count for r in found] == [13, 4]
    commute = found[0]
    assert commute.best is not None and commute.best.mode in {"walk", "bike", "ebike", "bus", "tram"}
    assert commute.yearly_saving_g > 0
    assert "13 times" in commute.message


def test_summaries_bucket_by_local_period_and_add_up() -> None:
    zone = ZoneInfo("Europe/Paris")
    # 23:30 UTC on 31 March is already 1 April in Paris (summer time).
    late = int(datetime(2026, 3, 31, 23, 30, tzinfo=UTC).timestamp() * 1000)
    early = int(datetime(2026, 3, 15, 8, tzinfo=UTC).timestamp() * 1000)
    trips = [
        TripRecord(early, 5000, 700, "commute", [LegRecord("walk", 500, 0), LegRecord("car", 4500, 700)]),
        TripRecord(late, 3000, 0.5, None, [LegRecord("bike", 3000, 0.5)]),
    ]
    start = datetime(2026, 3, 1, tzinfo=zone)
    end = datetime(2026, 5, 1, tzinfo=zone)
    march, april = summarize(trips, "month", zone, start, end)
    assert (march.total.trips, april.total.trips) == (1, 1)
    assert march.by_mode["car"].trips == 1 and march.by_mode["walk"].trips == 0
    assert sum(t.co2e_g for t in march.by_mode.values()) == pytest.approx(march.total.co2e_g)
    assert march.by_purpose["commute"].co2e_g == 700 and april.by_purpose["unlabelled"].trips == 1
    weeks = summarize(trips, "week", zone, start, end)
    assert all(w.start.weekday() == 0 for w in weeks)
    assert sum(w.total.trips for w in weeks) == 2


def test_the_allowance_counts_days_of_qualifying_commutes() -> None:
    zone = ZoneInfo("Europe/Paris")

    def at(day: int, hour: int) -> int:
        return int(datetime(2026, 3, day, hour, tzinfo=zone).timestamp() * 1000)

    trips = [
        CommuteTrip(at(2, 8), "commute", [CommuteLeg("walk", 400), CommuteLeg("tram", 3000)]),
        CommuteTrip(at(2, 18), "commute", [CommuteLeg("bike", 3500)]),
        CommuteTrip(at(3, 8), "commute", [CommuteLeg("car", 9000), CommuteLeg("walk", 100)]),
        CommuteTrip(at(4, 8), "leisure", [CommuteLeg("bike", 3000)]),
        CommuteTrip(at(5, 8), "commute", [CommuteLeg("car", 4000), CommuteLeg("train", 20000)]),
    ]
    days = qualifying_days(trips, 2026, zone)
    assert [(d.day, d.modes) for d in days] == [
        (date(2026, 3, 2), ("bike", "tram")),
        (date(2026, 3, 5), ("train",)),
    ]
    page = render_html(days, 2026, "id-123", date(2026, 12, 1), "fr")
    assert "2026-03-02" in page and "2026-03-05" in page and "Nombre de jours : 2" in page
    pdf = render_pdf(days, 2026, "id-123", date(2026, 12, 1), "en")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_the_default_policy_counts_every_component() -> None:
    assert DEFAULT_POLICY.factor_set is ADEME
    assert DEFAULT_POLICY.label == "ademe-2026-07:use+construction+contrails"
