"""The person's id first in the key of every table of a person's data, and in the references between them.

Trips, legs, imports, consent events, privacy zones, the access log, OpenPATH inputs and the daily rollups
are keyed `(user_id, id)`; a leg points at its trip, and a staged point or activity at its import, through
`(user_id, ...)`. The monthly rollups are keyed by what they sum over, `(user_id, zone_set_id, month,
mode)`, their counter gone; the daily rollups' counter becomes a random id (SQLite numbers only a key of
one column), written from the old number so that it stays unique. Then every row of a person is found from
their id, and the store can be split by person (docs/scaling.md).

SQLite cannot alter a key: those tables are built again with every row copied. A table another one refers
to (trips, imports) is dropped only after the tables that refer to it were set aside, so that dropping it
cascades to nothing; foreign keys stay on throughout, and the whole revision is one transaction.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose key was `id` alone and becomes `(user_id, id)`.
BY_PERSON_AND_ID = (
    "trips",
    "legs",
    "consent_events",
    "privacy_zones",
    "access_log",
    "imports",
    "openpath_inputs",
)
STAGED = ("import_staged_points", "import_staged_activities")
MONTHLY_KEY = ["user_id", "zone_set_id", "month", "mode"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(up=True)
    else:
        _postgresql_up()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(up=False)
    else:
        _postgresql_down()


# PostgreSQL: keys and references altered in place.


def _postgresql_up() -> None:
    op.drop_constraint("fk_legs_trip_id_trips", "legs", type_="foreignkey")
    for table in STAGED:
        op.drop_constraint(f"fk_{table}_import_id_imports", table, type_="foreignkey")
    for table in BY_PERSON_AND_ID:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["user_id", "id"])
    op.create_foreign_key(
        "fk_legs_trip_trips", "legs", "trips", ["user_id", "trip_id"], ["user_id", "id"], ondelete="CASCADE"
    )
    for table in STAGED:
        op.create_foreign_key(
            f"fk_{table}_import_imports",
            table,
            "imports",
            ["user_id", "import_id"],
            ["user_id", "id"],
            ondelete="CASCADE",
        )
    op.drop_index("ix_legs_trip_id_seq", table_name="legs")
    op.create_index("ix_legs_user_id_trip_id_seq", "legs", ["user_id", "trip_id", "seq"])
    op.drop_index("ix_privacy_zones_user_id", table_name="privacy_zones")

    op.drop_constraint("pk_rollups", "rollups", type_="primary")
    op.execute("ALTER TABLE rollups ALTER COLUMN id DROP DEFAULT")
    op.execute("ALTER TABLE rollups ALTER COLUMN id TYPE uuid USING lpad(to_hex(id), 32, '0')::uuid")
    op.execute("DROP SEQUENCE IF EXISTS rollups_id_seq")
    op.create_primary_key("pk_rollups", "rollups", ["user_id", "id"])

    op.drop_constraint("pk_rollups_monthly", "rollups_monthly", type_="primary")
    op.drop_column("rollups_monthly", "id")
    op.create_primary_key("pk_rollups_monthly", "rollups_monthly", MONTHLY_KEY)


def _postgresql_down() -> None:
    op.drop_constraint("pk_rollups_monthly", "rollups_monthly", type_="primary")
    op.execute("ALTER TABLE rollups_monthly ADD COLUMN id BIGSERIAL NOT NULL")
    op.create_primary_key("pk_rollups_monthly", "rollups_monthly", ["id"])

    op.drop_constraint("pk_rollups", "rollups", type_="primary")
    op.drop_column("rollups", "id")
    op.execute("ALTER TABLE rollups ADD COLUMN id BIGSERIAL NOT NULL")
    op.create_primary_key("pk_rollups", "rollups", ["id"])

    op.create_index("ix_privacy_zones_user_id", "privacy_zones", ["user_id"])
    op.drop_index("ix_legs_user_id_trip_id_seq", table_name="legs")
    op.create_index("ix_legs_trip_id_seq", "legs", ["trip_id", "seq"])
    for table in STAGED:
        op.drop_constraint(f"fk_{table}_import_imports", table, type_="foreignkey")
    op.drop_constraint("fk_legs_trip_trips", "legs", type_="foreignkey")
    for table in BY_PERSON_AND_ID:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["id"])
    op.create_foreign_key("fk_legs_trip_id_trips", "legs", "trips", ["trip_id"], ["id"], ondelete="CASCADE")
    for table in STAGED:
        op.create_foreign_key(
            f"fk_{table}_import_id_imports", table, "imports", ["import_id"], ["id"], ondelete="CASCADE"
        )


# SQLite: each table built again from its reflected definition, changed, with its rows copied.


def _sqlite(*, up: bool) -> None:
    bind = op.get_bind()
    leg_fk = (["user_id", "trip_id"], "trips", ["user_id", "id"], "fk_legs_trip_trips")
    old_leg_fk = (["trip_id"], "trips", ["id"], "fk_legs_trip_id_trips")
    person_key = ["user_id", "id"]
    id_key = ["id"]

    # A parent is built again only once its children are set aside, so that dropping it cascades nowhere.
    legs = _set_aside(bind, "legs")
    _rebuild(bind, "trips", key=person_key if up else id_key)
    _put_back(
        bind,
        legs,
        key=person_key if up else id_key,
        drop_fks={(old_leg_fk if up else leg_fk)[3]},
        add_fks=[leg_fk if up else old_leg_fk],
        drop_indexes={"ix_legs_trip_id_seq" if up else "ix_legs_user_id_trip_id_seq"},
        add_indexes=[
            ("ix_legs_user_id_trip_id_seq", ["user_id", "trip_id", "seq"])
            if up
            else ("ix_legs_trip_id_seq", ["trip_id", "seq"])
        ],
    )

    staged = [_set_aside(bind, table) for table in STAGED]
    _rebuild(bind, "imports", key=person_key if up else id_key)
    for table, kept in zip(STAGED, staged, strict=True):
        new_fk = (["user_id", "import_id"], "imports", ["user_id", "id"], f"fk_{table}_import_imports")
        old_fk = (["import_id"], "imports", ["id"], f"fk_{table}_import_id_imports")
        _put_back(
            bind,
            kept,
            key=["user_id", "import_id", "ts_ms"],
            drop_fks={(old_fk if up else new_fk)[3]},
            add_fks=[new_fk if up else old_fk],
            without_rowid=True,
        )

    for table in ("consent_events", "access_log", "openpath_inputs"):
        _rebuild(bind, table, key=person_key if up else id_key)
    if up:
        _rebuild(bind, "privacy_zones", key=person_key, drop_indexes={"ix_privacy_zones_user_id"})
        # the old number, written as the 32 hexadecimal digits SQLAlchemy keeps a UUID as on SQLite
        _rebuild(
            bind,
            "rollups",
            key=person_key,
            retype={"id": (sa.CHAR(32), "printf('%032x', id)")},
        )
        _rebuild(bind, "rollups_monthly", key=MONTHLY_KEY, drop_columns={"id"})
    else:
        _rebuild(
            bind,
            "privacy_zones",
            key=id_key,
            add_indexes=[("ix_privacy_zones_user_id", ["user_id"])],
        )
        # numbered again by SQLite (the rowid of the rows as they are)
        _rebuild(bind, "rollups", key=id_key, retype={"id": (sa.Integer(), "rowid")})
        _rebuild(bind, "rollups_monthly", key=id_key, add_columns={"id": (sa.Integer(), "rowid")})


class _Kept:
    """A table's definition as it was, and the temporary copy of its rows."""

    def __init__(self, table: sa.Table, copy: str) -> None:
        self.table = table
        self.copy = copy


def _reflect(bind: sa.Connection, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=bind)


def _set_aside(bind: sa.Connection, name: str) -> _Kept:
    table = _reflect(bind, name)
    copy = f"_keys_{name}"
    op.execute(f"CREATE TEMP TABLE {copy} AS SELECT * FROM {name}")  # noqa: S608 (this module's own names)
    op.execute(f"DROP TABLE {name}")
    return _Kept(table, copy)


def _rebuild(bind: sa.Connection, name: str, **changes: Any) -> None:
    table = _reflect(bind, name)
    staging = f"_keys_new_{name}"
    _create(table, staging, source=name, **changes)
    op.execute(f"DROP TABLE {name}")
    op.execute(f"ALTER TABLE {staging} RENAME TO {name}")
    _indexes(table, name, **changes)


def _put_back(bind: sa.Connection, kept: _Kept, **changes: Any) -> None:
    name = kept.table.name
    _create(kept.table, name, source=kept.copy, **changes)
    op.execute(f"DROP TABLE {kept.copy}")
    _indexes(kept.table, name, **changes)


def _create(
    old: sa.Table,
    name: str,
    *,
    source: str,
    key: list[str],
    drop_fks: Collection[str] = (),
    add_fks: Sequence[tuple[list[str], str, list[str], str]] = (),
    drop_columns: Collection[str] = (),
    add_columns: dict[str, tuple[Any, str]] | None = None,
    retype: dict[str, tuple[Any, str]] | None = None,
    without_rowid: bool = False,
    **_index_changes: Any,
) -> None:
    """Create `name` as `old` with the changes, and copy the rows of `source` into it."""
    retype = retype or {}
    add_columns = add_columns or {}
    columns: list[sa.Column[Any]] = []
    select: list[str] = []
    for column in old.columns:
        if column.name in drop_columns:
            continue
        kind, expression = retype.get(column.name, (column.type, column.name))
        default = column.server_default.arg if isinstance(column.server_default, sa.DefaultClause) else None
        columns.append(sa.Column(column.name, kind, nullable=column.nullable, server_default=default))
        select.append(expression)
    for column_name, (kind, expression) in add_columns.items():
        columns.append(sa.Column(column_name, kind, nullable=False))
        select.append(expression)
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint(*key, name=f"pk_{old.name}")]
    for fk in old.foreign_key_constraints:
        if fk.name in drop_fks:
            continue
        constraints.append(
            sa.ForeignKeyConstraint(
                [c.name for c in fk.columns],
                [e.target_fullname for e in fk.elements],
                name=fk.name,
                ondelete=fk.ondelete,
            )
        )
    for columns_of, referred, referred_columns, fk_name in add_fks:
        constraints.append(
            sa.ForeignKeyConstraint(
                columns_of, [f"{referred}.{c}" for c in referred_columns], name=fk_name, ondelete="CASCADE"
            )
        )
    for constraint in old.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            constraints.append(
                sa.UniqueConstraint(*[c.name for c in constraint.columns], name=constraint.name)
            )
        elif isinstance(constraint, sa.CheckConstraint):
            constraints.append(sa.CheckConstraint(constraint.sqltext, name=constraint.name))
    options = {"sqlite_with_rowid": False} if without_rowid else {}
    op.create_table(name, *columns, *constraints, **options)
    names = ", ".join([c.name for c in columns])
    op.execute(f"INSERT INTO {name} ({names}) SELECT {', '.join(select)} FROM {source}")  # noqa: S608


def _indexes(
    old: sa.Table,
    name: str,
    *,
    drop_indexes: Collection[str] = (),
    add_indexes: Sequence[tuple[str, list[str]]] = (),
    **_table_changes: Any,
) -> None:
    """The table's indexes again (dropping a table drops its indexes), changed."""
    for index in old.indexes:
        if index.name in drop_indexes or index.name is None:
            continue
        where = index.dialect_options["sqlite"].get("where")
        op.create_index(
            index.name, name, [c.name for c in index.columns], unique=index.unique, sqlite_where=where
        )
    for index_name, columns in add_indexes:
        op.create_index(index_name, name, columns)
