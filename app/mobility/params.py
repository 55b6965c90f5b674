"""Every tunable threshold of the pipeline, with its reason or source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineParams:
    """Thresholds of the mobility pipeline. Defaults are documented field by field.

    Cleaning
        max_accuracy_m: points whose reported accuracy is at or above this are dropped. e-mission's
            phones drop >= 200 m fixes (docs/research.md, "Cleaning"); we keep the same bound so that phone data and
            server-side cleaning agree. Default 200.
        max_speed_mps: any point reached faster than this from both neighbours is removed
            (e-mission's jump smoothing, 340 m/s, about the speed of sound). Default 340.
        spike_min_speed_mps: a point (or a burst of up to 3) is a spike when it is reached and left
            faster than this *and* much faster than the direct hop between its neighbours.
            Default 40 (above any road or city rail speed; trains and planes do not zig-zag).
        spike_ratio: how much faster than the direct hop the detour must be. Default 3.
    Stays (Li et al. 2008 stay points, adapted to duty-cycled phones)
        stay_radius_m: a stay is a period whose fixes lie within this distance of its last fix
            (see :func:`app.mobility.stays.dwell_windows`). Default 100 (Li et al. 2008 and
            e-mission Android: 5 min within 100 m).
        stay_min_duration_s: minimum dwell. Default 300 (Li et al. 2008, trackintel, e-mission Android).
        stay_inlier_share: share of a window's points that must be within ``stay_radius_m``; the
            rest are taken as bad fixes (phones report network fixes hundreds of metres off while
            still). Default 0.9 (one bad fix in a 5-minute window at 30 s sampling).
        stay_start_at_window_middle: start a stay (end the trip) at the middle of its first dwell
            window, as e-mission does, rather than at the first point near the stay's centre.
            Default True.
        gap_break_s / gap_break_speed_mps: a gap longer than gap_break_s whose implied speed is
            under gap_break_speed_mps is untracked time, not movement: it ends the trip before it and
            the next trip starts after it. Defaults 600 s and 0.83 m/s (e-mission: gap over 10 min
            with no motion ends a trip; untracked time when slower than 3 km/h).
        max_gap_s: any gap longer than this ends a trip. Default 12 h (e-mission).
        stay_split_places: a stay is a chain of dwell windows that share fixes and whose anchors (the
            fix each window is measured from) lie within ``stay_radius_m`` of one another; windows that
            merely touch, or whose anchors jump further, are two places with a trip between them, however
            short the silence between. Default True. Without it, the union of all dwell windows forms
            one stay, which swallowed short walks between two nearby places on the dev phone days
            (docs/research.md, "Trips on days not seen").
        trip_across_silence / untracked_jump_m: a phone that wakes after a silent gap (a stay it slept
            through) some way from where it fell silent has made a trip whose start lies in the gap: the
            jump from the last fix counts towards the trip's ``min_trip_distance_m``, as e-mission counts
            it by moving the trip's start back to the last place. A jump longer than ``untracked_jump_m``
            across such a slow gap is untracked time instead (e-mission: 2.5 km at under 3 km/h).
            Defaults True and 2500. See :func:`app.mobility.stays.move_extent`.
        session_break_s: a silence longer than this (no fix, no moving hint) separates tracking
            sessions; a dwell is never measured across it, because a duty-cycled phone (or a
            logger switched on) starts a session when the user sets off. Default 600 (e-mission's
            10-minute gap). 0 disables.
        min_trip_distance_m: trips whose points all fit within this distance are dropped.
            Default 100 (e-mission drops trips under 100 m).
        trip_timeout_s: with ``now_s`` given, a trip whose last point is older than this is closed
            even when no stay was seen after it (phones stop recording once still). Default 1800.
        departure_*_speed_mps / departure_lead_max_s: a trip whose first fix follows a silent gap
            started before that fix: a duty-cycled phone only wakes once the user has left its
            geofence (about 100 m, e-mission). The start is moved back by the distance from the
            last fix to the first one at a typical speed of the first leg's mode: walking 1.4 m/s
            (5 km/h), cycling 4 m/s; vehicle legs: the geofence's 100 m on foot, then 10 m/s; at
            most half the gap and 600 s. See :func:`app.mobility.pipeline.departure_lead`.
    Legs and modes (Zheng et al. 2008 walk-based change points)
        speed_half_window_s: speeds are measured over +- this around each point so 1 s logger noise
            does not look like motion. Default 10.
        gap_s: steps longer than this are gaps (no GPS, e.g. underground). Default 60.
        long_gap_s: a step without fix at least this long is a part of its own, classified by its
            speed (a vehicle change can hide in it; underground rail). Default 300.
        walk_speed_max_mps: points slower than this may be walking (Zheng et al. 2008 use about
            2.5 m/s; e-mission calls sections <= 1.7 m/s median walking). Default 2.0 (7.2 km/h, a
            brisk walk; GeoLife walks have a median of 1.4 m/s).
        min_segment_s: speed-regime runs shorter than this merge into their neighbours. Default 60.
        min_walk_leg_s / min_walk_leg_m: a slow run at the start or end of a trip must last and
            move this much to be a walk leg; shorter ones join the vehicle leg beside them (a stop,
            or the short walk to and from the vehicle). Defaults 300 s, 60 m. In GeoLife's labels
            (users held out in turn) a slow run of under 5 minutes at a trip's end was labelled
            with the vehicle 45 times as often as a walk (2,200 points against 49): people count
            the few minutes to and from the stop as part of the ride, and the CO2 of a few hundred
            metres walked is what a shorter vehicle leg would leave out anyway.
        min_leg_s: legs shorter than this merge into the neighbour. Default 60.
        walk_pace_min_mps: lower end of walking pace (slow walkers, crowds). Default 0.7.
        walk_min_pace_share / walk_max_stop_share: a slow part at the start or end of a trip is a
            walk when at least this share of its time is at walking pace and at most this share
            stopped. Defaults 0.3 and 0.2 (lights take a walk well under a fifth of its time;
            a vehicle queueing or waiting at a stop spends more).
        transfer_walk_min_s / transfer_min_pace_share / transfer_max_stop_share: a slow part
            between two vehicle parts is a walk (a transfer) only when it lasts this long, at a
            steady walking pace, hardly stopping; otherwise it is a queue or a stop of the vehicle.
            Defaults 240 s, 0.7 and 0.1. On GeoLife's labelled legs every slow part between two
            fast parts that was not a walk had a stop share or pace share outside these bounds far
            more often than real transfers.
        stop_speed_mps: a point slower than this is stopped (stop rate, Zheng et al. 2008). Default 0.6.
        heading_change_deg: a turn sharper than this counts for the heading change rate
            (Zheng et al. 2008 report about 19 degrees). Default 19.
        simplify_tolerance_m: Douglas-Peucker tolerance for leg geometry. Default 5.
    """

    max_accuracy_m: float = 200.0
    max_speed_mps: float = 340.0
    spike_min_speed_mps: float = 40.0
    spike_ratio: float = 3.0

    stay_radius_m: float = 100.0
    stay_min_duration_s: float = 300.0
    stay_start_at_window_middle: bool = True
    stay_inlier_share: float = 0.9
    gap_break_s: float = 600.0
    gap_break_speed_mps: float = 0.83
    max_gap_s: float = 12 * 3600.0
    stay_split_places: bool = True
    trip_across_silence: bool = True
    untracked_jump_m: float = 2500.0
    session_break_s: float = 600.0
    min_trip_distance_m: float = 100.0
    trip_timeout_s: float = 1800.0
    departure_walk_speed_mps: float = 1.4
    departure_bike_speed_mps: float = 4.0
    departure_vehicle_speed_mps: float = 10.0
    departure_lead_max_s: float = 600.0

    speed_half_window_s: float = 10.0
    gap_s: float = 60.0
    long_gap_s: float = 300.0
    walk_speed_max_mps: float = 2.0
    min_segment_s: float = 60.0
    min_walk_leg_s: float = 300.0
    min_walk_leg_m: float = 60.0
    min_leg_s: float = 60.0
    walk_pace_min_mps: float = 0.7
    walk_min_pace_share: float = 0.3
    walk_max_stop_share: float = 0.2
    transfer_walk_min_s: float = 240.0
    transfer_min_pace_share: float = 0.7
    transfer_max_stop_share: float = 0.1
    stop_speed_mps: float = 0.6
    heading_change_deg: float = 19.0
    simplify_tolerance_m: float = 5.0


DEFAULT_PARAMS = PipelineParams()
