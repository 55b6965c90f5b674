"""The territory's monthly totals kept up to date, so that a release over whole months reads cells, not
people or trips: `stats_cells` (per zone set, local month and mode, the capped contributions of the
consenting person-months, summed) and `stats_person_months` (who has rollups in which month).

Both are filled from the monthly rollups already held, with the arithmetic of
`app.statistics.privacy.capped_units` (each person-month scaled down to the caps, floored to whole units).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The caps and units of a release when this revision was written (app/statistics/disclosure.py, privacy.py).
LIMITS = np.array([60.0, 1_500_000.0, 200_000.0])
PER_UNIT = np.array([1000.0, 1.0, 1.0])
SHARDS = 16


def upgrade() -> None:
    op.create_table(
        "stats_cells",
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("milli_trips", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.BigInteger(), nullable=False),
        sa.Column("co2e_g", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_set_id"], ["zone_sets.id"], name="fk_stats_cells_zone_set_id_zone_sets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("zone_set_id", "month", "mode", "shard", name="pk_stats_cells"),
    )
    op.create_table(
        "stats_person_months",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_stats_person_months_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["zone_set_id"],
            ["zone_sets.id"],
            name="fk_stats_person_months_zone_set_id_zone_sets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "zone_set_id", "month", name="pk_stats_person_months"),
    )
    op.create_index(
        "ix_stats_person_months_zone_set_id_month", "stats_person_months", ["zone_set_id", "month"]
    )
    op.execute(
        "INSERT INTO stats_person_months (user_id, zone_set_id, month) "
        "SELECT DISTINCT user_id, zone_set_id, month FROM rollups_monthly"
    )
    _fill_cells()


def _fill_cells() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT r.user_id, r.zone_set_id, r.month, r.mode, SUM(r.trips), SUM(r.distance_m), SUM(r.co2e_g) "
            "FROM rollups_monthly r JOIN consents c ON c.user_id = r.user_id "
            "AND c.purpose = 'territory_statistics' AND c.granted "
            "GROUP BY r.user_id, r.zone_set_id, r.month, r.mode"
        )
    ).all()
    if not rows:
        return
    import uuid

    def as_uuid(value: object) -> uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

    units: dict[tuple[uuid.UUID, uuid.UUID, int], int] = {}
    unit = np.array([units.setdefault((as_uuid(r[0]), as_uuid(r[1]), int(r[2])), len(units)) for r in rows])
    raw = np.array([[float(r[4] or 0), float(r[5] or 0), float(r[6] or 0)] for r in rows]).reshape(-1, 3)
    sums = np.zeros((len(units), 3))
    np.add.at(sums, unit, raw)

    def capped(values: np.ndarray, which: np.ndarray) -> np.ndarray:
        values = np.clip(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
        totals = np.zeros((int(which.max()) + 1, 3))
        np.add.at(totals, which, values)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(totals > LIMITS, LIMITS / totals, 1.0)
        return np.floor(values * scale[which] * PER_UNIT + 1e-6).astype(np.int64)

    per_mode = capped(raw, unit)
    per_month = capped(sums, np.arange(len(units)))
    cells: dict[tuple[str, int, str, int], list[int]] = {}
    keys = list(units)
    for i, r in enumerate(rows):
        user, zone_set, month = keys[unit[i]]
        cell = cells.setdefault((str(zone_set), month, str(r[3]), user.int % SHARDS), [0, 0, 0, 0])
        cell[0] += 1
        for j in range(3):
            cell[j + 1] += int(per_mode[i, j])
    for u, (user, zone_set, month) in enumerate(keys):
        cell = cells.setdefault((str(zone_set), month, "", user.int % SHARDS), [0, 0, 0, 0])
        cell[0] += 1
        for j in range(3):
            cell[j + 1] += int(per_month[u, j])
    table = sa.table(
        "stats_cells",
        sa.column("zone_set_id", sa.Uuid()),
        sa.column("month", sa.Integer()),
        sa.column("mode", sa.String()),
        sa.column("shard", sa.SmallInteger()),
        sa.column("people", sa.Integer()),
        sa.column("milli_trips", sa.BigInteger()),
        sa.column("distance_m", sa.BigInteger()),
        sa.column("co2e_g", sa.BigInteger()),
    )
    op.bulk_insert(
        table,
        [
            {"zone_set_id": uuid.UUID(z), "month": m, "mode": mode, "shard": s, "people": v[0],
             "milli_trips": v[1], "distance_m": v[2], "co2e_g": v[3]}
            for (z, m, mode, s), v in sorted(cells.items())
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_stats_person_months_zone_set_id_month", table_name="stats_person_months")
    op.drop_table("stats_person_months")
    op.drop_table("stats_cells")
