"""Table models. Alembic migrations (`migrations/`) create the schema; these mirror them, and a test
checks that the two never drift apart.

Raw points are the bulk of the data (a territory of 20,000 people sending 3,000 points a day is 60 million
rows a day), so their table is narrow: a composite primary key `(user_id, ts_ms)` is at once the
deduplication rule (a point with the same user and time is the same point) and the index behind the
pipeline's one query, "this user's points after time T". On SQLite the table is stored WITHOUT ROWID, so
rows sit in that key's order.

Every table that holds a person's data carries the person's id, `user_id`, first in its primary key and in
each of its unique constraints, and references another of the person's tables through `(user_id, ...)`:
the person is the unit the store can be split by (docs/scaling.md), and every row of theirs is found from
their id alone. The other tables are the territory's (factors, zones, transit networks, operators,
publications, the privacy ledger) and the two directories of secrets looked up before anyone is known
(`api_tokens`, `openpath_opcodes`). tests/test_schema_keys.py holds the lists and checks the rule.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as an aware UTC datetime.

    SQLite has no time zone type and hands back naive values; this keeps "UTC inside" true on both stores.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    """A pseudonymous person: no name, no e-mail, only an id and what their phone sends."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raw points are deleted this many days after they were taken into trips (0 to 365, the person's choice).
    point_retention_days: Mapped[int] = mapped_column(sa.SmallInteger, default=30, server_default="30")
    # The legs the person confirmed or corrected teach the inference of their later legs
    # (app/mobility/personal.py) unless they switch it off.
    learn_from_confirmations: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class Operator(Base):
    """A mobility operator of the territory: sees aggregates of consenting people, never one person."""

    __tablename__ = "operators"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "admin" publishes what the territory computes with (transit feeds, emission factors, zone sets);
    # "analyst" reads statistics only.
    role: Mapped[str] = mapped_column(sa.String(16), default="admin", server_default="admin")


class OperatorAction(Base):
    """A change an operator made to what the territory computes with: who, when, what. Kept when the
    operator is gone (the name stays), so the record of who changed the factors or the network holds."""

    __tablename__ = "operator_actions"
    __table_args__ = (sa.Index("ix_operator_actions_at", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("operators.id", ondelete="SET NULL")
    )
    operator_name: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(40))  # transit_feed.publish, factor.add, zone_set.delete...
    target: Mapped[str] = mapped_column(sa.String(200))  # the feed's name, the factor's mode, the zone set's
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ApiToken(Base):
    """A bearer token: one per device for a person, one per tool for an operator.

    Only the SHA-256 of the secret is kept. The secret is 32 random bytes, far beyond guessing, so a slow
    password hash would add nothing but latency on every request; a stolen table reveals no usable token.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'user' AND user_id IS NOT NULL AND operator_id IS NULL)"
            " OR (role = 'operator' AND operator_id IS NOT NULL AND user_id IS NULL)",
            name="one_subject",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    device_label: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LocationPoint(Base):
    """A location as the phone sent it. Implausible points are kept as sent; the pipeline's cleaning
    leaves them out, so a better cleaning later can still use them."""

    __tablename__ = "location_points"
    __table_args__ = ({"sqlite_with_rowid": False},)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Double)
    lon: Mapped[float] = mapped_column(sa.Double)
    accuracy_m: Mapped[float | None] = mapped_column(sa.REAL)
    altitude_m: Mapped[float | None] = mapped_column(sa.REAL)
    speed_mps: Mapped[float | None] = mapped_column(sa.REAL)
    heading_deg: Mapped[float | None] = mapped_column(sa.REAL)


class MotionActivity(Base):
    """The phone's motion-activity hint at a time: evidence for the mode, not truth."""

    __tablename__ = "motion_activities"
    __table_args__ = ({"sqlite_with_rowid": False},)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    activity_type: Mapped[str] = mapped_column(sa.String(16))
    confidence: Mapped[int | None] = mapped_column(sa.SmallInteger)


class PipelineState(Base):
    """Per person: how much is waiting for the pipeline and where it has got to.

    Ingest adds its accepted count to `pending_points` and lowers `dirty_from_ms` to the earliest time it
    touched, in the same transaction as the points, so "what is pending" is one row read, never a scan.
    """

    __tablename__ = "pipeline_states"
    # The people with work waiting (app/pipeline/repository.py `has_work`), oldest change first: the
    # workers' claims and the backlog metrics read these few rows, never everyone's.
    __table_args__ = (
        sa.Index(
            "ix_pipeline_states_work",
            "updated_at",
            postgresql_where=sa.text("pending_points > 0 OR dirty_from_ms IS NOT NULL"),
            sqlite_where=sa.text("pending_points > 0 OR dirty_from_ms IS NOT NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    pending_points: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    dirty_from_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    processed_until_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where the next run must start reading again: the start of the still-open tail (open trip or stay).
    resume_from_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    # A worker's claim on this person. It expires, so a killed worker's claim passes to another.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the claiming worker took on: the pending count it will subtract and where its work starts.
    claimed_points: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    claimed_from_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Raw points before this time were deleted by the retention purge; trips before it are never rebuilt.
    purged_until_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Consecutive failed runs on this person's points (0 after a success). While it is above 0 the lease
    # is held until the next attempt (`lease_expires_at`), backing off so one bad history cannot keep a
    # worker busy; `last_error` names the exception class only, never data.
    failures: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(120))


class Trip(Base):
    """A movement between two stays, as the pipeline found it (or as the person corrected it)."""

    __tablename__ = "trips"
    __table_args__ = (sa.Index("ix_trips_user_id_start_ts_ms", "user_id", "start_ts_ms"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(sa.String(8))  # open | closed
    start_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    end_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    start_lat: Mapped[float] = mapped_column(sa.Double)
    start_lon: Mapped[float] = mapped_column(sa.Double)
    end_lat: Mapped[float] = mapped_column(sa.Double)
    end_lon: Mapped[float] = mapped_column(sa.Double)
    distance_m: Mapped[float] = mapped_column(sa.Double)
    co2e_g: Mapped[float] = mapped_column(sa.Double)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # commute, work, school, shopping, leisure, visit, other; `user` when labelled, `inherited` when
    # taken from an earlier labelled trip between the same places.
    purpose: Mapped[str | None] = mapped_column(sa.String(16))
    purpose_source: Mapped[str | None] = mapped_column(sa.String(16))
    # What an operator's aggregates may use: the trip with its ends inside the person's privacy zones cut
    # off. Null when the whole trip lies inside a zone.
    shared_start_lat: Mapped[float | None] = mapped_column(sa.Double)
    shared_start_lon: Mapped[float | None] = mapped_column(sa.Double)
    shared_end_lat: Mapped[float | None] = mapped_column(sa.Double)
    shared_end_lon: Mapped[float | None] = mapped_column(sa.Double)
    shared_distance_m: Mapped[float | None] = mapped_column(sa.Double)


class Leg(Base):
    """A part of a trip in one transport mode.

    `inferred_mode` keeps what the pipeline concluded even after the person corrects `mode`, so a later
    reprocessing can tell a correction (never overwritten) from its own earlier guess.
    """

    __tablename__ = "legs"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["user_id", "trip_id"],
            ["trips.user_id", "trips.id"],
            ondelete="CASCADE",
            name="fk_legs_trip_trips",
        ),
        sa.Index("ix_legs_user_id_trip_id_seq", "user_id", "trip_id", "seq"),
        sa.Index("ix_legs_user_id_start_ts_ms", "user_id", "start_ts_ms"),
        sa.Index("ix_legs_user_id_mode_source_start_ts_ms", "user_id", "mode_source", "start_ts_ms"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    trip_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    seq: Mapped[int] = mapped_column(sa.Integer)
    start_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    end_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    mode: Mapped[str] = mapped_column(sa.String(16))
    mode_source: Mapped[str] = mapped_column(sa.String(16))  # inferred | activity | user
    inferred_mode: Mapped[str] = mapped_column(sa.String(16))
    confidence: Mapped[float] = mapped_column(sa.Double)
    occupants: Mapped[int | None] = mapped_column(sa.SmallInteger)
    distance_m: Mapped[float] = mapped_column(sa.Double)
    great_circle_m: Mapped[float] = mapped_column(sa.Double)
    co2e_g: Mapped[float] = mapped_column(sa.Double)
    factor_set: Mapped[str] = mapped_column(sa.String(64))
    factor_g_per_km: Mapped[float] = mapped_column(sa.Double)
    # Which factor of the set (or which territory override) gave the figure, and its unit.
    factor_key: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    factor_unit: Mapped[str] = mapped_column(
        sa.String(16), default="passenger-km", server_default="passenger-km"
    )
    point_count: Mapped[int] = mapped_column(sa.Integer)
    geometry: Mapped[list[list[float]]] = mapped_column(sa.JSON)  # [[lon, lat], ...], simplified
    # Why the pipeline chose its mode: rules with their figures (app/mobility/modes.py, docs/modes.md).
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON(none_as_null=True), default=None)
    # The motion features the person's confirmations are compared on (app/mobility/personal.py).
    features: Mapped[dict[str, float] | None] = mapped_column(sa.JSON(none_as_null=True), default=None)


class UserProfile(Base):
    """What the person declared about their vehicles; it picks the right factor for inferred legs."""

    __tablename__ = "profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    car_fuel: Mapped[str | None] = mapped_column(sa.String(16))
    car_occupancy: Mapped[int | None] = mapped_column(sa.SmallInteger)
    bike_kind: Mapped[str | None] = mapped_column(sa.String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TerritoryFactor(Base):
    """An operator's own factor for a mode, in force from a time on. Never deleted, only superseded by a
    later one, so every figure computed with it stays reproducible."""

    __tablename__ = "territory_factors"
    __table_args__ = (sa.Index("ix_territory_factors_mode_valid_from_ms", "mode", "valid_from_ms"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    mode: Mapped[str] = mapped_column(sa.String(16))
    variant: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    g_per_km: Mapped[float] = mapped_column(sa.Double)
    unit: Mapped[str] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(300))
    valid_from_ms: Mapped[int] = mapped_column(sa.BigInteger)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("operators.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """The current answer of a person for one purpose of use. Absent means never granted."""

    __tablename__ = "consents"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    granted: Mapped[bool] = mapped_column(sa.Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(Base):
    """Append-only history of consent changes, each with the receipt given to the person."""

    __tablename__ = "consent_events"
    __table_args__ = (sa.Index("ix_consent_events_user_id_at", "user_id", "at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(sa.String(32))
    granted: Mapped[bool] = mapped_column(sa.Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    receipt: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class PrivacyZone(Base):
    """A place the person keeps to themselves (home, work): trip ends inside it never reach an operator."""

    __tablename__ = "privacy_zones"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(sa.String(60))
    lat: Mapped[float] = mapped_column(sa.Double)
    lon: Mapped[float] = mapped_column(sa.Double)
    radius_m: Mapped[float] = mapped_column(sa.Double)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessLogEntry(Base):
    """Each time something other than the person read their data: another device's export, an aggregate
    that counted them, an administrator's action."""

    __tablename__ = "access_log"
    __table_args__ = (sa.Index("ix_access_log_user_id_at", "user_id", "at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(60))
    reason: Mapped[str] = mapped_column(sa.String(300))


class Import(Base):
    """A file of location history a person uploaded, and how its import went."""

    __tablename__ = "imports"
    __table_args__ = (sa.Index("ix_imports_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(sa.String(16))  # received | checking | storing | done | failed
    filename: Mapped[str] = mapped_column(sa.String(255))
    format: Mapped[str | None] = mapped_column(sa.String(32))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    points_read: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    points_accepted: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    activities: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The process running the import (host:pid:nonce) notes it is alive every few seconds; an import under
    # way whose process is gone, or not heard from for long, was cut short (see app/imports/service.py).
    runner: Mapped[str | None] = mapped_column(sa.String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True once the staged points began moving into the history: from then on the import is finished,
    # never undone, even after a crash.
    publishing: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class StagedPoint(Base):
    """A point of an import under way. Imports are stored here in short transactions (other writers get
    in between), then moved to `location_points` when the whole file is in; a failed import's staged
    points are deleted, so the person's history gets all of a file or none of it."""

    __tablename__ = "import_staged_points"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["user_id", "import_id"],
            ["imports.user_id", "imports.id"],
            ondelete="CASCADE",
            name="fk_import_staged_points_import_imports",
        ),
        {"sqlite_with_rowid": False},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    import_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Double)
    lon: Mapped[float] = mapped_column(sa.Double)
    accuracy_m: Mapped[float | None] = mapped_column(sa.REAL)
    altitude_m: Mapped[float | None] = mapped_column(sa.REAL)
    speed_mps: Mapped[float | None] = mapped_column(sa.REAL)
    heading_deg: Mapped[float | None] = mapped_column(sa.REAL)


class StagedActivity(Base):
    """A motion-activity hint of an import under way (see :class:`StagedPoint`)."""

    __tablename__ = "import_staged_activities"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["user_id", "import_id"],
            ["imports.user_id", "imports.id"],
            ondelete="CASCADE",
            name="fk_import_staged_activities_import_imports",
        ),
        {"sqlite_with_rowid": False},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    import_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    activity_type: Mapped[str] = mapped_column(sa.String(16))
    confidence: Mapped[int | None] = mapped_column(sa.SmallInteger)


class ZoneSet(Base):
    """A way of dividing the territory: the built-in 500 m grid, or polygons an operator uploaded."""

    __tablename__ = "zone_sets"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # grid | polygons
    cell_m: Mapped[int | None] = mapped_column(sa.Integer)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("operators.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The administrator's partition of the territory: published exactly each month (app/statistics/publications.py).
    official: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class Zone(Base):
    __tablename__ = "zones"
    __table_args__ = (sa.UniqueConstraint("zone_set_id", "code", name="uq_zones_zone_set_id_code"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    zone_set_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # GeoJSON Polygon or MultiPolygon, WGS 84
    parent: Mapped[str | None] = mapped_column(sa.String(64))  # the larger zone (commune) this one is in


class Rollup(Base):
    """A person's shared travel of one local hour, per mode and origin-destination zones of one zone set.

    Maintained by the worker when trips are written and by corrections, so that the operator's queries are
    grouped reads whose cost follows people and days, not trips. Only trips made while the person had
    granted `territory_statistics` are here, cut by their privacy zones; queries also require the consent
    to stand now, so a revocation excludes the person at once.
    """

    __tablename__ = "rollups"
    __table_args__ = (
        sa.Index("ix_rollups_zone_set_id_day", "zone_set_id", "day"),
        sa.Index("ix_rollups_user_id_day", "user_id", "day"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # A random id rather than a counter: SQLite numbers only a key of one column, and a sequence would be
    # one more thing every person's writes share.
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    zone_set_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"))
    day: Mapped[int] = mapped_column(sa.Integer)  # local date as YYYYMMDD
    hour: Mapped[int] = mapped_column(sa.SmallInteger)  # local hour of the trip's start
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)  # 0 = Monday
    mode: Mapped[str] = mapped_column(sa.String(16))
    origin_zone: Mapped[str | None] = mapped_column(sa.String(64))
    dest_zone: Mapped[str | None] = mapped_column(sa.String(64))
    trips: Mapped[int] = mapped_column(sa.Integer)  # counted under the trip's main mode only
    distance_m: Mapped[float] = mapped_column(sa.Double)
    co2e_g: Mapped[float] = mapped_column(sa.Double)


class PrivacyMonth(Base):
    """The ε spent on one local month of people's data, by every differentially private release that
    counted it, whoever asked. The lifetime budget of a month (`COACHCO2_DP_MONTH_EPSILON`) is never renewed."""

    __tablename__ = "privacy_months"

    month: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # local month as YYYYMM
    epsilon_spent: Mapped[float] = mapped_column(sa.Double, default=0.0)


class PrivacyRelease(Base):
    """A differentially private answer, computed once and kept: the same question gets it again at no cost.

    `question` is a digest of the endpoint and its normalised parameters; `months` the local months of data
    it was charged to (each `epsilon`); `body` the answer as published."""

    __tablename__ = "privacy_releases"
    __table_args__ = (sa.Index("ix_privacy_releases_created_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    question: Mapped[str] = mapped_column(sa.String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    epsilon: Mapped[float] = mapped_column(sa.Double)
    months: Mapped[list[int]] = mapped_column(sa.JSON)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("operators.id", ondelete="SET NULL")
    )
    operator_name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class Publication(Base):
    """An exact, k-anonymous publication of one whole local month over an official zone set, made once
    the month is over and frozen: its tables never change (see app/statistics/publications.py)."""

    __tablename__ = "publications"
    __table_args__ = (sa.UniqueConstraint("zone_set_id", "month", name="uq_publications_zone_set_id_month"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    zone_set_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"))
    month: Mapped[int] = mapped_column(sa.Integer)  # local month as YYYYMM
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class RollupMonthly(Base):
    """The same figures per person, zone set, local month and mode, summed from `Rollup`.

    Monthly releases read this table, so their cost follows people and months, not trips."""

    __tablename__ = "rollups_monthly"
    __table_args__ = (
        sa.Index("ix_rollups_monthly_zone_set_id_month", "zone_set_id", "month"),
        sa.Index("ix_rollups_monthly_user_id_month", "user_id", "month"),
    )

    # One row per person, zone set, local month and mode (the sum's grouping): that is its key.
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    zone_set_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)  # local YYYYMM
    mode: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    trips: Mapped[int] = mapped_column(sa.Integer)
    distance_m: Mapped[float] = mapped_column(sa.Double)
    co2e_g: Mapped[float] = mapped_column(sa.Double)


class StatsCell(Base):
    """The territory's monthly totals per zone set, local month and mode (`mode` "" for all modes), as a
    monthly release bounds them: each consenting person-month's contribution scaled down to the caps and
    floored to whole units (milli-trips, metres, grams), summed; `people` counts the person-months behind.

    Kept up to date with every change to a person's monthly rollups, consent or account, so that a release
    over whole months reads cells and months, not people or trips. `shard` (from the person's id) spreads
    the updates of people processed at the same moment over several rows; a read sums the shards."""

    __tablename__ = "stats_cells"

    zone_set_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # local month as YYYYMM
    mode: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    people: Mapped[int] = mapped_column(sa.Integer)
    milli_trips: Mapped[int] = mapped_column(sa.BigInteger)
    distance_m: Mapped[int] = mapped_column(sa.BigInteger)
    co2e_g: Mapped[int] = mapped_column(sa.BigInteger)


class StatsPersonMonth(Base):
    """The local months in which a person has monthly rollups over a zone set: who a release over whole
    months counts (for their access log), read without the rollups."""

    __tablename__ = "stats_person_months"
    __table_args__ = (sa.Index("ix_stats_person_months_zone_set_id_month", "zone_set_id", "month"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    zone_set_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("zone_sets.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # local month as YYYYMM


class TransitFeed(Base):
    """A public transport network the territory's operator published (a GTFS feed), by name."""

    __tablename__ = "transit_feeds"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stops: Mapped[int] = mapped_column(sa.Integer)
    routes: Mapped[int] = mapped_column(sa.Integer)
    min_lat: Mapped[float] = mapped_column(sa.Double)
    min_lon: Mapped[float] = mapped_column(sa.Double)
    max_lat: Mapped[float] = mapped_column(sa.Double)
    max_lon: Mapped[float] = mapped_column(sa.Double)


class TransitStopRow(Base):
    """A stop of a feed that a bus, tram, metro, train or ferry line serves (see `app.transit`).

    `kinds` holds the kinds of service as bits; `routes` the ids of the lines calling there, as a JSON
    list. The pipeline reads the stops around a person's points through the (lat, lon) index."""

    __tablename__ = "transit_stops"
    __table_args__ = (sa.Index("ix_transit_stops_lat_lon", "lat", "lon"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    feed_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("transit_feeds.id", ondelete="CASCADE"))
    stop_id: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(255))
    lat: Mapped[float] = mapped_column(sa.Double)
    lon: Mapped[float] = mapped_column(sa.Double)
    kinds: Mapped[int] = mapped_column(sa.Integer)
    routes: Mapped[str] = mapped_column(sa.Text)


class OpenpathOpcode(Base):
    """An OpenPATH app's sign-in code (`nrelop_<study>_<subgroup>_<random>`): a person's credential for
    the OpenPATH routes (app/openpath). Only its SHA-256 is kept, like a token's. Issued by the deployment
    with no person yet; `POST /profile/create` with it creates the account. Revoked codes stop working;
    the row goes with the person when they erase their data."""

    __tablename__ = "openpath_opcodes"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    opcode_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    study: Mapped[str] = mapped_column(sa.String(64))
    subgroup: Mapped[str | None] = mapped_column(sa.String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the app keeps in its profile (device, app version, reminder choices): a bounded JSON object.
    profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class OpenpathInput(Base):
    """A label or survey answer entered in the OpenPATH app (`manual/mode_confirm`, ...), as sent.

    `label` is the app's value (`drove_alone`); the entry is served back to the app as it came. The
    pipeline applies it to the trip that overlaps `start_ts_ms`..`end_ts_ms` most (see
    app/openpath/labels.py): `trip_id` is that trip (no foreign key: trips are rebuilt under the same
    id), `status` what became of it (pending, applied, unknown-label, not-a-trip, stored)."""

    __tablename__ = "openpath_inputs"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key", "write_ts_ms", "start_ts_ms", name="uq_openpath_inputs_entry"),
        sa.Index("ix_openpath_inputs_user_id_write_ts_ms", "user_id", "write_ts_ms"),
        sa.Index("ix_openpath_inputs_user_id_start_ts_ms", "user_id", "start_ts_ms"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(sa.String(64))
    write_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    start_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    end_ts_ms: Mapped[int] = mapped_column(sa.BigInteger)
    label: Mapped[str | None] = mapped_column(sa.String(100))
    entry: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # {"metadata": {...}, "data": {...}}
    trip_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
