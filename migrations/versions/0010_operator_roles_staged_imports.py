"""Operators' roles (administrator or analyst) and the record of the changes they make; imports staged in
short transactions, with a heartbeat of the process that runs them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("operator_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_operator_actions_operator_id_operators",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
    )
    op.create_index("ix_operator_actions_at", "operator_actions", ["at"])
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("runner", sa.String(120), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("publishing", sa.Boolean(), nullable=False, server_default=sa.false()))
    for table, columns in (
        (
            "import_staged_points",
            [
                sa.Column("lat", sa.Double(), nullable=False),
                sa.Column("lon", sa.Double(), nullable=False),
                sa.Column("accuracy_m", sa.REAL(), nullable=True),
                sa.Column("altitude_m", sa.REAL(), nullable=True),
                sa.Column("speed_mps", sa.REAL(), nullable=True),
                sa.Column("heading_deg", sa.REAL(), nullable=True),
            ],
        ),
        (
            "import_staged_activities",
            [
                sa.Column("activity_type", sa.String(16), nullable=False),
                sa.Column("confidence", sa.SmallInteger(), nullable=True),
            ],
        ),
    ):
        op.create_table(
            table,
            sa.Column("user_id", sa.Uuid(), nullable=False),
            sa.Column("import_id", sa.Uuid(), nullable=False),
            sa.Column("ts_ms", sa.BigInteger(), nullable=False),
            *columns,
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
            ),
            sa.ForeignKeyConstraint(
                ["import_id"], ["imports.id"], name=f"fk_{table}_import_id_imports", ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("user_id", "import_id", "ts_ms", name=f"pk_{table}"),
            sqlite_with_rowid=False,
        )


def downgrade() -> None:
    op.drop_table("import_staged_activities")
    op.drop_table("import_staged_points")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("publishing")
        batch.drop_column("heartbeat_at")
        batch.drop_column("runner")
    op.drop_index("ix_operator_actions_at", table_name="operator_actions")
    op.drop_table("operator_actions")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("role")
