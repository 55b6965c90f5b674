// A small client written against the types openapi-typescript generates from the served contract
// (tests/contract/test_typescript_client.py compiles it with `tsc --strict`). Each `@ts-expect-error`
// is a mistake the contract must catch: if a type were loose, the line would compile and tsc would fail.
import type { components, operations, paths } from "./api";

type TripList = components["schemas"]["TripList"];
type Trip = components["schemas"]["TripOut"];
type Leg = components["schemas"]["LegOut"];
type Problem = components["schemas"]["Problem"];
type Mode = Leg["mode"];

// The answer of GET /v1/me/trips, reached through its operation id and through its path.
type TripsAnswer = operations["trips-list"]["responses"][200]["content"]["application/json"];
type SameAnswer = paths["/v1/me/trips"]["get"]["responses"][200]["content"]["application/json"];
const sameAnswer: SameAnswer = { trips: [], next_cursor: null };
const asTripsAnswer: TripsAnswer = sameAnswer;

/** The cursor of the next page, null on the last one. */
export function nextCursor(page: TripList): string | null {
  return page.next_cursor;
}

/** The distance of a trip travelled in each mode, in metres. */
export function distanceByMode(trip: Trip): Map<Mode, number> {
  const totals = new Map<Mode, number>();
  for (const leg of trip.legs) {
    totals.set(leg.mode, (totals.get(leg.mode) ?? 0) + leg.distance_m);
  }
  return totals;
}

/** Which legs the person corrected, and when they started (an RFC 3339 instant). */
export function corrected(trip: Trip): string[] {
  return trip.legs.filter((leg) => leg.mode_source === "user").map((leg) => leg.start_time);
}

/** One line for a problem document, with the fields a validation error names. */
export function describe(problem: Problem): string {
  const fields = (problem.errors ?? []).map((error) => error.field).join(", ");
  return `${problem.status} ${problem.title}: ${problem.detail}${fields ? ` (${fields})` : ""}`;
}

// The query of GET /v1/me/trips and the body of PATCH /v1/me/trips/{trip_id}/legs/{leg_id}.
const query: operations["trips-list"]["parameters"]["query"] = { limit: 50, cursor: "opaque" };
const correction: operations["trips-correct-leg"]["requestBody"]["content"]["application/json"] = {
  mode: "carpool",
  occupants: 3,
};
const unauthorized: operations["trips-list"]["responses"][401]["content"]["application/problem+json"] = {
  type: "/problems/unauthorized",
  title: "Unauthorized",
  status: 401,
  detail: "This endpoint needs `Authorization: Bearer <token>`.",
  errors: null,
};

// The operator's side: a zone's shape and a release's parameters are typed, not `unknown`.
type ZoneFeature = components["schemas"]["ZoneMapFeature"];
export function firstPosition(feature: ZoneFeature): number[] | undefined {
  const geometry = feature.geometry;
  if (geometry === null) return undefined;
  return geometry.type === "Polygon" ? geometry.coordinates[0]?.[0] : geometry.coordinates[0]?.[0]?.[0];
}
export function releaseRange(entry: components["schemas"]["ReleaseEntry"]): string {
  return `${entry.params.from} to ${entry.params.to}, ε ${entry.params.epsilon}`;
}

// @ts-expect-error: "hovercraft" is not a mode of the contract
const notAMode: Mode = "hovercraft";
// @ts-expect-error: a trip list always says its next cursor, null at the end
const noCursor: TripList = { trips: [] };
// @ts-expect-error: a leg's distance is a number of metres
const textDistance: Leg["distance_m"] = "980 m";
// @ts-expect-error: an operation id that the contract does not have
type Missing = operations["list_trips_v1_me_trips_get"];

export const used = [asTripsAnswer, query, correction, unauthorized, notAMode, noCursor, textDistance];
export type { Missing };
