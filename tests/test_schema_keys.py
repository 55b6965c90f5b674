"""The store can be split by person (docs/scaling.md): every table of a person's data is keyed by the
person's id, and the references between those tables carry it. Checked on the models and on databases
built by the migrations, and the migration that brought the keys keeps every row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from app.core.db import create_engine
from app.core.migrate import alembic_config, downgrade_connection, upgrade_connection
from app.models import Base
from app.settings import Settings
from app.statistics.zones import GRID_ID

#: The person: a person's tables refer to it by `user_id`.
PEOPLE = "users"
#: The territory's tables: what everyone's data is computed with and what operators publish. Nothing of
#: one person is in them, so they have no `user_id`; split by person, each node holds all of them.
GLOBAL = frozenset(
    {
        "operators",
        "operator_actions",
        "territory_factors",
        "zone_sets",
        "zones",
        "transit_feeds",
        "transit_stops",
        "privacy_months",
        "privacy_releases",
        "publications",
        "stats_cells",
    }
)
#: Secrets found by their hash before anyone is known, then naming whose they are (a person's, an
#: operator's, or nobody's yet): keyed by the secret, not by the person.
DIRECTORIES = {"api_tokens": "token_hash", "openpath_opcodes": "opcode_hash"}


@dataclass(frozen=True)
class Shape:
    columns: dict[str, bool]  # name: nullable
    key: tuple[str, ...]
    uniques: list[tuple[str, ...]]
    references: list[tuple[tuple[str, ...], str, tuple[str, ...]]]  # columns, table, its columns


def shapes_of_metadata(metadata: sa.MetaData) -> dict[str, Shape]:
    shapes = {}
    for table in metadata.tables.values():
        uniques = [
            tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, sa.UniqueConstraint)
        ]
        uniques += [
            tuple(c.name for c in i.columns if isinstance(c, sa.Column)) for i in table.indexes if i.unique
        ]
        references = [
            (
                tuple(c.name for c in fk.columns),
                fk.elements[0].column.table.name,
                tuple(e.column.name for e in fk.elements),
            )
            for fk in table.foreign_key_constraints
        ]
        shapes[table.name] = Shape(
            {c.name: bool(c.nullable) for c in table.columns},
            tuple(c.name for c in table.primary_key.columns),
            uniques,
            references,
        )
    return shapes


def shapes_of_database(sync_conn: sa.Connection) -> dict[str, Shape]:
    inspector = sa.inspect(sync_conn)
    shapes = {}
    for name in set(inspector.get_table_names()) - {"alembic_version"}:
        uniques = [tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)]
        uniques += [tuple(i["column_names"]) for i in inspector.get_indexes(name) if i["unique"]]
        references = [
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(name)
        ]
        shapes[name] = Shape(
            {c["name"]: bool(c["nullable"]) for c in inspector.get_columns(name)},
            tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
            uniques,
            references,
        )
    return shapes


def violations(shapes: dict[str, Shape]) -> list[str]:
    """What breaks the rule, in words; empty when the schema keeps it."""
    found: list[str] = []
    named = {PEOPLE, *GLOBAL, *DIRECTORIES}
    found += [f"{name} is listed but does not exist" for name in sorted(named - set(shapes))]
    personal = {name for name, s in shapes.items() if name not in named and "user_id" in s.columns}
    for name in sorted(set(shapes) - named - personal):
        found.append(f"{name} has no user_id and is not one of the territory's tables")

    if PEOPLE in shapes and shapes[PEOPLE].key != ("id",):
        found.append(f"{PEOPLE} is keyed by {shapes[PEOPLE].key}, not by the person's id")
    for name in sorted(personal):
        shape = shapes[name]
        if shape.columns["user_id"]:
            found.append(f"{name}.user_id may be null")
        if shape.key[:1] != ("user_id",):
            found.append(f"{name} is keyed by {shape.key}, which does not begin with user_id")
        for unique in shape.uniques:
            if "user_id" not in unique:
                found.append(f"{name} has a unique {unique} without user_id")
        for columns, referred, referred_columns in shape.references:
            pairs = dict(zip(referred_columns, columns, strict=True))
            if referred == PEOPLE:
                if (columns, referred_columns) != (("user_id",), ("id",)):
                    found.append(f"{name} refers to {PEOPLE} by {columns}, not by user_id")
            elif referred in personal:
                if pairs.get("user_id") != "user_id":
                    found.append(f"{name} refers to {referred} by {columns}, without the person's user_id")
            elif referred not in GLOBAL:
                found.append(f"{name} refers to {referred}, neither the person's nor the territory's")
    for name in sorted(GLOBAL & set(shapes)):
        shape = shapes[name]
        if "user_id" in shape.columns:
            found.append(f"{name} is the territory's but has a user_id")
        for _, referred, _ in shape.references:
            if referred not in GLOBAL:
                found.append(f"{name} is the territory's but refers to {referred}")
    for name, secret in sorted(DIRECTORIES.items()):
        shape = shapes.get(name)
        if shape is None:
            continue
        if (secret,) not in shape.uniques:
            found.append(f"{name} is not found by {secret} alone")
        for columns, referred, _ in shape.references:
            if referred not in GLOBAL | {PEOPLE}:
                found.append(f"{name} refers to {referred} by {columns}")
    for name, shape in sorted(shapes.items()):
        for _, referred, _ in shape.references:
            if referred in DIRECTORIES and name not in DIRECTORIES:
                found.append(f"{name} refers to the directory {referred}")
    return found


def test_every_table_of_a_persons_data_is_keyed_by_the_person() -> None:
    shapes = shapes_of_metadata(Base.metadata)
    assert violations(shapes) == []
    # the person's tables are all the others: a new table must take a side
    personal = set(shapes) - {PEOPLE, *GLOBAL, *DIRECTORIES}
    assert {"location_points", "trips", "legs", "imports", "import_staged_points", "rollups"} <= personal


def test_the_rule_names_what_breaks_it() -> None:
    metadata = sa.MetaData()
    sa.Table("users", metadata, sa.Column("id", sa.Uuid, primary_key=True))
    sa.Table("zone_sets", metadata, sa.Column("id", sa.Uuid, primary_key=True))
    sa.Table(
        "trips",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    )
    sa.Table(
        "legs",
        metadata,
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("trip_id", sa.Uuid, sa.ForeignKey("trips.id")),
        sa.Column("code", sa.String(8), unique=True),
    )
    sa.Table("notes", metadata, sa.Column("id", sa.Uuid, primary_key=True))
    sa.Table(
        "zones",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id")),
        sa.Column("zone_set_id", sa.Uuid, sa.ForeignKey("zone_sets.id")),
    )
    found = violations(shapes_of_metadata(metadata))
    assert "trips is keyed by ('id',), which does not begin with user_id" in found
    assert "legs refers to trips by ('trip_id',), without the person's user_id" in found
    assert "legs has a unique ('code',) without user_id" in found
    assert "notes has no user_id and is not one of the territory's tables" in found
    assert "zones is the territory's but has a user_id" in found
    assert "zones is the territory's but refers to users" in found
    assert "api_tokens is listed but does not exist" in found


async def test_the_migrated_database_keeps_the_rule(empty_database_url: str) -> None:
    engine = create_engine(Settings(database_url=empty_database_url))
    try:
        async with engine.connect() as conn:
            await upgrade_connection(conn)
            await conn.commit()
            shapes = await conn.run_sync(shapes_of_database)
    finally:
        await engine.dispose()
    assert violations(shapes) == []
    expected = shapes_of_metadata(Base.metadata)
    assert {name: (s.key, sorted(s.references)) for name, s in shapes.items()} == {
        name: (s.key, sorted(s.references)) for name, s in expected.items()
    }


# -- the migration that brought the keys, on a database holding a person's data --

KEYS_REVISION = "0016"


def _before_keys() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision(KEYS_REVISION)
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _rows(
    alice: uuid.UUID, bob: uuid.UUID, trip: uuid.UUID, imported: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    """A few rows of every table whose key changes, as the tables were before the change."""
    ms = int(AT.timestamp() * 1000)
    # fmt: off
    leg = {"seq": 0, "start_ts_ms": ms, "end_ts_ms": ms + 600_000, "mode": "bike", "mode_source": "inferred",
           "inferred_mode": "bike", "confidence": 0.9, "distance_m": 2500.0, "great_circle_m": 2100.0,
           "co2e_g": 0.0, "factor_set": "ademe-2026-07", "factor_g_per_km": 0.0, "point_count": 40,
           "geometry": [[-1.15, 46.16], [-1.14, 46.17]]}
    return {
        "users": [{"id": alice, "created_at": AT}, {"id": bob, "created_at": AT}],
        "trips": [
            {"id": trip, "user_id": alice, "status": "closed", "start_ts_ms": ms, "end_ts_ms": ms + 900_000,
             "start_lat": 46.16, "start_lon": -1.15, "end_lat": 46.17, "end_lon": -1.14, "distance_m": 3000.0,
             "co2e_g": 12.5, "updated_at": AT},
        ],
        "legs": [
            {"id": uuid.uuid4(), "trip_id": trip, "user_id": alice, **leg},
            {"id": uuid.uuid4(), "trip_id": trip, "user_id": alice, **leg, "seq": 1, "mode": "walk"},
        ],
        "imports": [
            {"id": imported, "user_id": alice, "status": "storing", "filename": "records.json",
             "size_bytes": 1234, "created_at": AT},
        ],
        "import_staged_points": [
            {"user_id": alice, "import_id": imported, "ts_ms": ms + i, "lat": 46.16, "lon": -1.15} for i in range(3)
        ],
        "import_staged_activities": [
            {"user_id": alice, "import_id": imported, "ts_ms": ms, "activity_type": "on_bicycle"}
        ],
        "consent_events": [
            {"id": uuid.uuid4(), "user_id": alice, "purpose": "territory_statistics", "granted": True, "at": AT,
             "receipt": {"purpose": "territory_statistics"}},
        ],
        "privacy_zones": [
            {"id": uuid.uuid4(), "user_id": alice, "label": "home", "lat": 46.16, "lon": -1.15, "radius_m": 300.0,
             "created_at": AT},
        ],
        "access_log": [
            {"id": uuid.uuid4(), "user_id": bob, "at": AT, "actor": "operator", "action": "aggregate",
             "reason": "statistics"},
        ],
        "openpath_inputs": [
            {"id": uuid.uuid4(), "user_id": alice, "key": "manual/mode_confirm", "write_ts_ms": ms,
             "start_ts_ms": ms, "end_ts_ms": ms + 900_000, "label": "bike", "entry": {"data": {}},
             "status": "applied"},
        ],
        "rollups": [
            {"user_id": person, "zone_set_id": GRID_ID, "day": 20260302, "hour": 9, "weekday": 0, "mode": mode,
             "origin_zone": "a", "dest_zone": None, "trips": 1, "distance_m": 3000.0, "co2e_g": 12.5}
            for person in (alice, bob) for mode in ("bike", "walk")
        ],
        "rollups_monthly": [
            {"user_id": person, "zone_set_id": GRID_ID, "month": 202603, "mode": mode, "trips": 1,
             "distance_m": 3000.0, "co2e_g": 12.5}
            for person in (alice, bob) for mode in ("bike", "walk")
        ],
    }
    # fmt: on


def _insert(sync_conn: sa.Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Write the rows through the tables as the database has them (not as the models now say)."""
    metadata = sa.MetaData()
    metadata.reflect(sync_conn, only=list(rows))
    sqlite = sync_conn.dialect.name == "sqlite"

    def stored(value: Any) -> Any:
        return value.hex if sqlite and isinstance(value, uuid.UUID) else value

    for name, table_rows in rows.items():
        sync_conn.execute(
            metadata.tables[name].insert(), [{k: stored(v) for k, v in row.items()} for row in table_rows]
        )


def _read(sync_conn: sa.Connection, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables, sorted, as the database has them, with UUIDs as UUIDs."""
    metadata = sa.MetaData()
    metadata.reflect(sync_conn, only=names)

    def plain(value: Any) -> Any:
        if isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value):
            return uuid.UUID(value)
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value

    out = {}
    for name in names:
        table = metadata.tables[name]
        keep = [c for c in table.columns if c.name != "id" or not name.startswith("rollups")]
        rows = sync_conn.execute(sa.select(*keep)).all()
        out[name] = sorted((tuple(plain(v) for v in row) for row in rows), key=repr)
    return out


async def test_the_keys_migration_keeps_every_row_both_ways(empty_database_url: str) -> None:
    alice, bob, trip, imported = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = _rows(alice, bob, trip, imported)
    names = list(rows)
    engine = create_engine(Settings(database_url=empty_database_url))
    try:
        async with engine.connect() as conn:
            await upgrade_connection(conn, _before_keys())
            await conn.run_sync(_insert, rows)
            await conn.commit()
            before = await conn.run_sync(_read, names)
            old_rollup_ids = set(await conn.scalars(sa.text("SELECT id FROM rollups")))
            assert all(len(before[name]) == len(rows[name]) for name in names)

            await upgrade_connection(conn)
            await conn.commit()
            assert await conn.run_sync(_read, names) == before
            # the daily rollups' numbers became UUIDs with the same value
            rollups = Base.metadata.tables["rollups"]
            assert {u.int for u in await conn.scalars(sa.select(rollups.c.id))} == old_rollup_ids

            await downgrade_connection(conn, _before_keys())
            await conn.commit()
            assert await conn.run_sync(_read, names) == before

            await upgrade_connection(conn)
            await conn.commit()
            assert await conn.run_sync(_read, names) == before

            # A leg can only belong to a trip of the same person...
            legs, trips = Base.metadata.tables["legs"], Base.metadata.tables["trips"]
            stray = {**rows["legs"][0], "id": uuid.uuid4(), "user_id": bob}
            with pytest.raises(IntegrityError):
                async with conn.begin_nested():
                    await conn.execute(legs.insert().values(**stray))
            # ...and goes with it.
            await conn.execute(trips.delete().where(trips.c.user_id == alice, trips.c.id == trip))
            assert await conn.scalar(sa.select(sa.func.count()).select_from(legs)) == 0
            await conn.rollback()
    finally:
        await engine.dispose()
