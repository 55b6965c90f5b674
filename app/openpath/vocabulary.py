"""The OpenPATH app's label values and ours, in one table each way (documented in docs/openpath.md).

The values are those of the app's default label options (e-mission-phone
``www/json/label-options.json.sample``: MODE, PURPOSE, REPLACED_MODE) and of label options deployments
commonly add. A value missing here is kept as the person sent it and reported (status
``unknown-label``); it changes nothing in their trips.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModeLabel:
    """What an OpenPATH mode value means here: one of our modes, and the car's occupants if it says."""

    mode: str
    occupants: int | None = None


#: ``not_a_trip``: the person says the trip did not happen (GPS drift, a stay cut in two).
NOT_A_TRIP = "not_a_trip"

#: OpenPATH mode value -> our mode (API.md's modes).
MODE_LABELS: dict[str, ModeLabel] = {
    "walk": ModeLabel("walk"),
    "run": ModeLabel("run"),
    "bike": ModeLabel("bike"),
    "bikeshare": ModeLabel("bike"),
    "pilot_ebike": ModeLabel("ebike"),
    "e-bike": ModeLabel("ebike"),
    "e_bike": ModeLabel("ebike"),
    "ebike": ModeLabel("ebike"),
    "scootershare": ModeLabel("escooter"),
    "e-scooter": ModeLabel("escooter"),
    "e_scooter": ModeLabel("escooter"),
    "moped": ModeLabel("moped"),
    "motorcycle": ModeLabel("motorcycle"),
    "drove_alone": ModeLabel("car", 1),
    "hybrid_drove_alone": ModeLabel("car", 1),
    "shared_ride": ModeLabel("carpool", 2),
    "hybrid_shared_ride": ModeLabel("carpool", 2),
    "e_car_drove_alone": ModeLabel("ecar", 1),
    "e_car_shared_ride": ModeLabel("ecar", 2),
    "car": ModeLabel("car"),
    "taxi": ModeLabel("car", 1),
    "bus": ModeLabel("bus"),
    "free_shuttle": ModeLabel("bus"),
    "coach": ModeLabel("coach"),
    "tram": ModeLabel("tram"),
    "light_rail": ModeLabel("tram"),
    "subway": ModeLabel("metro"),
    "metro": ModeLabel("metro"),
    "train": ModeLabel("train"),
    "air": ModeLabel("plane"),
    "air_or_hsr": ModeLabel("plane"),
    "plane": ModeLabel("plane"),
    "ferry": ModeLabel("boat"),
    "boat": ModeLabel("boat"),
}

#: Our mode -> the OpenPATH value the app shows for it (inferred labels, metrics, sections).
OPENPATH_MODE: dict[str, str] = {
    "walk": "walk",
    "run": "walk",
    "bike": "bike",
    "ebike": "e-bike",
    "escooter": "scootershare",
    "moped": "moped",
    "motorcycle": "motorcycle",
    "car": "drove_alone",
    "ecar": "e_car_drove_alone",
    "carpool": "shared_ride",
    "bus": "bus",
    "coach": "bus",
    "tram": "train",
    "metro": "train",
    "train": "train",
    "hsr": "train",
    "plane": "air",
    "boat": "ferry",
    "unknown": "other",
}

#: Our mode -> the app's base mode (its colours and icons; e-mission-common ``base_modes``).
BASE_MODE: dict[str, str] = {
    "walk": "WALKING",
    "run": "WALKING",
    "bike": "BICYCLING",
    "ebike": "E_BIKE",
    "escooter": "E_SCOOTER",
    "moped": "MOPED",
    "motorcycle": "MOPED",
    "car": "CAR",
    "ecar": "E_CAR",
    "carpool": "CAR",
    "bus": "BUS",
    "coach": "BUS",
    "tram": "LIGHT_RAIL",
    "metro": "SUBWAY",
    "train": "TRAIN",
    "hsr": "TRAIN",
    "plane": "AIR",
    "boat": "FERRY",
    "unknown": "UNKNOWN",
}

#: OpenPATH purpose value -> our purpose (API.md: commute, work, school, shopping, leisure, visit, other).
#: ``work`` is the trip to the workplace (our commute); ``at_work`` a trip made while working.
PURPOSE_LABELS: dict[str, str] = {
    "work": "commute",
    "commute": "commute",
    "at_work": "work",
    "school": "school",
    "shopping": "shopping",
    "meal": "leisure",
    "access_recreation": "leisure",
    "exercise": "leisure",
    "entertainment": "leisure",
    "leisure": "leisure",
    "pick_drop_person": "visit",
    "visit": "visit",
    "home": "other",
    "transit_transfer": "other",
    "pick_drop_item": "other",
    "personal_med": "other",
    "religious": "other",
    "other": "other",
}

#: Our purpose -> the OpenPATH value shown for it.
OPENPATH_PURPOSE: dict[str, str] = {
    "commute": "work",
    "work": "at_work",
    "school": "school",
    "shopping": "shopping",
    "leisure": "entertainment",
    "visit": "pick_drop_person",
    "other": "other",
}

MODE_KEY = "manual/mode_confirm"
PURPOSE_KEY = "manual/purpose_confirm"
REPLACED_MODE_KEY = "manual/replaced_mode"
#: Keys of the app's user inputs, kept and served back. Mode and purpose labels change the trip; the
#: others (replaced mode, ENKETO surveys, notes) are kept for the person and the diary only.
INPUT_KEYS: tuple[str, ...] = (
    MODE_KEY,
    PURPOSE_KEY,
    REPLACED_MODE_KEY,
    "manual/trip_user_input",
    "manual/trip_addition_input",
    "manual/place_user_input",
    "manual/place_addition_input",
    "manual/demographic_survey",
)
