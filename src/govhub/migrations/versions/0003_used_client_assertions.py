"""Remember private_key_jwt assertion ids in the database, shared by every web worker.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create oauth_used_assertions."""
    op.create_table(
        "oauth_used_assertions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_used_assertions")),
        sa.UniqueConstraint("client_id", "jti", name=op.f("uq_oauth_used_assertions_client_id")),
    )
    with op.batch_alter_table("oauth_used_assertions") as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_used_assertions_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    """Drop oauth_used_assertions."""
    with op.batch_alter_table("oauth_used_assertions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_used_assertions_expires_at"))
    op.drop_table("oauth_used_assertions")
