"""The OpenPATH app's sign-in codes (with the profile the app keeps) and the labels people enter in it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openpath_opcodes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opcode_hash", sa.String(64), nullable=False),
        sa.Column("study", sa.String(64), nullable=False),
        sa.Column("subgroup", sa.String(64), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_openpath_opcodes_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_openpath_opcodes"),
        sa.UniqueConstraint("opcode_hash", name="uq_openpath_opcodes_opcode_hash"),
    )
    op.create_index("ix_openpath_opcodes_user_id", "openpath_opcodes", ["user_id"])
    op.create_table(
        "openpath_inputs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("write_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("start_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("trip_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_openpath_inputs_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_openpath_inputs"),
        sa.UniqueConstraint("user_id", "key", "write_ts_ms", "start_ts_ms", name="uq_openpath_inputs_entry"),
    )
    op.create_index("ix_openpath_inputs_user_id_write_ts_ms", "openpath_inputs", ["user_id", "write_ts_ms"])
    op.create_index("ix_openpath_inputs_user_id_start_ts_ms", "openpath_inputs", ["user_id", "start_ts_ms"])


def downgrade() -> None:
    op.drop_table("openpath_inputs")
    op.drop_table("openpath_opcodes")
